"""Metric analysis: the alert's own expression plus RED/USE queries, alert window against baseline.

Each query's mean over a baseline window is compared with its mean over the alert
window; anomalies are ranked by relative change. Queries that return nothing (the
metric does not exist here) are skipped silently: they are probes, not failures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any

from state.alert import Alert
from state.incident import Finding
from state.subject import pod_pattern
from tools.promql import normalize, range_step, split_comparison
from tools.registry import ToolSession

STEP_S = 60
# RED (rate, errors, duration) and USE (utilisation, saturation, errors) probes for one service.
PROBES: dict[str, str] = {
    "error_ratio": 'sum(rate(http_requests_total{{{svc},code=~"5.."}}[5m]))'
    " / sum(rate(http_requests_total{{{svc}}}[5m]))",
    "latency_p99_s": "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{svc}}}[5m])))",
    "request_rate": "sum(rate(http_requests_total{{{svc}}}[5m]))",
    "cpu_saturation": "sum(rate(container_cpu_usage_seconds_total{{{pod}}}[5m]))"
    ' / sum(kube_pod_container_resource_limits{{{pod},resource="cpu"}})',
    "restarts": "sum(increase(kube_pod_container_status_restarts_total{{{pod}}}[5m]))",
    "memory_bytes": "sum(container_memory_working_set_bytes{{{pod}}})",
    # USE saturation of memory: the fullest container's working set over its limit (OOM is near 1)
    "memory_saturation": "max(container_memory_working_set_bytes{{{ctr}}})"
    ' / max(kube_pod_container_resource_limits{{{ctr},resource="memory"}})',
}
# The same RED probes in the other common instrumentations, used when their metric exists: Spring Boot's
# Micrometer timer (http.server.requests, tags application/outcome) and OpenTelemetry's HTTP semantic
# conventions (http.server.request.duration, service.name, http.response.status_code).
CONVENTIONS: tuple[tuple[str, str, dict[str, str]], ...] = (
    (
        "http_server_requests_seconds_count",
        'application="{name}"',
        {
            "error_ratio": 'sum(rate(http_server_requests_seconds_count{{{sel},outcome="SERVER_ERROR"}}[5m]))'
            " / sum(rate(http_server_requests_seconds_count{{{sel}}}[5m]))",
            "latency_p99_s": "histogram_quantile(0.99, sum by (le) "
            "(rate(http_server_requests_seconds_bucket{{{sel}}}[5m])))",
            "request_rate": "sum(rate(http_server_requests_seconds_count{{{sel}}}[5m]))",
        },
    ),
    (
        "http_server_request_duration_seconds_count",
        'service_name="{name}"',
        {
            "error_ratio": "sum(rate(http_server_request_duration_seconds_count"
            '{{{sel},http_response_status_code=~"5.."}}[5m]))'
            " / sum(rate(http_server_request_duration_seconds_count{{{sel}}}[5m]))",
            "latency_p99_s": "histogram_quantile(0.99, sum by (le) "
            "(rate(http_server_request_duration_seconds_bucket{{{sel}}}[5m])))",
            "request_rate": "sum(rate(http_server_request_duration_seconds_count{{{sel}}}[5m]))",
        },
    ),
)
RISE = 1.5  # "anomalous" = alert-window mean above 1.5x the baseline mean (or from zero to non-zero)


@dataclass(frozen=True)
class Anomaly:
    """One query's baseline and alert-window means."""

    name: str
    query: str
    baseline: float
    during: float

    @property
    def score(self) -> float:
        """Relative change (alert window vs baseline); large when rising from ~0."""
        return (self.during - self.baseline) / max(abs(self.baseline), 1e-9)

    @property
    def anomalous(self) -> bool:
        """Whether the change is large enough to report as evidence."""
        return self.during > self.baseline * RISE + 1e-9 or (self.name == "restarts" and self.during > 0)


def probe_queries(alert: Alert, names: list[str] | None = None) -> list[tuple[str, str]]:
    """RED/USE queries for the alert's workload (none when the subject is not a workload).

    ``names`` (the metrics Prometheus knows): where the http_requests_total convention is absent
    and Micrometer's or OpenTelemetry's is present, the RED probes use that one.
    """
    service = alert.subject.workload or alert.service
    if not service:
        return []
    namespace = alert.subject.namespace or alert.namespace
    container = alert.subject.container or service
    svc = f'service="{service}"'
    pod = f'pod=~"{pod_pattern(service, alert.subject.workload_kind)}"' + (
        f',namespace="{namespace}"' if namespace else ""
    )
    ctr = (f'namespace="{namespace}",' if namespace else "") + f'container="{container}"'
    probes = [(name, template.format(svc=svc, pod=pod, ctr=ctr)) for name, template in PROBES.items()]
    known = set(names or [])
    if "http_requests_total" in known or not known:
        return probes
    for metric, selector, red in CONVENTIONS:
        if metric in known:
            sel = selector.format(name=service)
            swapped = {name: template.format(sel=sel) for name, template in red.items()}
            return [(name, swapped.get(name, query)) for name, query in probes]
    return probes


