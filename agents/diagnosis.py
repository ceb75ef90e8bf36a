"""Diagnosis: read the alert's signal, compare it with a baseline, and find the release behind it.

The offline playbook is a deterministic policy over real tool answers: the signal now,
the signal over an alert window against a baseline window, and the version series of
the service (a version that changed shortly before the alert is the suspect).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import fmean
from typing import Any

from langgraph.runtime import Runtime

from agents.deps import Deps, recorded
from agents.signal import read_signal
from state.alert import Alert
from state.incident import Decision, Diagnosis, Finding, IncidentState
from tools.promql import split_comparison, with_labels
from tools.registry import ToolSession

BASELINE = timedelta(minutes=60)
ALERT_LEAD = timedelta(minutes=15)
ALERT_TAIL = timedelta(minutes=10)
STEP_S = 60


@dataclass(frozen=True)
class ReleaseChange:
    """A version change seen in the version series."""

    version: str
    previous: str | None
    at: datetime


def window_stats(values: list[list[Any]], split_at: datetime) -> tuple[float | None, float | None]:
    """Mean before and after ``split_at`` of a Prometheus ``values`` list."""
    cut = split_at.timestamp()
    before = [float(v) for t, v in values if float(t) < cut]
    after = [float(v) for t, v in values if float(t) >= cut]
    return (fmean(before) if before else None, fmean(after) if after else None)


def release_changes(series: list[dict[str, Any]]) -> list[ReleaseChange]:
    """Version changes in a ``{version=...}`` matrix, in time order."""
    first_seen: list[tuple[float, str]] = []
    for entry in series:
        version = entry.get("metric", {}).get("version")
        if version and entry.get("values"):
            first_seen.append((min(float(t) for t, _ in entry["values"]), version))
    first_seen.sort()
    changes = []
    for index, (at, version) in enumerate(first_seen[1:], start=1):
        changes.append(ReleaseChange(version, first_seen[index - 1][1], datetime.fromtimestamp(at, tz=UTC)))
    return changes


def release_confidence(change: ReleaseChange, alert_start: datetime, signal_rose: bool) -> float:
    """How strongly a version change explains an alert that started at ``alert_start``."""
    lead = (alert_start - change.at).total_seconds()
    if lead < -120:  # deployed after the alert began: not the cause
        return 0.1
    if lead <= 30 * 60:
        confidence = 0.85
    elif lead <= 2 * 3600:
        confidence = 0.6
    else:
        confidence = 0.3
    return min(1.0, confidence + (0.1 if signal_rose else -0.2))


def _range(session: ToolSession, query: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    result = session.call(
        "execute_range_query",
        query=query,
        start=start.isoformat(),
        end=end.isoformat(),
        step=f"{STEP_S}s",
    )
    return (result.data or {}).get("result", []) if result.ok else []


def investigate(
    session: ToolSession, alert: Alert, version_metric: str, now: datetime
) -> tuple[Diagnosis, list[Finding]]:
    """The offline playbook: signal, baseline comparison, release series."""
    findings: list[Finding] = []
    reading = read_signal(session, alert)
    if reading.error:
        findings.append(Finding(kind="data", title="signal unavailable", detail=reading.error, severity="warning"))
    elif reading.value is not None:
        findings.append(
            Finding(
                kind="metric",
                title=f"signal {alert.name} = {reading.value:g}",
                detail=f"{reading.query} → {reading.value:g} (firing={reading.firing})",
                severity="critical" if reading.firing else "info",
                evidence={"value": reading.value, "firing": reading.firing},
                query=reading.query,
            )
        )

    start = alert.starts_at - BASELINE
    end = min(now, alert.starts_at + ALERT_TAIL)
    split = alert.starts_at - ALERT_LEAD
    signal_rose = False
    if reading.query:
        lhs, _, _ = split_comparison(reading.query)
        series = _range(session, lhs, start, end)
        if series:
            baseline, during = window_stats(series[0].get("values", []), split)
            if baseline is not None and during is not None:
                signal_rose = during > baseline * 1.5 + 1e-9
                findings.append(
                    Finding(
                        kind="metric",
                        title=f"signal {'rose' if signal_rose else 'steady'}: {baseline:g} → {during:g}",
                        detail=f"baseline mean {baseline:g} before {split:%H:%M}Z, {during:g} after",
                        severity="critical" if signal_rose else "info",
                        evidence={"baseline": baseline, "alert_window": during},
                        query=lhs,
                    )
                )

    service = alert.service or alert.workload
    changes: list[ReleaseChange] = []
    if service:
        version_query = with_labels(version_metric, {"service": service})
        changes = release_changes(_range(session, version_query, start, end))
    suspect = _suspect(changes, alert, signal_rose)
    if suspect:
        change, confidence = suspect
        findings.append(
            Finding(
                kind="release",
                title=f"release {change.version} deployed at {change.at:%H:%M}Z",
                detail=f"{service} changed {change.previous} → {change.version} "
                f"{int((alert.starts_at - change.at).total_seconds() // 60)} min before the alert",
                severity="critical" if confidence >= 0.7 else "warning",
                evidence={
                    "version": change.version,
                    "previous": change.previous,
                    "confidence": confidence,
                },
                query=with_labels(version_metric, {"service": service or ""}),
            )
        )
    return _conclude(alert, reading.value, suspect, signal_rose, findings), findings


def _suspect(changes: list[ReleaseChange], alert: Alert, signal_rose: bool) -> tuple[ReleaseChange, float] | None:
    candidates = [c for c in changes if c.at <= alert.starts_at + timedelta(minutes=2)]
    if candidates:
        change = candidates[-1]
        return change, round(release_confidence(change, alert.starts_at, signal_rose), 2)
    if alert.version:
        return ReleaseChange(alert.version, None, alert.starts_at), 0.4
    return None


def _conclude(
    alert: Alert,
    value: float | None,
    suspect: tuple[ReleaseChange, float] | None,
    signal_rose: bool,
    findings: list[Finding],
) -> Diagnosis:
    subject = alert.service or alert.workload or alert.name
    if suspect and suspect[1] >= 0.5:
        change, confidence = suspect
        cause = f"release {change.version} of {subject}" + (
            f" (previously {change.previous})" if change.previous else ""
        )
        return Diagnosis(
            summary=f"{alert.name} on {subject} began after {change.version} shipped",
            root_cause=cause,
            suspected_release=change.version,
            known_good_release=change.previous,
            release_confidence=confidence,
            signal_value=value,
            entities=[e for e in (subject, change.version) if e],
        )
    if signal_rose:
        return Diagnosis(
            summary=f"{alert.name} on {subject}: signal rose with no release to blame",
            root_cause="runtime degradation without a recent release",
            signal_value=value,
            release_confidence=suspect[1] if suspect else 0.0,
            suspected_release=suspect[0].version if suspect else None,
            entities=[subject],
        )
    return Diagnosis(
        summary=f"{alert.name} on {subject}: no anomaly beyond the alert itself",
        root_cause="undetermined from metrics",
        signal_value=value,
        entities=[subject],
    )


def diagnose(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Explain the alert from metrics before anything is changed."""
    deps = runtime.context
    session = deps.session("diagnosis", state)
    service = deps.settings.service(state.alert.service)
    diagnosis, findings = investigate(session, state.alert, service.version_metric, deps.clock())
    if diagnosis.known_good_release is None and service.known_good_version:
        diagnosis.known_good_release = service.known_good_version
    deps.on_event("diagnosis", diagnosis.model_dump())
    return {
        "diagnosis": diagnosis,
        "findings": [*state.findings, *findings],
        "tool_calls": recorded(state, session.calls),
        "decisions": [
            *state.decisions,
            Decision(at=deps.clock(), node="diagnose", summary=diagnosis.summary),
        ],
    }
