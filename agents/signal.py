"""The alert's own signal: which query measures it and whether it still fires.

Diagnosis reads it to size the problem; verify re-reads it after each action. Both go
through the recorded tool session, so replay and evals see the same calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.verification import Band
from state.alert import Alert
from state.incident import Diagnosis
from state.subject import VERSION_KEYS, owner_of_pod
from tools.promql import (
    alert_condition,
    normalize,
    range_window_s,
    split_comparison,
    value_expression,
    with_labels,
)
from tools.registry import ToolSession

# labels a rule or Alertmanager adds: they say nothing about which series is the alert's own
_RULE_LABELS = frozenset({"alertname", "severity", "__name__", "prometheus", "receiver", "team", "priority"})


@dataclass(frozen=True)
class SignalReading:
    """One reading of the alert's signal."""

    query: str | None
    value: float | None
    firing: bool | None
    error: str = ""


def signal_query(alert: Alert) -> str | None:
    """The PromQL that measures the alert (its own expression, else its metric condition)."""
    if alert.expression:
        return alert.expression
    if alert.condition:
        labels = {
            k: v
            for k, v in {
                "namespace": alert.namespace,
                "workload_name": alert.workload,
                "pod_name": alert.pod,
            }.items()
            if v
        }
        return with_labels(alert.condition.metric, labels)
    return None


def is_firing(alert: Alert, query: str, value: float | None) -> bool:
    """Whether a value of ``query`` means the alert still fires.

    An alerting expression with a comparison returns nothing once it clears; a Cloud
    Monitor condition is compared with its threshold; an expression without either
    fires while its value is positive.
    """
    _, op, threshold = split_comparison(query)
    if op is not None:
        return value is not None
    if value is None:
        return False
    if alert.condition is not None:
        return alert.condition.breached(value)
    threshold_text = alert.annotations.get("threshold")
    if threshold_text:
        try:
            return value > float(threshold_text)
        except ValueError:
            pass
    return value > 0


MAX_SETTLE_S = 900.0


def settle_s(alert: Alert, diagnosis: Diagnosis | None) -> float:
    """How long the signal's own range window (``rate(x[5m])``: 300 s) keeps samples from before an action.

    Until it has passed, a rate still averages the replaced pods' last samples (their series stay
    in the window, so a sum over pods counts old and new pods together): a reading that still fires
    then says what was, not what is. At most :data:`MAX_SETTLE_S`; 0 for Cloud Monitor and gauges.
    """
    if diagnosis is not None and diagnosis.cloud_signal:
        return 0.0
    query = (diagnosis.signal_query if diagnosis else None) or signal_query(alert)
    query = query or (diagnosis.proxy_query if diagnosis else None) or ""
    return min(range_window_s(query), MAX_SETTLE_S)


PROXY_RISE = 1.5  # a proxy probe still "fires" while it is above 1.5x its pre-alert mean


# labels that name one pod or one scrape of it: an action replaces pods, the workload stays
# labels that differ between the same workload's pods, and between the versions they run
_POD_SCOPED = frozenset({"pod", "uid", "instance", "pod_ip", "container_id", "image_id", "id", "name"}) | VERSION_KEYS


def own_series(entries: list[dict[str, Any]], alert: Alert, *, across_pods: bool = False) -> list[dict[str, Any]]:
    """The answer's series that are the alert's own: every label they share with the alert agrees.

    An alerting rule fires one alert per series, with that series' labels; an expression
    such as ``kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}`` answers for
    every crash-looping pod of the cluster, and only one of them is this alert. A series that
    shares no label with the alert (an aggregate) cannot be told apart and is kept. When no
    series agrees, the labels do not identify the alert's series at all (a rewritten or
    relabelled rule): every series is kept rather than none.
    ``across_pods`` (after an action, which replaces pods) matches the subject's other pods, and
    the series of its other versions, too.
    """
    ignored = _RULE_LABELS | (_POD_SCOPED if across_pods else frozenset())
    mine = []
    for entry in entries:
        metric = entry.get("metric") or {}
        labels = {k: v for k, v in metric.items() if k not in ignored}
        shared = [k for k in labels if k in alert.labels]
        if not all(labels[k] == alert.labels[k] for k in shared):
            continue
        if across_pods and metric.get("pod") and alert.subject.workload:
            owner = owner_of_pod(str(metric["pod"]))
            if owner is not None and owner[0] != alert.subject.workload:
                continue
        mine.append(entry)
    return mine or entries


