"""Who wrote a record, and the subject filter of ``classify_logs`` / ``trace_chain``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from state.config import LogsConfig
from tools.logs.classify import LogSummary, feed
from tools.logs.identity import Identity, from_fields, from_path, workload_of
from tools.logs.parallel import feed_parallel
from tools.logs.reader import file_blocks
from tools.logs.sources import LogSources
from tools.logs.subject import Subject
from tools.logs.tools import log_tools
from tools.registry import ToolRegistry

FORMATS = Path(__file__).resolve().parents[1] / "data" / "logs" / "formats"
WINDOW = {"source": "files", "start": "2026-11-20T02:00:00Z", "end": "2026-11-20T04:00:00Z"}


@pytest.mark.parametrize(
    ("pod", "workload"),
    [
        ("checkout-7d9f8b6c5-x2x4q", "checkout"),  # Deployment: template hash + 5 characters
        ("api-gateway-5b6d7c9f4-qq2lp", "api-gateway"),
        ("db-0", "db"),  # StatefulSet ordinal
        ("kafka-broker-12", "kafka-broker"),
        ("fluent-bit-x2x4q", "fluent-bit"),  # DaemonSet
        ("my-app-redis", "my-app-redis"),  # no controller suffix (vowels never appear in one)
        ("standalone", "standalone"),
    ],
)
def test_pod_names_resolve_to_their_workload(pod: str, workload: str) -> None:
    assert workload_of(pod) == workload


def test_kubelet_file_names_carry_the_identity() -> None:
    pods = from_path("/var/log/pods/shop_checkout-7d9f8b6c5-x2x4q_4b7e2a60-0000-4000-8000-000000000001/checkout/0.log")
    assert pods == Identity("shop", "checkout-7d9f8b6c5-x2x4q", "checkout", "checkout")
    name = "/var/log/containers/db-0_shop_postgres-" + "a" * 64 + ".log"
    assert from_path(name) == Identity("shop", "db-0", "postgres", "db")
    assert not from_path("/var/log/app/server.log")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"kubernetes": {"namespace_name": "shop", "pod_name": "cart-0", "labels": {"app": "cart"}}}, ("shop", "cart")),
        ({"k8s_namespace_name": "shop", "k8s_pod_name": "web-7d9f8b6c5-x2x4q"}, ("shop", "web")),  # Loki / OTel labels
        ({"kubernetes_namespace": "shop", "kubernetes_pod_name": "web-0"}, ("shop", "web")),
        ({"k8s.namespace.name": "shop", "k8s.deployment.name": "api", "k8s.pod.name": "api-x"}, ("shop", "api")),
        ({"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "pay"}}]}}, (None, "pay")),
        ({"__TAG__.namespace": "shop", "__TAG__.pod_name": "web-7d9f8b6c5-x2x4q"}, ("shop", "web")),
        ({"resource": {"labels": {"namespace_name": "shop", "pod_name": "web-0"}}}, ("shop", "web")),  # GKE
        ({"namespace": "shop", "app": "search"}, ("shop", "search")),
        ({"service": "billing"}, (None, "billing")),
        ({"msg": "nothing about who"}, (None, None)),
    ],
)
def test_identity_from_shipper_fields(record: dict[str, Any], expected: tuple[str | None, str | None]) -> None:
    who = from_fields(record)
    assert (who.namespace, who.workload) == expected


def _tools(owners: dict[str, str] | None = None) -> ToolRegistry:
    files = [FORMATS / name for name in ("shippers.log", "events.log", "audit.log", "docker-json-file.log")]
    return ToolRegistry(log_tools(LogSources(LogsConfig(files=files, owners=owners or {}), {})))


def test_trace_chain_counts_only_the_subjects_records() -> None:
    result = _tools().invoke("trace_chain", {**WINDOW, "namespace": "shop", "workload": "checkout", "top": 5})
    assert result.ok, result.error
    data = result.data
    assert data["counts"] == {"business": 2, "event": 1, "audit": 3, "standard": 0}
    assert data["errors"] == 1 and data["signatures"][0]["signature"] == "cart: stock service unreachable"
    chain = data["chains"][0]
    assert [e["reason"] for e in chain["events"]] == ["BackOff"]
    # the workload's own objects; a ConfigMap edit in its namespace is listed apart, linked only when the
    # workload uses it (agents/log_evidence.py asks workload_references), never by its name
    assert {a["resource"] for a in chain["audit"]} == {"deployments", "pods"}
    assert {w["resource"] for w in data["config_writes"]} == {"configmaps"}


def test_records_without_identity_count_only_from_the_subjects_own_sources() -> None:
    owned = str(FORMATS / "docker-json-file.log")
    result = _tools({owned: "shop/checkout"}).invoke("classify_logs", {**WINDOW, "workload": "checkout"})
    assert result.ok, result.error
    assert result.data["counts"]["business"] == 5 and result.data["counts"]["standard"] == 1
    assert result.data["errors"] == 3
    other = _tools({owned: "shop/payment"}).invoke("classify_logs", {**WINDOW, "workload": "checkout"})
    assert other.data["counts"]["business"] == 2 and other.data["errors"] == 1


def test_a_pod_subject_and_no_subject() -> None:
    tools = _tools()
    pod = tools.invoke("classify_logs", {**WINDOW, "pod": "payment-5b6d7c9f4-qq2lp"})
    assert pod.data["counts"]["business"] == 1 and pod.data["signatures"][0]["signature"] == "charge declined"
    everything = tools.invoke("classify_logs", WINDOW)
    assert everything.data["counts"] == {"business": 9, "event": 3, "audit": 4, "standard": 2}


def test_the_parallel_path_applies_the_subject_too() -> None:
    paths = [FORMATS / "shippers.log", FORMATS / "events.log"]
    subject = Subject(namespace="shop", workload="cart")
    one = feed(LogSummary(subject=subject), file_blocks(paths, print))
    two = feed_parallel(LogSummary(subject=subject), file_blocks(paths, print), 2, batch_bytes=256, warmup_bytes=128)
    assert one.public() == two.public() and one.errors == 2
