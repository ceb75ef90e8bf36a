"""Diagnosis: read the alert's signal, compare it with a baseline, and find the release behind it.

The offline playbook is a deterministic policy over real tool answers: the signal now,
the signal over an alert window against a baseline window, and the version series of
the service (a version that changed shortly before the alert is the suspect).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from statistics import fmean
from typing import Any

from langgraph.runtime import Runtime

from agents.deps import Deps, NodeUpdate
from agents.diagnosis_rules import Facts, ReleaseChange, conclude, rising_proxy
from agents.log_evidence import LogEvidence, gather
from agents.metric_analysis import analyse, anomaly_findings, range_of
from agents.signal import SignalReading, read_signal
from state.alert import Alert
from state.config import LogsConfig
from state.incident import Diagnosis, Finding, IncidentState
from tools.promql import with_labels
from tools.registry import ToolSession

BASELINE = timedelta(minutes=60)
RELEASE_LOOKBACK = timedelta(hours=24)  # the version series: a leaking release may have shipped hours ago
ALERT_LEAD = timedelta(minutes=15)
ALERT_TAIL = timedelta(minutes=10)


def window_stats(values: list[list[Any]], split_at: datetime) -> tuple[float | None, float | None]:
    """Mean before and after ``split_at`` of a Prometheus ``values`` list."""
    cut = split_at.timestamp()
    before = [float(v) for t, v in values if float(t) < cut]
    after = [float(v) for t, v in values if float(t) >= cut]
    return (fmean(before) if before else None, fmean(after) if after else None)


def release_changes(series: list[dict[str, Any]], label: str = "version") -> list[ReleaseChange]:
    """Changes of ``label`` (a version, or an image whose tag names the release) in a matrix, in time order.

    Each series is cut into runs where its samples are consecutive (a gap longer than 1.5 steps
    ends a run), so a version deployed again later (A → B → A) is a change when it comes back,
    not only when it was first seen; a run is a change when its version differs from the run
    before it.
    """
    stamps: list[tuple[str, list[float]]] = []
    for entry in series:
        version = entry.get("metric", {}).get(label)
        if version and label == "image":
            version = version.rsplit(":", 1)[-1]
        if version and entry.get("values"):
            stamps.append((version, sorted(float(t) for t, _ in entry["values"])))
    gaps = [b - a for _, ts in stamps for a, b in zip(ts, ts[1:], strict=False) if b > a]
    step = min(gaps, default=0.0)
    runs: list[tuple[float, str]] = []
    for version, ts in stamps:
        runs.append((ts[0], version))
        runs.extend((b, version) for a, b in zip(ts, ts[1:], strict=False) if b - a > 1.5 * step)
    runs.sort()
    changes = []
    for (_, previous), (at, version) in zip(runs, runs[1:], strict=False):
        if version != previous:
            changes.append(ReleaseChange(version, previous, datetime.fromtimestamp(at, tz=UTC)))
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
    return range_of(session, query, start, end)[0]


def _signal_finding(alert: Alert, reading: SignalReading) -> Finding | None:
    if reading.error:
        return Finding(kind="data", title="signal unavailable", detail=reading.error, severity="warning")
    if reading.value is None:
        return None
    return Finding(
        kind="metric",
        title=f"signal {alert.name} = {reading.value:g}",
        detail=f"{reading.query} → {reading.value:g} (firing={reading.firing})",
        severity="critical" if reading.firing else "info",
        evidence={"value": reading.value, "firing": reading.firing},
        query=reading.query,
    )


def _release_series(session: ToolSession, alert: Alert, version_metric: str, start: datetime, end: datetime) -> Any:
    """Version changes from ``version_metric{service}``, else image changes from kube_pod_container_info."""
    service = alert.service or alert.workload
    if not service:
        return [], None
    version_query = with_labels(version_metric, {"service": service})
    changes = release_changes(_range(session, version_query, start, end))
    if changes:
        return changes, version_query
    pod = f'pod=~"{service}-.*"' + (f',namespace="{alert.namespace}"' if alert.namespace else "")
    image_query = f"max by (image) (kube_pod_container_info{{{pod}}})"
    return release_changes(_range(session, image_query, start, end), label="image"), image_query


def investigate(
    session: ToolSession, alert: Alert, version_metric: str, now: datetime, logs: LogsConfig | None = None
) -> tuple[Diagnosis, list[Finding]]:
    """The offline playbook: signal, RED/USE against baseline, release series, log trace chain."""
    findings: list[Finding] = []
    reading = read_signal(session, alert)
    signal = _signal_finding(alert, reading)
    if signal:
        findings.append(signal)
    start = alert.starts_at - BASELINE
    end = min(now, alert.starts_at + ALERT_TAIL)
    split = alert.starts_at - ALERT_LEAD
    anomalies, errors = analyse(session, alert, reading.query, start, split, end)
    if errors:
        findings.append(
            Finding(kind="data", title="metrics partly unavailable", detail="; ".join(errors[:3]), severity="warning")
        )
    findings.extend(anomaly_findings(anomalies))
    proxy = None if reading.query else rising_proxy(anomalies)  # an alert without a metric: the probe that rose
    signal_rose = proxy is not None or any(
        a.anomalous for a in anomalies if a.name in ("alert expression", "error_ratio")
    )
    changes, release_query = _release_series(session, alert, version_metric, alert.starts_at - RELEASE_LOOKBACK, end)
    evidence = gather(session, alert, logs, alert.starts_at - timedelta(minutes=logs.window_min), end) if logs else None
    if evidence:
        findings.extend(evidence.findings)
    suspect = _suspect(changes, alert, signal_rose) or _audited_release(evidence, alert, signal_rose)
    if suspect:
        change, confidence = suspect
        findings.append(
            Finding(
                kind="release",
                title=f"release {change.version} deployed at {change.at:%H:%M}Z",
                detail=f"{alert.service or alert.workload} changed {change.previous} → {change.version} "
                f"{int((alert.starts_at - change.at).total_seconds() // 60)} min before the alert",
                severity="critical" if confidence >= 0.7 else "warning",
                evidence={"version": change.version, "previous": change.previous, "confidence": confidence},
                query=release_query,
            )
        )
    diagnosis = conclude(Facts(alert, reading, anomalies, suspect, signal_rose, evidence, proxy))
    _credit_deployer(diagnosis, evidence)
    return diagnosis, findings


def _audited_release(
    evidence: LogEvidence | None, alert: Alert, signal_rose: bool
) -> tuple[ReleaseChange, float] | None:
    """A release named by an audited image change before the alert (when metrics name none)."""
    for write in reversed(evidence.image_changes if evidence else []):
        when = datetime.fromisoformat(str(write["when"]).replace("Z", "+00:00")) if write.get("when") else None
        if when is None or when > alert.starts_at:
            continue
        tag = write["change"].rsplit(":", 1)[-1] if ":" in write["change"] else write["change"]
        change = ReleaseChange(tag, None, when)
        return change, round(min(0.8, release_confidence(change, alert.starts_at, signal_rose)), 2)
    return None


def _credit_deployer(diagnosis: Diagnosis, evidence: LogEvidence | None) -> None:
    """Name who shipped the suspected release, when an audit record shows it."""
    if not evidence or not diagnosis.suspected_release:
        return
    for write in reversed(evidence.image_changes):
        if write["change"].endswith(f":{diagnosis.suspected_release}"):
            diagnosis.root_cause += (
                f"; deployed by {write['who']} ({write['verb']} {write['resource']}/{write['name']} at {write['when']})"
            )
            if write["who"] not in diagnosis.entities:
                diagnosis.entities.append(write["who"])
            return


def _suspect(changes: list[ReleaseChange], alert: Alert, signal_rose: bool) -> tuple[ReleaseChange, float] | None:
    candidates = [c for c in changes if c.at <= alert.starts_at + timedelta(minutes=2)]
    if candidates:
        change = candidates[-1]
        return change, round(release_confidence(change, alert.starts_at, signal_rose), 2)
    if alert.version:
        return ReleaseChange(alert.version, None, alert.starts_at), 0.4
    return None


def consult_model(
    deps: Deps, session: ToolSession, alert: Alert, diagnosis: Diagnosis, findings: list[Finding]
) -> tuple[Diagnosis, list[Finding]]:
    """LLM mode: let the model investigate further from the playbook's evidence; fall back and say so."""
    from agents.diagnosis_llm import ask_model

    return ask_model(deps, session, alert, diagnosis, findings)


def diagnose(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Explain the alert from metrics before anything is changed."""
    deps = runtime.context
    update = NodeUpdate(state, deps, "diagnose")
    session = update.session("diagnosis")
    service = deps.settings.service(state.alert.service)
    diagnosis, findings = investigate(session, state.alert, service.version_metric, deps.clock(), deps.settings.logs)
    diagnosis, findings = consult_model(deps, session, state.alert, diagnosis, findings)
    if diagnosis.known_good_release is None and service.known_good_version:
        diagnosis.known_good_release = service.known_good_version
    deps.on_event("diagnosis", diagnosis.model_dump())
    update.decide(diagnosis.summary)
    return update.build(diagnosis=diagnosis, findings=[*state.findings, *findings])