def _instant_values(entries: list[dict[str, Any]]) -> list[float]:
    values = []
    for entry in entries:
        try:
            value = float(entry["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if value == value:  # not NaN
            values.append(value)
    return values


def band_of(alert: Alert, query: str | None, baseline: float | None, slope_per_h: float | None = None) -> Band:
    """The signal's healthy band: its baseline, and the threshold and bad side its rule states."""
    threshold, high_is_bad, equality, presence = None, True, None, False
    if query:
        op, value = alert_condition(query)
        if op is not None and value is not None:
            threshold, high_is_bad = value, op in (">", ">=")
            equality = op if op in ("==", "!=") else None
        presence = op is not None and value is None
    if threshold is None and alert.condition is not None and alert.condition.threshold is not None:
        threshold = alert.condition.threshold
        high_is_bad = alert.condition.operator.strip() not in ("<", "<=", "lt", "le")
    if threshold is None and alert.annotations.get("threshold"):
        try:
            threshold = float(alert.annotations["threshold"])
        except ValueError:
            threshold = None
    return Band(baseline, threshold, high_is_bad, slope_per_h, equality, presence)


def read_value(session: ToolSession, alert: Alert, query: str) -> tuple[float | None, str]:
    """The alert's own series' value of ``query`` now (its worst, if several): ``(value, error)``."""
    result = session.call("execute_query", query=query)
    if not result.ok:
        return None, result.error
    values = _instant_values(own_series((result.data or {}).get("result") or [], alert))
    if not values:
        return None, "no data"
    return max(values), ""


def read_signal(session: ToolSession, alert: Alert, diagnosis: Diagnosis | None = None) -> SignalReading:
    """Query the alert's signal now (or, for an alert without a metric, diagnosis's proxy probe)."""
    query = signal_query(alert)
    if query is None:
        if diagnosis is not None and diagnosis.proxy_query and diagnosis.proxy_baseline is not None:
            return read_proxy(session, diagnosis.proxy_query, diagnosis.proxy_baseline)
        return SignalReading(None, None, None, "the alert carries no expression or metric condition")
    result = session.call("execute_query", query=query)
    if not result.ok:
        return SignalReading(query, None, None, result.error)
    values = _instant_values(own_series((result.data or {}).get("result") or [], alert))
    if not values and alert.condition is not None:
        stand_in = _equivalent_reading(session, alert)
        if stand_in is not None:
            return stand_in
    value = max(values) if values else None
    return SignalReading(query, value, is_firing(alert, query, value))


def _equivalent_reading(session: ToolSession, alert: Alert) -> SignalReading | None:
    """A Cloud Monitor metric read from the Prometheus series it is computed from, when those answer."""
    from agents.cloud_metrics import equivalents

    assert alert.condition is not None
    for query in equivalents(alert.condition.metric, alert.subject):
        result = session.call("execute_query", query=query)
        values = _instant_values((result.data or {}).get("result") or []) if result.ok else []
        if values:
            value = max(values)
            return SignalReading(query, value, is_firing(alert, query, value))
    return None


def read_proxy(session: ToolSession, query: str, baseline: float) -> SignalReading:
    """Re-read a proxy probe: it fires while above ``PROXY_RISE`` x its pre-alert ``baseline``."""
    result = session.call("execute_query", query=query)
    if not result.ok:
        return SignalReading(query, None, None, result.error)
    values = _instant_values((result.data or {}).get("result") or [])
    if not values:
        return SignalReading(query, None, None, "the proxy probe returned no data")
    value = max(values)
    return SignalReading(query, value, value > baseline * PROXY_RISE + 1e-9)


@dataclass(frozen=True)
class Check:
    """One verification reading: the signal's value, whether it fires, and where it came from."""

    value: float | None
    firing: bool | None
    query: str | None
    note: str = ""


def check_signal(session: ToolSession, alert: Alert, diagnosis: Diagnosis | None, band: Band) -> Check:
    """Read the alert's signal after an action, across the workload's (new) pods.

    The value of the expression itself, not of its comparison (a comparison answers nothing
    both when healthy and when nothing is scraped). A series that only exists while bad
    (``kube_pod_container_status_waiting_reason``) is gone once healthy: when the alert's
    series is gone but the workload still reports its version series, the signal is clear;
    when nothing answers at all, the reading is missing (unverified), never "cleared".
    """
    query = (diagnosis.signal_query if diagnosis is not None else None) or signal_query(alert)
    if query is None:
        if diagnosis is not None and diagnosis.proxy_query and diagnosis.proxy_baseline is not None:
            reading = read_proxy(session, diagnosis.proxy_query, diagnosis.proxy_baseline)
            return Check(reading.value, reading.firing, reading.query, reading.error)
        return Check(None, None, None, "the alert carries no expression or metric condition")
    lhs = split_comparison(query)[0]
    compared_query = value_expression(query)
    if compared_query and normalize(compared_query) != normalize(lhs):  # what the rule compares, healthy or not
        compared = session.call("execute_query", query=compared_query)
        entries = ((compared.data or {}).get("result") or []) if compared.ok else []
        values = _instant_values(own_series(entries, alert, across_pods=True)) if entries else []
        if values:
            figure = max(values)
            return Check(figure, band.firing(figure) if band.threshold is not None else figure > 0, compared_query)
    result = session.call("execute_query", query=lhs)
    if not result.ok:
        return Check(None, None, lhs, result.error)
    entries = (result.data or {}).get("result") or []
    values = _instant_values(own_series(entries, alert, across_pods=True)) if entries else []
    if values:
        value = max(values)
        firing = band.firing(value) if band.threshold is not None else value > 0
        return Check(value, firing, lhs)
    presence = diagnosis.version_query if diagnosis is not None else None
    if presence:
        seen = session.call("execute_query", query=presence)
        if seen.ok and (seen.data or {}).get("result"):
            return Check(None, False, lhs, "the alert's series is gone while the workload still reports: clear")
    return Check(None, None, lhs, "no data for the alert's signal after the action")
