"""Subject lookup from the alert's own series: a workload named without its namespace is placed."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.subject_lookup import lookup, per_member
from state.alert import Alert, with_subject
from state.incident import ToolCall
from state.subject import resolve_labels
from tools.registry import RecordedTools, ToolSession

# LinkerdHighErrorRate (awesome-prometheus-alerts): summed by workload, so the namespace is aggregated away
RULE = (
    'sum by (deployment, statefulset, daemonset) (rate(response_total{classification="failure"}[1m])) '
    "/ sum by (deployment, statefulset, daemonset) (rate(response_total[1m])) * 100 > 10"
)
PER_NAMESPACE = (
    'sum by (deployment, statefulset, daemonset, namespace) (rate(response_total{classification="failure"}[1m])) '
    "/ sum by (deployment, statefulset, daemonset, namespace) (rate(response_total[1m])) * 100 > 10"
)


def answer(query: str, namespaces: list[str]) -> ToolCall:
    series = [{"metric": {"deployment": "geo-router", "namespace": ns}, "value": [0, "1"]} for ns in namespaces]
    return ToolCall(
        seq=0, agent="diagnosis", tool="execute_query", args={"query": query}, status="success",
        result={"resultType": "vector", "result": series},
    )  # fmt: skip


def linkerd_alert() -> Alert:
    labels = {"alertname": "LinkerdHighErrorRate", "deployment": "geo-router", "severity": "warning"}
    alert = Alert(
        source="alertmanager", status="firing", name="LinkerdHighErrorRate", labels=labels,
        starts_at=datetime(2026, 12, 12, 4, 7, tzinfo=UTC), fingerprint="f", expression=RULE,
    )  # fmt: skip
    return with_subject(alert, resolve_labels(labels))


def session(*calls: ToolCall) -> ToolSession:
    return ToolSession(RecordedTools(calls), agent="diagnosis", allowed=frozenset({"execute_query"}))


def test_a_workload_in_two_namespaces_is_placed_where_its_series_breach() -> None:
    # a same-named staging copy answers too, but only production's proxies breach the condition
    seen = [
        'response_total{classification="failure",deployment="geo-router"}',
        'response_total{deployment="geo-router"}',
    ]
    calls = [answer(q, ["maps", "maps-staging"]) for q in seen] + [answer(PER_NAMESPACE, ["maps"])]
    placed = lookup(session(*calls), linkerd_alert())
    assert (placed.subject.name, placed.subject.namespace) == ("geo-router", "maps")
    assert "breaches" in placed.subject.evidence["namespace"]


def test_a_workload_whose_series_breach_in_no_single_namespace_stays_unplaced() -> None:
    seen = [
        'response_total{classification="failure",deployment="geo-router"}',
        'response_total{deployment="geo-router"}',
    ]
    calls = [answer(q, ["maps", "maps-staging"]) for q in seen] + [answer(PER_NAMESPACE, ["maps", "maps-staging"])]
    placed = lookup(session(*calls), linkerd_alert())
    assert placed.subject.namespace is None and placed.subject.name == "geo-router"


def test_grouping_keeps_a_rules_own_by_labels() -> None:
    assert per_member(RULE, ("namespace",)) == PER_NAMESPACE
    assert per_member("sum(rate(x[5m])) > 1", ("namespace", "job")) == "sum by (namespace, job) (rate(x[5m])) > 1"
