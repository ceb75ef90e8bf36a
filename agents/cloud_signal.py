"""A Cloud Monitor alarm's own signal, read back from Cloud Monitor when no PromQL measures it.

A Tencent Cloud Monitor metric alarm names its product's namespace (``qce/loadbalance``), the
metric (``HttpCode5XX``), the object's dimensions (``vip``, ``loadBalancerPort``,
``protocol``, ``domain``, ``url``) and the statistic period: exactly the arguments of the
monitor API's ``GetMonitorData``. When neither the metric itself nor a PromQL equivalent
(agents/cloud_metrics.py) answers, diagnosis sizes the signal from Cloud Monitor (now, the
hour before the alert, and every version run), and verification re-reads it there after an
action. The callback's ``objId``/``objName`` are the console's identifiers, not dimensions
the API knows, and are left out.

QCE/TKE2 (TKE's metrics) is documented for ``DescribeStatisticData`` only: those alarms are read
through their PromQL equivalents instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from agents.signal import Check, SignalReading
from agents.signal_history import SignalHistory
from agents.verification import Band
from state.alert import Alert
from tools.cloud_monitor import MAX_POINTS, PERIODS, TOOL, api_namespace
from tools.registry import ToolSession

# what the callback carries beside the object's dimensions (alert labels the parser adds; console names)
_NOT_DIMENSIONS = frozenset({"objId", "objName", "region", "policy", "policy_type", "product"})
_STATISTIC_DATA_ONLY = frozenset({"QCE/TKE2"})
RECENT = timedelta(minutes=10)  # how far back "now" looks: Cloud Monitor publishes a period late


class CloudSignal(BaseModel):
    """One object's Cloud Monitor metric: what ``get_monitor_data`` is asked."""

    namespace: str
    metric: str
    dimensions: dict[str, str]
    region: str | None = None
    period: int = 60

    def describe(self) -> str:
        """``QCE/LOADBALANCE HttpCode5XX{domain="api.mall.example.com",url="/orders"}`` (for findings)."""
        dims = ",".join(f'{k}="{v}"' for k, v in self.dimensions.items())
        return f"{self.namespace} {self.metric}{{{dims}}}"


def of_alert(alert: Alert) -> CloudSignal | None:
    """The Cloud Monitor metric a Tencent metric alarm fired on (None for any other alert)."""
    product = api_namespace(alert.labels.get("product", ""))
    if alert.source != "tencent" or alert.condition is None or not product or product in _STATISTIC_DATA_ONLY:
        return None
    dimensions = {k: v for k, v in alert.labels.items() if k not in _NOT_DIMENSIONS and v}
    if not dimensions:
        return None
    period = alert.condition.period_s if alert.condition.period_s in PERIODS else 60
    region = alert.labels.get("region") or None
    return CloudSignal(
        namespace=product, metric=alert.condition.metric, dimensions=dimensions, region=region, period=period or 60
    )


def available(session: ToolSession) -> bool:
    """Whether Cloud Monitor can be asked (its tool is offered)."""
    return session.backend.has(TOOL)


def points(session: ToolSession, signal: CloudSignal, start: datetime, end: datetime) -> tuple[SignalHistory, str]:
    """The signal over [start, end]: ``(history, error)``; the period grows when the span needs more points."""
    period = signal.period
    while (end - start).total_seconds() / period > MAX_POINTS and period < PERIODS[-1]:
        period = next(p for p in PERIODS if p > period)
    args = {"namespace": signal.namespace, "metric": signal.metric, "dimensions": signal.dimensions}
    if signal.region:
        args["region"] = signal.region
    result = session.call(TOOL, **args, start=start.isoformat(), end=end.isoformat(), period=period)
    if not result.ok:
        return SignalHistory([], signal.describe()), result.error
    return SignalHistory.from_series((result.data or {}).get("result") or [], signal.describe()), ""


def read_now(session: ToolSession, signal: CloudSignal, alert: Alert, now: datetime) -> SignalReading:
    """The latest published value, and whether the alarm's own condition still holds on it."""
    history, error = points(session, signal, now - RECENT, now)
    if error or not history.points:
        return SignalReading(signal.describe(), None, None, error or "Cloud Monitor has no data for the object")
    value = history.points[-1][1]
    firing = alert.condition.breached(value) if alert.condition is not None else value > 0
    return SignalReading(signal.describe(), value, firing)


def check(session: ToolSession, signal: CloudSignal, band: Band, now: datetime) -> Check:
    """Verification's reading of the signal after an action (missing data is unverified, never clear)."""
    history, error = points(session, signal, now - RECENT, now)
    if error or not history.points:
        return Check(None, None, signal.describe(), error or "no Cloud Monitor data after the action")
    value = history.points[-1][1]
    return Check(value, band.firing(value) if band.threshold is not None else value > 0, signal.describe())
