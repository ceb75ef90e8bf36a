"""Who an alert is about, on label sets as public rule sets deliver them (the exporter is never the subject).

Label sets are those kube-prometheus-stack / kube-prometheus, node-exporter, ingress-nginx,
Micrometer, OpenTelemetry, blackbox and datastore exporters put on a firing alert (the rule's
result labels: the subject's, plus the scraped exporter's target labels).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.lifecycle import configured
from state.alert import parse_alerts
from state.config import ServiceConfig, Settings
from state.policy import TriagePolicy
from state.subject import owner_of_pod, pod_pattern, resolve_labels, resolve_tencent

KSM = {
    "job": "kube-state-metrics",
    "service": "kube-prometheus-stack-kube-state-metrics",
    "instance": "10.42.1.28:8080",
    "endpoint": "http",
    "prometheus": "monitoring/kube-prometheus-stack-prometheus",
}
KSM_TARGET = {"pod": "kube-prometheus-stack-kube-state-metrics-6f664bc8c4-5lwq6", "container": "kube-state-metrics"}
REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"

CASES = [
    # (rule, labels, kind, name, namespace, workload kind)
    ("KubePodCrashLooping", KSM | {"namespace": "shop", "pod": "checkout-6d9f7c8b5-x2k4p", "container": "checkout",
     "reason": "CrashLoopBackOff"}, "workload", "checkout", "shop", "Deployment"),
    ("KubeDeploymentReplicasMismatch", KSM | KSM_TARGET | {"namespace": "payments", "deployment": "payments-api"},
     "workload", "payments-api", "payments", "Deployment"),
    ("KubeStatefulSetReplicasMismatch", KSM | KSM_TARGET | {"namespace": "messaging", "statefulset": "rabbitmq"},
     "workload", "rabbitmq", "messaging", "StatefulSet"),
    ("KubePodNotReady (StatefulSet pod)", KSM | {"namespace": "finance", "pod": "ledger-2"},
     "workload", "ledger", "finance", "StatefulSet"),
    ("KubeHpaMaxedOut", KSM | {"namespace": "shop", "horizontalpodautoscaler": "catalog"},
     "workload", "catalog", "shop", "Deployment"),
    ("KubeJobFailed", KSM | {"namespace": "billing", "job_name": "billing-reconcile-29930400"},
     "workload", "billing-reconcile-29930400", "billing", "Job"),
    ("KubeNodeNotReady (kube-prometheus, kube-rbac-proxy in front of ksm)",
     {"job": "kube-state-metrics", "container": "kube-rbac-proxy-main", "instance": "10.244.2.7:8443",
      "node": "worker-3", "condition": "Ready", "status": "true"}, "node", "worker-3", None, None),
    ("NodeFilesystemSpaceFillingUp (node-exporter's own pod labels)",
     {"job": "node-exporter", "instance": "10.0.3.17:9100", "namespace": "monitoring", "container": "node-exporter",
      "pod": "kube-prometheus-stack-prometheus-node-exporter-x7k2p", "service": "node-exporter",
      "device": "/dev/nvme0n1p1", "mountpoint": "/", "fstype": "ext4"}, "node", "10.0.3.17", None, None),
    ("KubePersistentVolumeFillingUp", {"job": "kubelet", "namespace": "db", "persistentvolumeclaim": "data-postgresql-0",
     "metrics_path": "/metrics", "service": "kube-prometheus-stack-kubelet"}, "volume", "data-postgresql-0", "db", None),
    ("KubeCPUOvercommit", {"prometheus": "monitoring/kube-prometheus-stack-prometheus"}, "cluster", "cluster", None, None),
    ("CPUThrottlingHigh (kubelet/cAdvisor)", {"namespace": "shop", "pod": "recommender-5c7d8b9f6-q2w4r",
     "container": "recommender"}, "workload", "recommender", "shop", "Deployment"),
    ("ingress-nginx 5xx per backend (clashing labels renamed)",
     {"job": "ingress-nginx-controller-metrics", "namespace": "ingress-nginx", "service": "ingress-nginx-controller-metrics",
      "pod": "ingress-nginx-controller-7c6d9f5b8-lq2vx", "exported_namespace": "shop", "exported_service": "basket",
      "ingress": "basket"}, "workload", "basket", "shop", "Deployment"),
    ("ingress-nginx aggregated by ingress only", {"exported_namespace": "web", "ingress": "storefront"},
     "unknown", "storefront", "web", None),
    ("Micrometer (scraped directly)", {"application": "quote", "namespace": "shop", "pod": "quote-7d9f8b6c5-x2x9k",
     "job": "quote", "service": "quote", "uri": "/api/quotes", "outcome": "SERVER_ERROR"},
     "workload", "quote", "shop", "Deployment"),
    ("Micrometer aggregated by application", {"application": "pricing-engine", "namespace": "shop"},
     "workload", "pricing-engine", "shop", "Deployment"),
    ("OpenTelemetry", {"service_name": "catalog", "k8s_deployment_name": "catalog", "k8s_namespace_name": "shop"},
     "workload", "catalog", "shop", "Deployment"),
    ("blackbox probe of a cluster Service", {"job": "blackbox", "instance": "http://cart.shop.svc:8080/healthz"},
     "workload", "cart", "shop", "Deployment"),
    ("blackbox probe of an outside host", {"job": "blackbox-exporter", "instance": "https://api.stripe.com/v1"},
     "dependency", "api.stripe.com", None, None),
    ("redis_exporter", {"job": "redis-exporter", "addr": "redis://redis-coupon:6379", "instance": "10.0.0.7:9121"},
     "dependency", "redis-coupon", None, None),
    ("only an instance left", {"instance": "10.42.5.37:8080"}, "unknown", "10.42.5.37", None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "labels", "kind", "name", "namespace", "workload_kind"), CASES, ids=[c[0] for c in CASES]
)
def test_subject_from_real_label_sets(rule, labels, kind, name, namespace, workload_kind) -> None:
    subject = resolve_labels({"alertname": rule.split()[0], "severity": "warning", **labels})
    assert (subject.kind, subject.name, subject.namespace) == (kind, name, namespace)
    assert subject.workload_kind == workload_kind
    assert "name" in subject.evidence  # every field says where it came from
    if subject.kind == "workload" and labels.get("job", "").startswith(("kube-state", "ingress", "blackbox")):
        assert subject.reporter is not None and subject.name not in labels["job"]


def test_the_exporters_own_pod_and_container_are_not_the_subjects() -> None:
    subject = resolve_labels(KSM | KSM_TARGET | {"namespace": "payments", "deployment": "payments-api"})
    assert subject.pod is None and subject.container is None and subject.reporter == "kube-state-metrics"


@pytest.mark.parametrize(
    ("pod", "owner"),
    [
        ("checkout-6d9f7c8b5-x2k4p", ("checkout", "Deployment")),
        ("payments-api-5f7b9c4d8a-x2x9k", ("payments-api", "Deployment")),
        ("ledger-2", ("ledger", "StatefulSet")),
        ("node-exporter-x7k2p", ("node-exporter", "DaemonSet")),
        ("backup-28290150-abcd5", ("backup", "CronJob")),
        ("cart-redis", None),  # a bare pod: no controller suffix
    ],
)
def test_a_pod_resolves_to_its_owner_by_the_names_controllers_generate(pod: str, owner) -> None:
    found = owner_of_pod(pod)
    assert (found[:2] if found else None) == owner


def test_pod_patterns_take_the_controllers_pods_and_no_one_elses() -> None:
    import re

    deployment = re.compile(pod_pattern("quote", "Deployment").replace("\\\\", "\\"))
    assert deployment.fullmatch("quote-7d9f8b6c5-x2x9k") and not deployment.fullmatch("quote-worker-7d9f8b6c5-x2x9k")
    assert re.fullmatch(pod_pattern("ledger", "StatefulSet"), "ledger-2")


def test_tencent_subject_comes_from_dimensions_trimmed_never_from_the_display_name() -> None:
    tke = resolve_tencent(
        {"objName": "172.19.0.34#3552563", "namespace": "search ", "workload_kind": "Deployment",
         "workload_name": " search-api", "pod_name": "search-api-5d8f7c9b6-k4x2p", "tke_cluster_instance_id": "cls-8f3k2p1x"},
        "qce/tke2", "gz",
    )  # fmt: skip
    assert (tke.kind, tke.name, tke.namespace, tke.cluster) == ("workload", "search-api", "search", "cls-8f3k2p1x")
    cdb = resolve_tencent(
        {"objName": "cdb-59ds6dfv(instance name: orders)", "InstanceId": "cdb-59ds6dfv"}, "qce/cdb", "gz"
    )
    assert (cdb.kind, cdb.name) == ("dependency", "cdb-59ds6dfv")
    cvm = resolve_tencent({"objName": "10.0.1.17#svr-web-01", "unInstanceId": "ins-6pq2x8aa"}, "qce/cvm", "gz")
    assert (cvm.kind, cvm.name) == ("node", "ins-6pq2x8aa")


def test_tencent_severity_from_the_distance_past_the_threshold_or_configuration() -> None:
    payload = json.loads((REFERENCE / "tencent-metric-alarm.json").read_text())
    assert parse_alerts(payload)[0].severity == "critical"  # 97.5% over a 90% threshold: 3/4 of the headroom
    payload["alarmPolicyInfo"]["conditions"]["currentValue"] = "92"
    alert = parse_alerts(payload)[0]
    assert alert.severity == "warning"
    settings = Settings(triage=TriagePolicy(severity_by_policy={"web-cpu-high": "critical"}))
    assert configured(alert, settings).severity == "critical"  # the policy's configured level


def test_services_config_names_the_subject_by_alias_or_labels() -> None:
    labels = {"application": "cart-api", "namespace": "shop"}
    alert = parse_alerts({"name": "HighErrors", "labels": labels, "service": "cart-api"})[0]
    settings = Settings(services={"cart": ServiceConfig(aliases=["cart-api"])})
    subject = configured(alert, settings).subject
    assert subject.name == "cart" and "aliases" in subject.evidence["name"]
    by_labels = Settings(services={"cart": ServiceConfig(match={"application": "cart-api"})})
    assert configured(alert, by_labels).subject.name == "cart"