def range_of(session: ToolSession, query: str, start: datetime, end: datetime) -> tuple[list[dict[str, Any]], str]:
    """A range query through the session: ``(series, error)``."""
    result = session.call(
        "execute_range_query",
        query=query,
        start=start.isoformat(),
        end=end.isoformat(),
        step=range_step(start, end, STEP_S),
    )
    if not result.ok:
        return [], result.error
    return (result.data or {}).get("result", []) or [], ""


RECENT = timedelta(minutes=5)  # the alert's own minutes: what "during" measures


def recent_window(alert: Alert, split: datetime) -> datetime:
    """Where the alert window's mean starts: its last minutes before the alert fired, never before ``split``."""
    return max(split, alert.starts_at - RECENT)


def window_means(
    series: list[dict[str, Any]], split_at: datetime, recent_from: datetime | None = None
) -> tuple[float | None, float | None]:
    """Mean of all series' values before ``split_at`` and after it (NaN samples ignored).

    ``recent_from``: the "after" mean counts only samples from then on (the alert's own
    minutes: a step that began shortly before the alert is not diluted by the calm before it).
    """
    cut = split_at.timestamp()
    recent = recent_from.timestamp() if recent_from is not None else cut
    before: list[float] = []
    after: list[float] = []
    for entry in series:
        for stamp, text in entry.get("values", []):
            value = float(text)
            if value == value and float(stamp) < cut:  # not NaN
                before.append(value)
            elif value == value and float(stamp) >= recent:
                after.append(value)
    return (fmean(before) if before else None, fmean(after) if after else None)


def analyse(
    session: ToolSession,
    alert: Alert,
    own_query: str | None,
    start: datetime,
    split: datetime,
    end: datetime,
    exclude: str | None = None,
    names: list[str] | None = None,
) -> tuple[list[Anomaly], list[str]]:
    """Compare every query's alert window with its baseline; ``(ranked anomalies-or-not, errors)``.

    ``exclude`` is a query already read (the alert's own expression): a probe equal to it is skipped.
    """
    queries: list[tuple[str, str]] = []
    if own_query:
        queries.append(("alert expression", split_comparison(own_query)[0]))
    seen = {normalize(q) for _, q in queries} | ({normalize(exclude)} if exclude else set())
    for name, query in probe_queries(alert, names):
        if normalize(query) not in seen:
            queries.append((name, query))
            seen.add(normalize(query))
    results: list[Anomaly] = []
    errors: list[str] = []
    for name, query in queries:
        series, error = range_of(session, query, start, end)
        if error:
            errors.append(f"{name}: {error}")
            if "unreachable" in error:
                break  # Prometheus is down: one finding says so, no need to probe further
            continue
        baseline, during = window_means(series, split, recent_window(alert, split))
        if baseline is not None and during is not None:
            results.append(Anomaly(name, query, baseline, during))
    own = [a for a in results if a.name == "alert expression"]
    rest = sorted((a for a in results if a.name != "alert expression"), key=lambda a: -a.score)
    return own + rest, errors


def anomaly_findings(anomalies: list[Anomaly]) -> list[Finding]:
    """Findings for the alert expression (always) and each anomalous probe, ranked."""
    findings = []
    for rank, item in enumerate(anomalies, start=1):
        if item.name != "alert expression" and not item.anomalous:
            continue
        rose = item.anomalous
        verb = "rose" if rose else "fell" if item.during < item.baseline * 0.95 else "steady"
        findings.append(
            Finding(
                kind="metric",
                title=f"{item.name} {verb}: {item.baseline:.4g} → {item.during:.4g}",
                detail=f"baseline mean {item.baseline:.4g}, alert-window mean {item.during:.4g} "
                f"(change {item.score:+.0%}, rank {rank})",
                severity="critical"
                if rose and item.name in ("alert expression", "error_ratio")
                else "warning"
                if rose
                else "info",
                evidence={
                    "probe": item.name,
                    "baseline": item.baseline,
                    "alert_window": item.during,
                    "score": round(item.score, 4),
                },
                query=item.query,
            )
        )
    return findings
