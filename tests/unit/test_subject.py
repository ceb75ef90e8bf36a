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
from agents.subject_lookup import carried_upstream, split_upstream
from state.alert import parse_alerts
from state.config import ServiceConfig, Settings
from state.policy import TriagePolicy
from state.subject import owner_of_pod, pod_pattern, resolve_labels, resolve_tencent, upstream_parts
from tools.kube import Workload
from tools.registry import Tool, ToolError, ToolRegistry, ToolSession

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


# --------------------------------------------------------------------------- PDBs, proxies' backends, static pods

PDB_ALERT = KSM | KSM_TARGET | {"alertname": "KubePdbNotEnoughHealthyPods", "namespace": "treasury"}


@pytest.mark.parametrize("budget", ["ledger-api", "ledger-api-pdb"])
def test_a_disruption_budget_alert_is_about_the_workload_it_protects_not_kube_state_metrics(budget: str) -> None:
    subject = resolve_labels(PDB_ALERT | {"poddisruptionbudget": budget})
    assert subject.describe() == "Deployment treasury/ledger-api"
    assert subject.pod is None and subject.reporter == "kube-state-metrics"


ETCD = {
    "alertname": "etcdHighFsyncDurations", "container": "etcd", "endpoint": "http-metrics", "job": "kube-etcd",
    "instance": "10.0.10.11:2381", "namespace": "kube-system", "service": "kube-prometheus-stack-kube-etcd",
}  # fmt: skip


@pytest.mark.parametrize(
    ("pod", "node"),
    [("etcd-ip-10-0-10-11", "ip-10-0-10-11"), ("kube-apiserver-master-1", "master-1"),
     ("kube-scheduler-cp-2.example.internal", "cp-2.example.internal")],
)  # fmt: skip
def test_a_control_plane_static_pod_is_that_component_on_its_node_not_a_statefulset(pod: str, node: str) -> None:
    subject = resolve_labels(ETCD | {"pod": pod})
    assert (subject.kind, subject.name, subject.pod) == ("node", node, pod)
    assert "static pod" in subject.evidence["name"]


@pytest.mark.parametrize(
    ("labels", "owner"),
    [({"namespace": "kube-system", "pod": "etcd-0"}, ("StatefulSet", "etcd")),  # an etcd StatefulSet, not a node
     ({"namespace": "clusters-prod", "pod": "kube-apiserver-6d9f7c8b5-x2k4p"}, ("Deployment", "kube-apiserver"))],
)  # fmt: skip
def test_controller_made_pods_of_control_plane_names_keep_their_owner(labels: dict[str, str], owner) -> None:
    subject = resolve_labels(labels)
    assert (subject.workload_kind, subject.name) == owner


def test_traefik_names_its_kubernetes_backend_namespace_service_port() -> None:
    subject = resolve_labels(
        {"alertname": "TraefikHighHttp5xxErrorRateService", "service": "retail-basket-api-8080@kubernetes"}
    )
    assert subject.kind == "unknown" and subject.reporter == "ingress-controller"
    assert upstream_parts(subject.evidence["upstream"]) == [("retail", "basket-api"), ("retail-basket", "api")]
    assert upstream_parts("shop-cart-http@kubernetescrd") == [("shop", "cart")]  # a named port
    assert upstream_parts("upstream-default-backend") == [("upstream", "default")]


class _Cluster:
    """The cluster's Deployments as ``k8s_workload`` answers (a missing one is refused: 404)."""

    def __init__(self, *running: tuple[str, str]) -> None:
        self.running = set(running)
        self.asked: list[tuple[str, str]] = []

    def workload(self, namespace: str, workload: str, kind: str = "Deployment") -> dict[str, str]:
        self.asked.append((namespace, workload))
        if (namespace, workload) not in self.running:
            raise ToolError(f"Kubernetes API refused get deployment {workload}: 404 Not Found")
        return {"kind": kind, "name": workload}


def _session(cluster: _Cluster) -> ToolSession:
    tool = Tool("k8s_workload", "A workload.", Workload, cluster.workload)
    return ToolSession(ToolRegistry([tool]), agent="diagnosis")


TRAEFIK = {"receiver": "x", "status": "firing", "alerts": [{"status": "firing", "startsAt": "2027-01-08T15:05:41Z",
           "labels": {"alertname": "TraefikHighHttp5xxErrorRateService", "severity": "critical",
                      "service": "retail-basket-api-8080@kubernetes"}}]}  # fmt: skip


def test_the_cluster_says_which_split_of_a_composite_backend_name_is_real() -> None:
    (alert,) = parse_alerts(TRAEFIK, "alertmanager")
    found = split_upstream(_session(_Cluster(("retail", "basket-api"), ("traefik", "traefik"))), alert)
    assert found.subject.describe() == "Deployment retail/basket-api"
    both = _Cluster(("retail", "basket-api"), ("retail-basket", "api"))
    assert split_upstream(_session(both), alert).subject.kind == "unknown"  # two real splits: the name cannot say


def test_services_config_splits_a_composite_name_without_asking_the_cluster() -> None:
    (alert,) = parse_alerts(TRAEFIK, "alertmanager")
    cluster = _Cluster()
    found = split_upstream(_session(cluster), alert, {"basket-api": "retail"})
    assert found.subject.describe() == "Deployment retail/basket-api" and cluster.asked == []


def _cls_alarm(records: list[dict[str, str]]) -> dict:
    tag = {
        "__TAG__.namespace": "kube-system",
        "__TAG__.pod_name": "nginx-ingress-nginx-controller-7d9f6c8b5-qx2lm",
        "__TAG__.container_name": "controller",
        "__TAG__.pod_label_app.kubernetes.io/name": "ingress-nginx",
    }
    return {"alarm": "gateway 5xx", "alarm_id": "alarm-1", "topic_id": "t-1", "notify_type": "1",
            "start_time_unix": "1800238200000", "condition": "$1.count > 50",
            "query_log": [[{"content": tag | r, "time": 1800238128000} for r in records]]}  # fmt: skip


def test_a_log_alarm_on_the_ingress_access_log_is_about_the_upstream_not_the_controller() -> None:
    line = {"status": "500", "upstream_status": "500", "url": "/api/member/v2/points/exchange"}
    (alert,) = parse_alerts(_cls_alarm([line | {"proxy_upstream_name": "member-member-center-8080"}] * 3), "cls")
    found = split_upstream(_session(_Cluster(("member", "member-center"))), carried_upstream(alert))
    assert found.subject.describe() == "Deployment member/member-center"
    mixed = _cls_alarm([line | {"proxy_upstream_name": "member-member-center-8080"},
                        line | {"proxy_upstream_name": "shop-cart-8080"}])  # fmt: skip
    (alert,) = parse_alerts(mixed, "cls")
    assert carried_upstream(alert).subject.kind == "cluster"  # two upstreams: the records do not say which
