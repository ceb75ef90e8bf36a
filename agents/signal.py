"""The alert's own signal: which query measures it and whether it still fires.

Diagnosis reads it to size the problem; verify re-reads it after each action. Both go
through the recorded tool session, so replay and evals see the same calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from state.alert import Alert
from state.incident import Diagnosis
from tools.promql import split_comparison, with_labels
from tools.registry import ToolSession


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


PROXY_RISE = 1.5  # a proxy probe still "fires" while it is above 1.5x its pre-alert mean


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
    samples = (result.data or {}).get("result") or []
    values = [float(s["value"][1]) for s in samples if s.get("value")]
    value = max(values) if values else None
    return SignalReading(query, value, is_firing(alert, query, value))


def read_proxy(session: ToolSession, query: str, baseline: float) -> SignalReading:
    """Re-read a proxy probe: it fires while above ``PROXY_RISE`` x its pre-alert ``baseline``."""
    result = session.call("execute_query", query=query)
    if not result.ok:
        return SignalReading(query, None, None, result.error)
    samples = (result.data or {}).get("result") or []
    values = [float(s["value"][1]) for s in samples if s.get("value")]
    if not values:
        return SignalReading(query, None, None, "the proxy probe returned no data")
    value = max(values)
    return SignalReading(query, value, value > baseline * PROXY_RISE + 1e-9)
