"""A blackbox probe of the team's own service is about that workload; a probe of anything else stays a dependency.

Label sets as the prometheus-blackbox-exporter chart's ServiceMonitor writes them: ``instance``
is the probed URL, ``target`` the entry's name, and ``job``/``pod``/``namespace``/``service``
are the exporter's own. Which names run in the cluster is asked of a local Kubernetes API
(evals/kube_world.py) through the real client.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.lifecycle import configured
from agents.subject_lookup import probed_workload
from evals.kube_world import serve_world
from state.alert import parse_alertmanager
from state.config import KubernetesConfig, ServiceConfig, Settings
from state.subject import probe_targets
from tools.backends.kubernetes import api_client_from
from tools.kube import kube_tools
from tools.registry import ToolRegistry, ToolSession
from tools.world import SimClock, World, WorldSpec

NOW = datetime(2026, 12, 9, 8, 3, tzinfo=UTC)
EXPORTER = {"job": "prometheus-blackbox-exporter", "service": "prometheus-blackbox-exporter",
            "namespace": "monitoring", "pod": "prometheus-blackbox-exporter-7b9f6c8d4-x2q9w",
            "container": "blackbox-exporter", "endpoint": "http"}  # fmt: skip
RELEASE = [{"version": "v1", "deployed_at": "2026-12-01T00:00:00Z"}]
WORLD = {"workloads": [{"name": "storefront", "namespace": "web", "releases": RELEASE},
                       {"name": "checkout", "namespace": "shop", "releases": RELEASE},
                       {"name": "checkout", "namespace": "shop-staging", "releases": RELEASE},
                       {"name": "partner-gateway", "namespace": "partners", "releases": RELEASE},
                       {"name": "prometheus-blackbox-exporter", "namespace": "monitoring", "releases": RELEASE}]}  # fmt: skip


def probe(**labels: str):
    payload = {"status": "firing", "alerts": [{"status": "firing", "fingerprint": "p1", "annotations": {},
               "labels": {"alertname": "BlackboxProbeFailed", "severity": "critical", **EXPORTER, **labels},
               "startsAt": "2026-12-09T08:01:41Z", "generatorURL": "http://prom/graph?g0.expr=probe_success+%3D%3D+0"}]}  # fmt: skip
    return parse_alertmanager(payload)[0]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ToolSession]:
    clock = SimClock(NOW)
    world = World(WorldSpec.model_validate(WORLD), tmp_path / "state.json", clock=clock)
    with serve_world(world, tmp_path / "kube") as url:
        config = KubernetesConfig(host=url, verify_ssl=False)
        yield ToolSession(ToolRegistry(kube_tools(lambda: api_client_from(config, "t"), clock)), agent="diagnosis")


def test_probe_targets_are_the_target_label_and_cluster_dns_hosts_only() -> None:
    assert probe_targets({"target": "storefront", "instance": "https://www.shopfront.example.com/healthz"}) == [
        ("storefront", None, "label target=storefront")
    ]
    assert [t[:2] for t in probe_targets({"instance": "http://checkout.shop:8080/health"})] == [("checkout", "shop")]
    assert [t[:2] for t in probe_targets({"instance": "checkout:8080"})] == [("checkout", None)]
    assert probe_targets({"instance": "https://api.stripe.com/v1"}) == []
    assert probe_targets({"instance": "10.0.3.7:443"}) == []


def test_a_probe_target_the_cluster_runs_is_that_workload(cluster: ToolSession) -> None:
    found = probed_workload(cluster, probe(instance="https://www.shopfront.example.com/healthz", target="storefront"))
    assert (found.subject.kind, found.subject.namespace, found.subject.name) == ("workload", "web", "storefront")
    assert found.subject.workload_kind == "Deployment" and "storefront" in found.subject.evidence["name"]
    by_dns = probed_workload(cluster, probe(instance="http://checkout.shop:8080/health"))
    assert (by_dns.subject.kind, by_dns.subject.namespace, by_dns.subject.name) == ("workload", "shop", "checkout")


def test_a_target_nothing_in_the_cluster_serves_stays_a_dependency(cluster: ToolSession) -> None:
    # the cluster runs partner-gateway, not partner-api: a name prefix is no evidence
    outside = probed_workload(cluster, probe(instance="https://partner-api.example.com", target="partner-api"))
    assert (outside.subject.kind, outside.subject.name) == ("dependency", "partner-api")
    # checkout runs in two namespaces: the bare name does not say which
    ambiguous = probed_workload(cluster, probe(instance="http://checkout:8080/health"))
    assert ambiguous.subject.kind == "dependency"
    asked = [c.args for c in cluster.calls if c.tool == "k8s_find_workload"]
    assert {"workload": "partner-api"} in asked and {"workload": "checkout"} in asked


def test_services_config_names_a_probe_target_by_label_alias_or_name() -> None:
    alert = probe(instance="https://www.shopfront.example.com/healthz", target="storefront")
    assert alert.subject.kind == "dependency"
    for name, service in (
        ("web-frontend", ServiceConfig(namespace="web", match={"target": "storefront"})),
        ("web-frontend", ServiceConfig(namespace="web", aliases=["www.shopfront.example.com"])),
        ("storefront", ServiceConfig(namespace="web")),
    ):
        subject = configured(alert, Settings(services={name: service})).subject
        assert (subject.kind, subject.namespace, subject.name) == ("workload", "web", name), service
        assert subject.evidence["name"].startswith(f"services.{name}")
    other = configured(alert, Settings(services={"checkout": ServiceConfig(namespace="shop")})).subject
    assert other.kind == "dependency"
