"""From a business-log error to the cluster events and audit records behind it (docs/playbook.md rules 4b, 5b, 6).

What an SRE reads in an incident and the playbook must read too: the peer a stack trace's
deepest ``Caused by:`` names (also when a log alarm carries the records itself), the volume
a waiting pod's events name, and who changed which namespace object (a NetworkPolicy, a
ResourceQuota) just before the alert. Each is checked on real shapes: logstash-logback
JSON with a ``stack_trace``, CLS ``{{.QueryLog}}`` records with TKE ``__TAG__`` metadata,
kube-controller/kubelet event messages, audit.k8s.io/v1 records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from agents.alarm_logs import carried_evidence
from agents.changes import culprit, linked_changes
from agents.diagnosis_rules import Facts, conclude
from agents.kube_evidence import gather as kube_gather
from agents.kube_evidence import stuck_volume
from agents.log_evidence import LogEvidence, unreachable_hosts
from agents.report_text import Language
from agents.reporting import write_report
from agents.signal import SignalReading, band_of
from evals.kube_world import serve_world
from state.alert import Alert, parse_alertmanager, parse_cls
from state.config import KubernetesConfig, LogsConfig, Settings
from state.incident import IncidentState
from state.subject import Subject, resolve_labels
from tools.backends.kubernetes import api_client_from
from tools.kube import kube_tools
from tools.logs.classify import LogSummary, feed
from tools.logs.sources import LogSources
from tools.logs.tools import log_tools
from tools.registry import ToolRegistry, ToolSession
from tools.world import SimClock, World, WorldSpec

START = datetime(2026, 12, 9, 9, 27, 40, tzinfo=UTC)
FRAMES = "".join(f"\tat com.pay.repo.Frame{i}.call(Frame{i}.java:{i + 10})\n" for i in range(40))
JAVA_STACK = (
    "org.springframework.dao.DataAccessResourceFailureException: Failed to obtain JDBC Connection\n"
    + FRAMES
    + "Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
    "request timed out after 3000ms\n"
    "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:686)\n"
    "Caused by: java.net.ConnectException: Connection refused (orders-db.cluster-c9x.eu-west-1.rds.amazonaws.com:5432)"
)


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _facts(alert: Alert, evidence: LogEvidence, value: float | None = 1.0, query: str | None = "q > 0") -> Facts:
    reading = SignalReading(query, value, None if query is None else value is not None, "")
    return Facts(alert, reading, [], evidence=evidence, band=band_of(alert, query, None))


def _workload_alert(name: str = "orders", namespace: str = "shop", **labels: str) -> Alert:
    return Alert(
        source="alertmanager", status="firing", name="TargetDown", starts_at=START, fingerprint="f",
        expression="up == 0", labels=labels,
        subject=Subject(kind="workload", name=name, namespace=namespace, workload_kind="Deployment"),
    )  # fmt: skip


# --------------------------------------------------------------------------- the peer a log error names


def test_the_deepest_caused_by_of_a_long_java_stack_names_the_database() -> None:
    # logstash-logback-encoder puts the stack in its own field; 40 frames push the cause past any excerpt
    record = {"@timestamp": "2026-12-09T09:20:00Z", "level": "ERROR", "message": "order failed",
              "stack_trace": JAVA_STACK, "kubernetes": {"namespace_name": "shop", "pod_name": "orders-7c9f8d6b5-m2x4q"}}  # fmt: skip
    summary = feed(LogSummary(), [("f", (json.dumps(record) + "\n").encode())])
    example = summary.ranked()[0].example
    assert len(example) <= 500 and "Caused by: java.net.ConnectException" in example
    assert unreachable_hosts(example, "orders") == ["orders-db.cluster-c9x.eu-west-1.rds.amazonaws.com"]


def test_a_partner_answering_503_is_the_dependency_and_the_service_itself_never_is() -> None:
    line = (
        "settlement fetch failed status=503 url=https://api.partner.example/v2/settlements?since=2026-12-15T08:00:00Z "
        'attempt=3/3 body="Service Unavailable"'
    )
    assert unreachable_hosts(line, "ledger-sync") == ["api.partner.example"]
    assert (
        unreachable_hosts("upstream http://ledger-sync.fintech.svc:8080/x answered 502 Bad Gateway", "ledger-sync")
        == []
    )
    assert unreachable_hosts("GET https://api.partner.example/v2 returned 404 not found", "ledger") == []  # no failure
    logfmt = "settlement fetch failed host=api.partner.example status=504"  # the peer named in a field
    assert unreachable_hosts(logfmt, "ledger-sync") == ["api.partner.example"]
    assert unreachable_hosts("dial tcp orders-db:5432: connect: connection refused", "orders") == ["orders-db"]
    assert unreachable_hosts("dial tcp orders-7c9f8d6b5-x2x4q:8080: i/o timeout", "orders") == []  # its own pod


CLS_RECORD = {
    "__TAG__.namespace": "payment",
    "__TAG__.pod_name": "pay-callback-7c9f8d6b5-m2x4q",
    "__TAG__.container_name": "pay-callback",
    "level": "ERROR",
    "message": "支付回调入账失败 tradeNo=T1 原因: 数据库连接不可用",
    "stack_trace": JAVA_STACK.replace(
        "orders-db.cluster-c9x.eu-west-1.rds.amazonaws.com", "cdb-8h3k5m2p.sql.tencentcdb.com"
    ),
}


def _cls_alarm(records: list[dict]) -> Alert:
    body = {
        "alarm": "支付回调-数据库连接失败", "alarm_id": "alarm-1", "topic_id": "t-1", "notify_type": "1",
        "start_time_unix": str(int(START.timestamp() * 1000)), "condition": "$1.error_count > 20",
        "query_log": [[{"content": r, "fileName": "/var/log/app.log", "time": int(START.timestamp() * 1000)}
                       for r in records]],
        "labels": {"service": "pay-callback", "namespace": "payment"},
    }  # fmt: skip
    return parse_cls(body)[0]


def test_a_log_alarm_that_carries_its_records_names_the_database_they_cannot_reach() -> None:
    other = {**CLS_RECORD, "__TAG__.pod_name": "refund-6d5c4b3a2-x9z8w",
             "stack_trace": "Caused by: java.net.ConnectException: Connection refused (redis-refund:6379)"}  # fmt: skip
    full_text = {"__TAG__.namespace": "payment", "__TAG__.pod_name": "pay-callback-7c9f8d6b5-t8k6w",
                 "__CONTENT__": "2026-12-09 09:26:01.120 ERROR 1 --- [exec-3] c.p.NotifyService : credit failed\n"
                 + CLS_RECORD["stack_trace"]}  # CLS full-text collection: the line and its stack  # fmt: skip
    alert = _cls_alarm([CLS_RECORD, other, json.dumps(CLS_RECORD), full_text])  # ``content`` may be escaped JSON
    evidence = carried_evidence(alert)
    assert evidence is not None and evidence.dependencies == ["cdb-8h3k5m2p.sql.tencentcdb.com"]  # not refund's redis
    assert any("credit failed" in f.title for f in evidence.findings)  # the full-text record was read too
    diagnosis = conclude(_facts(alert, evidence, value=None, query=None))  # a log alarm carries no metric
    assert diagnosis.pattern == "dependency" and diagnosis.abstain
    assert diagnosis.entities == ["cdb-8h3k5m2p.sql.tencentcdb.com"]
    assert carried_evidence(_cls_alarm([])) is None


# --------------------------------------------------------------------------- the volume behind a waiting pod

POD = {"name": "media-indexer-0", "claims": [{"volume": "data", "claim": "data-media-indexer-0"}]}
ATTACH = {"type": "Warning", "reason": "FailedAttachVolume", "object": "Pod/media-indexer-0", "when": "2026-12-16T10:33:12Z",
          "message": 'Multi-Attach error for volume "pvc-7a1c3e9b-2f4d-4c1a-9b8e-5d6f7a8b9c0d" Volume is already '
                     "exclusively attached to one node and can't be attached to another"}  # fmt: skip
MOUNT = {"type": "Warning", "reason": "FailedMount", "object": "Pod/media-indexer-0", "when": "2026-12-16T10:33:40Z",
         "message": "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data "
                    "kube-api-access-x2v9k]: timed out waiting for the condition"}  # fmt: skip


def test_a_pod_stuck_on_a_volume_attached_elsewhere_names_its_claim_and_volume() -> None:
    stuck = stuck_volume([ATTACH, MOUNT], [POD])
    assert stuck is not None
    assert (stuck["claims"], stuck["volumes"]) == (
        ["data-media-indexer-0"],
        ["pvc-7a1c3e9b-2f4d-4c1a-9b8e-5d6f7a8b9c0d"],
    )
    assert stuck["reason"] == "FailedAttachVolume"  # the mount only timed out behind the failed attach
    alert = _workload_alert("media-indexer", "media")
    diagnosis = conclude(_facts(alert, LogEvidence(volume_stuck=stuck)))
    assert diagnosis.pattern == "volume" and diagnosis.abstain  # no rung frees a volume
    assert diagnosis.entities == ["data-media-indexer-0", "pvc-7a1c3e9b-2f4d-4c1a-9b8e-5d6f7a8b9c0d"]


def test_an_unbound_claim_names_the_claims_and_a_missing_configmap_is_not_storage() -> None:
    unbound = {"type": "Warning", "reason": "FailedScheduling", "object": "Pod/media-indexer-0",
               "message": "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: "
                          "0/3 nodes are available: 3 Preemption is not helpful for scheduling."}  # fmt: skip
    assert stuck_volume([unbound], [POD])["claims"] == ["data-media-indexer-0"]
    config = {"type": "Warning", "reason": "FailedMount", "object": "Pod/cart-7c9f8d6b5-m2x4q",
              "message": 'MountVolume.SetUp failed for volume "cfg" : configmap "cart-config" not found'}  # fmt: skip
    assert stuck_volume([config], [{"claims": []}]) is None


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ToolSession]:
    """A StatefulSet whose pod waits on its claim, with the attach/mount events a cluster would hold."""
    world = {"workloads": [{
        "name": "media-indexer", "namespace": "media", "kind": "StatefulSet",
        "releases": [{"version": "v0.9.7", "deployed_at": "2026-11-02T08:00:00Z"}],
        "pod_states": {"default": {"ready": False, "waiting": "ContainerCreating"}},
        "template": {"spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-media-indexer-0"}}]}},
    }]}  # fmt: skip
    (tmp_path / "kube").mkdir()
    events = [
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"media-indexer-0.{n}", "namespace": "media"},
         "involvedObject": {"kind": "Pod", "namespace": "media", "name": "media-indexer-0"}, "reason": e["reason"],
         "message": e["message"], "type": "Warning", "count": 3, "firstTimestamp": e["when"], "lastTimestamp": e["when"]}
        for n, e in enumerate([ATTACH, MOUNT])
    ]  # fmt: skip
    (tmp_path / "kube" / "events.yaml").write_text(yaml.safe_dump(events))
    clock = SimClock(datetime(2026, 12, 16, 10, 35, tzinfo=UTC))
    spec = World(WorldSpec.model_validate(world), tmp_path / "state.json", clock=clock)
    with serve_world(spec, tmp_path / "kube") as url:
        config = KubernetesConfig(host=url, verify_ssl=False)
        yield ToolSession(ToolRegistry(kube_tools(lambda: api_client_from(config, "t"), clock)), agent="diagnosis")


def test_the_cluster_tells_which_claim_a_waiting_pod_mounts_and_why_it_waits(cluster: ToolSession) -> None:
    pods = cluster.call("k8s_pods", namespace="media", workload="media-indexer").data["pods"]
    assert pods[0]["claims"] == [{"volume": "data", "claim": "data-media-indexer-0"}]
    subject = Subject(kind="workload", name="media-indexer", namespace="media", workload_kind="StatefulSet")
    evidence = kube_gather(cluster, subject, datetime(2026, 12, 16, 10, 35, tzinfo=UTC))
    assert evidence is not None and evidence.volume_stuck is not None
    assert evidence.volume_stuck["claims"] == ["data-media-indexer-0"]
    assert any("FailedAttachVolume" in f.title for f in evidence.findings)


# --------------------------------------------------------------------------- who changed the namespace


def _audit(
    verb: str, resource: str, name: str, at: datetime, who: str, request: dict | None = None, code: int = 200
) -> dict:
    return {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": f"{name}-{verb}-{code}",
        "stage": "ResponseComplete", "verb": verb, "user": {"username": who},
        "objectRef": {"resource": resource, "namespace": "shop", "name": name},
        "responseStatus": {"code": code}, "requestReceivedTimestamp": _stamp(at), "requestObject": request or {},
    }  # fmt: skip


DENY = {"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
ALLOW = {"spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "orders"}}, "policyTypes": ["Ingress"],
                  "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]}]}}  # fmt: skip


def _namespace_changes(tmp_path: Path, records: list[dict]) -> list[dict]:
    path = tmp_path / "audit.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    session = ToolSession(ToolRegistry(log_tools(LogSources(LogsConfig(files=[str(path)]), {}))), agent="diagnosis")
    answer = session.call("trace_chain", source="files", namespace="shop", workload="orders",
                          start=_stamp(START - timedelta(hours=1)), end=_stamp(START))  # fmt: skip
    assert answer.ok, answer.error
    return answer.data["namespace_changes"]


def test_a_default_deny_policy_applied_before_the_alert_is_the_change_to_blame(tmp_path: Path) -> None:
    at = START - timedelta(minutes=11)
    changes = _namespace_changes(tmp_path, [
        _audit("create", "networkpolicies", "default-deny", at, "kenji@example.com", DENY),
        _audit("create", "networkpolicies", "allow-ingress", at + timedelta(seconds=1), "kenji@example.com", ALLOW),
        _audit("create", "networkpolicies", "refused", at, "eve@example.com", DENY, code=403),  # changed nothing
        _audit("update", "services", "orders", at, "system:serviceaccount:kube-system:endpoint-controller"),
    ])  # fmt: skip
    assert [c["name"] for c in changes] == ["default-deny", "allow-ingress"]
    assert changes[0]["change"] == "denies all ingress to every pod"
    alert = _workload_alert()
    linked = linked_changes(alert, changes)
    assert [w["linked_by"]["how"] for w in linked] == ["selects_all", "selects_workload"]
    assert culprit(linked)["name"] == "default-deny"  # the allow policy only opens a path again
    diagnosis = conclude(_facts(alert, LogEvidence(namespace_changes=linked)))
    assert diagnosis.pattern == "namespace_change" and diagnosis.abstain
    assert diagnosis.entities == ["orders", "default-deny", "kenji@example.com"]


def test_a_policy_for_other_pods_or_a_change_after_the_alert_is_not_linked() -> None:
    other = {"verb": "create", "resource": "networkpolicies", "name": "web-only", "namespace": "shop",
             "when": _stamp(START - timedelta(minutes=5)), "policy": {"pods": {"app": "web"}, "denies": ["ingress"]}}  # fmt: skip
    later = {
        **other,
        "name": "late",
        "when": _stamp(START + timedelta(minutes=5)),
        "policy": {"pods": {}, "denies": []},
    }
    assert linked_changes(_workload_alert(), [other, later]) == []


QUOTA_LABELS = {  # KubeQuotaExceeded as kube-prometheus-stack renders it: kube-state-metrics' own pod beside the quota
    "alertname": "KubeQuotaExceeded", "container": "kube-state-metrics", "endpoint": "http", "namespace": "etl",
    "pod": "kps-kube-state-metrics-59d5c7f8b6-wq9lx", "resource": "requests.memory", "resourcequota": "compute-quota",
    "service": "kps-kube-state-metrics", "severity": "warning",
}  # fmt: skip


def test_a_quota_alert_is_about_its_namespace_and_names_who_lowered_the_quota() -> None:
    subject = resolve_labels(QUOTA_LABELS)
    assert (subject.kind, subject.name, subject.reporter) == ("namespace", "etl", "kube-state-metrics")
    body = {"version": "4", "status": "firing", "receiver": "r", "groupKey": "g", "alerts": [
        {"status": "firing", "labels": QUOTA_LABELS, "annotations": {}, "startsAt": _stamp(START),
         "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "c39a51d82ab7f59f"}]}  # fmt: skip
    alert = parse_alertmanager(body)[0]
    sa = "system:serviceaccount:platform:terraform-runner"
    patch = {"who": sa, "verb": "patch", "resource": "resourcequotas", "name": "compute-quota", "namespace": "etl",
             "when": _stamp(START - timedelta(minutes=15)), "change": "hard requests.memory=64Gi"}  # fmt: skip
    linked = linked_changes(alert, [patch])
    assert linked[0]["linked_by"] == {"how": "alert_label", "label": "resourcequota", "value": "compute-quota"}
    diagnosis = conclude(_facts(alert, LogEvidence(namespace_changes=linked)))
    assert diagnosis.pattern == "namespace_change" and diagnosis.abstain
    assert diagnosis.entities == ["etl", "compute-quota", sa]  # a pipeline's write is still the write that bit
    unexplained = conclude(_facts(alert, LogEvidence()))
    assert unexplained.pattern == "namespace" and unexplained.abstain and unexplained.entities == ["etl"]


def test_a_quota_named_by_the_workloads_refused_pods_is_linked_to_it() -> None:
    event = {"object": "ReplicaSet/orders-6f8d7c9b5", "reason": "FailedCreate", "message": 'Error creating: pods '
             '"orders-6f8d7c9b5-4kqz2" is forbidden: exceeded quota: compute-quota, requested: requests.memory=8Gi'}  # fmt: skip
    patch = {"who": "alice", "verb": "patch", "resource": "resourcequotas", "name": "compute-quota", "namespace": "shop",
             "when": _stamp(START - timedelta(minutes=20)), "change": ""}  # fmt: skip
    assert linked_changes(_workload_alert(), [patch], [event])[0]["linked_by"]["how"] == "event"
    assert linked_changes(_workload_alert(), [patch], []) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_report_names_the_change_and_why_it_is_linked_in_its_own_language(lang: Language) -> None:
    alert = _workload_alert()
    write = {"who": "kenji@example.com", "verb": "create", "resource": "networkpolicies", "name": "default-deny",
             "namespace": "shop", "when": _stamp(START - timedelta(minutes=11)), "change": "",
             "policy": {"pods": {}, "denies": ["ingress"]}}  # fmt: skip
    diagnosis = conclude(_facts(alert, LogEvidence(namespace_changes=linked_changes(alert, [write]))))
    state = IncidentState(incident_id="i", alert=alert, diagnosis=diagnosis)
    text = write_report(state, Settings(), lang).content
    assert "networkpolicies/default-deny" in text and "kenji@example.com" in text
    if lang == "zh":
        assert "关联依据" in text and "linked because" not in text and "selects every pod" not in text
    else:
        assert "it selects every pod of namespace shop" in text
