"""Diagnosis: who the alert is about, what its signal did, what changed before it, and why.

The offline playbook is a deterministic policy over real tool answers:

1. the alert's own signal now, and over the version lookback (its baseline, its slope and
   how it fared under each version), narrowed to the alert's own series;
2. RED/USE probes for the subject over the alert window against a baseline window;
3. the subject's version history from whatever telemetry shows it (agents/versions.py);
4. the log trace chain of the subject's own records (business error → events → audit);
5. the conclusion (agents/diagnosis_rules.py): a cause a rung can address, or why not.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from langgraph.runtime import Runtime

from agents import cloud_signal
from agents.alarm_logs import carried_evidence
from agents.deps import Deps, NodeUpdate
from agents.diagnosis_rules import Facts, conclude, is_leak_prone, rising_proxy, suspect
from agents.kube_evidence import KubeEvidence
from agents.kube_evidence import gather as kube_gather
from agents.lifecycle import configured
from agents.log_evidence import LogEvidence, gather
from agents.metric_analysis import Anomaly, analyse, anomaly_findings, range_of, recent_window
from agents.recall import finding as history_finding
from agents.recall import recall
from agents.signal import SignalReading, band_of, own_series, read_signal
from agents.signal_history import SignalHistory, version_health
from agents.subject_lookup import lookup
from agents.versions import VersionHistory, discover, history_from_audit, metric_names, runs_of
from state.alert import Alert
from state.config import LogsConfig
from state.incident import Diagnosis, Finding, IncidentState
from tools.promql import normalize, split_comparison, value_expression
from tools.registry import ToolSession

BASELINE = timedelta(minutes=60)
RELEASE_LOOKBACK = timedelta(hours=24)  # the version series: a release may have shipped hours ago
LEAK_LOOKBACK = timedelta(days=7)  # a leak climbing now may have shipped days ago (at a slope that took that long)
ALERT_LEAD = timedelta(minutes=15)
ALERT_TAIL = timedelta(minutes=10)


def _signal_finding(alert: Alert, reading: SignalReading) -> Finding | None:
    if reading.error:
        return Finding(kind="data", title="signal unavailable", detail=reading.error, severity="warning")
    if reading.value is None:
        return None
    return Finding(
        kind="metric",
        title=f"signal {alert.name} = {reading.value:.4g}",
        detail=f"{reading.query} → {reading.value:.4g} (firing={reading.firing})",
        severity="critical" if reading.firing else "info",
        evidence={"value": reading.value, "firing": reading.firing},
        query=reading.query,
    )


def _subject_finding(alert: Alert) -> Finding:
    subject = alert.subject
    reporter = f"; reported by {subject.reporter} (not the subject)" if subject.reporter else ""
    return Finding(
        kind="data",
        title=f"subject: {subject.describe()}",
        detail="; ".join(f"{k}: {v}" for k, v in subject.evidence.items()) + reporter,
        evidence=subject.model_dump(mode="json"),
    )


def _own_history(
    session: ToolSession, alert: Alert, query: str | None, start: datetime, end: datetime, *, across_pods: bool = False
) -> tuple[SignalHistory | None, str]:
    """The alert's own series over [start, end] (its comparison stripped): ``(history, error)``.

    ``across_pods``: the workload's series under every version (each version ran other pods).
    """
    if not query:
        return None, ""
    lhs = split_comparison(query)[0]
    series, error = range_of(session, lhs, start, end)
    if error:
        return None, error
    history = SignalHistory.from_series(own_series(series, alert, across_pods=across_pods), lhs)
    value = value_expression(query)
    if value and normalize(value) != normalize(lhs):  # the lhs still filters (X > 80 and ...): read X itself
        more, _ = range_of(session, value, start, end)
        valued = SignalHistory.from_series(own_series(more, alert, across_pods=across_pods), value)
        if len(valued.points) > len(history.points):
            return valued, ""
    return history, ""


def _read_own_signal(
    session: ToolSession, alert: Alert, now: datetime
) -> tuple[SignalReading, cloud_signal.CloudSignal | None]:
    """The alert's signal now: PromQL first; for a Cloud Monitor alarm nothing answers, Cloud Monitor itself."""
    reading = read_signal(session, alert)
    cloud = cloud_signal.of_alert(alert) if reading.value is None else None
    if cloud is None or not cloud_signal.available(session):
        return reading, None
    from_cloud = cloud_signal.read_now(session, cloud, alert, now)
    return (from_cloud, cloud) if from_cloud.value is not None else (reading, None)


def _signal_history(
    session: ToolSession,
    alert: Alert,
    reading: SignalReading,
    cloud: cloud_signal.CloudSignal | None,
    start: datetime,
    end: datetime,
    *,
    across_pods: bool = False,
) -> tuple[SignalHistory | None, str]:
    """The alert's own signal over [start, end] from where it was read now (Cloud Monitor, or its query)."""
    if cloud is None:
        return _own_history(session, alert, reading.query, start, end, across_pods=across_pods)
    history, error = cloud_signal.points(session, cloud, start, end)
    return (None, error) if error else (history, "")


def _own_versions(session: ToolSession, alert: Alert, query: str, start: datetime, end: datetime) -> VersionHistory:
    """Versions the alert's own series carry in a label, over [start, end]: the first source of evidence.

    The alert names only the version it fired on, so its series are matched across versions.
    """
    series, error = range_of(session, query, start, end)
    if error:
        return VersionHistory()
    runs = runs_of(own_series(series, alert, across_pods=True))
    return VersionHistory(runs, "the alert's own series (a version label)", query) if runs else VersionHistory()


def leak_climb(alert: Alert, query: str | None, history: SignalHistory | None) -> float | None:
    """The slope per hour of a leak-prone signal climbing steadily into the alert (None otherwise)."""
    if history is None or not is_leak_prone(alert, query):
        return None
    lo, hi = alert.starts_at - BASELINE, alert.starts_at + ALERT_TAIL
    return history.slope_per_h(lo, alert.starts_at) if history.steady_climb(lo, hi) else None


def _own_anomaly(
    history: SignalHistory | None, lo: datetime, split: datetime, hi: datetime, recent: datetime
) -> Anomaly | None:
    if history is None:
        return None
    baseline, during = history.mean(lo, split), history.mean(recent, hi)
    if during is not None and baseline is None and history.points:
        baseline = 0.0  # a series that exists only while bad (a comparison, a waiting reason): quiet before
    if baseline is None or during is None:
        return None
    return Anomaly("alert expression", history.query, baseline, during)


def investigate(
    session: ToolSession,
    alert: Alert,
    version_metric: str,
    now: datetime,
    logs: LogsConfig | None = None,
    release_floor: float | None = None,
) -> tuple[Diagnosis, list[Finding]]:
    """The offline playbook (module docstring): evidence gathered through the tools, then the conclusion."""
    findings: list[Finding] = [_subject_finding(alert)]
    reading, cloud = _read_own_signal(session, alert, now)
    signal = _signal_finding(alert, reading)
    if signal:
        findings.append(signal)
    start, split = alert.starts_at - BASELINE, alert.starts_at - ALERT_LEAD
    end = max(min(now, alert.starts_at + ALERT_TAIL), alert.starts_at)
    history, own_error = _signal_history(session, alert, reading, cloud, start, end)
    own = _own_anomaly(history, start, split, end, recent_window(alert, split))
    names = metric_names(session) if alert.subject.workload else None
    probes, errors = analyse(
        session, alert, None, start, split, end, exclude=history.query if history else None, names=names
    )
    errors = [f"alert expression: {own_error}", *errors] if own_error else errors
    if errors:
        findings.append(
            Finding(kind="data", title="metrics partly unavailable", detail="; ".join(errors[:3]), severity="warning")
        )
    anomalies = ([own] if own else []) + probes
    findings.extend(anomaly_findings(anomalies))
    proxy = None if reading.query else rising_proxy(anomalies)  # an alert without a metric: the probe that rose
    versions = VersionHistory()
    climb = leak_climb(alert, reading.query, history)
    since = alert.starts_at - (LEAK_LOOKBACK if climb else RELEASE_LOOKBACK)
    if history is not None and history.versioned:
        versions = _own_versions(session, alert, history.query, since, end)
    if not versions.runs:
        versions = discover(session, alert.subject, version_metric, since, end, names)
    cluster = kube_gather(session, alert.subject, end)
    if cluster is not None:
        findings.extend(cluster.findings)
        if not versions.runs and cluster.history.runs:
            versions = cluster.history
    uses = cluster.references if cluster is not None else None
    seen = cluster.events if cluster is not None else None
    window = alert.starts_at - timedelta(minutes=logs.window_min) if logs else None
    evidence = gather(session, alert, logs, window, end, references=uses, events=seen) if logs and window else None
    evidence = _with_carried(evidence, carried_evidence(alert))
    evidence = _with_cluster(evidence, cluster)
    if evidence:
        findings.extend(evidence.findings)
        if not versions.runs and evidence.image_changes:
            versions = history_from_audit(evidence.image_changes, end)
    lived = history
    if history is not None and len({r.version for r in versions.runs}) > 1:  # how the signal fared per version
        lived, _ = _signal_history(session, alert, reading, cloud, versions.runs[0].start, end, across_pods=True)
    facts = _facts(alert, reading, anomalies, versions, history, lived, evidence, proxy, release_floor, climb)
    diagnosis = conclude(facts)
    _describe_signal(diagnosis, facts)
    if cloud is not None:  # verify re-reads Cloud Monitor, not a PromQL query
        diagnosis.signal_query, diagnosis.cloud_signal = None, cloud.model_dump()
    findings.extend(_release_findings(facts, diagnosis))
    _credit_deployer(diagnosis, evidence)
    return diagnosis, unique_findings(findings)


def unique_findings(findings: list[Finding]) -> list[Finding]:
    """``findings`` without repeats: error signatures that lead to the same events or audit record say it once."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for finding in findings:
        key = (finding.kind, finding.title, finding.detail or "")
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def _with_cluster(evidence: LogEvidence | None, cluster: KubeEvidence | None) -> LogEvidence | None:
    """What the cluster says about the subject's pods (a lost node, a stuck volume) joins the log evidence."""
    if cluster is None or not (cluster.node_down or cluster.volume_stuck):
        return evidence
    evidence = evidence or LogEvidence()
    evidence.node_down = evidence.node_down or cluster.node_down
    evidence.volume_stuck = cluster.volume_stuck or evidence.volume_stuck  # the API's claims beat the logs' names
    return evidence


def _with_carried(evidence: LogEvidence | None, carried: LogEvidence | None) -> LogEvidence | None:
    """The records the alarm carries join what the log sources said (they are the alarm's own errors)."""
    if carried is None:
        return evidence
    if evidence is None:
        return carried
    evidence.findings.extend(carried.findings)
    evidence.dependencies.extend(h for h in carried.dependencies if h not in evidence.dependencies)
    return evidence


def _facts(
    alert: Alert,
    reading: SignalReading,
    anomalies: list[Anomaly],
    versions: VersionHistory,
    history: SignalHistory | None,
    lived: SignalHistory | None,
    evidence: LogEvidence | None,
    proxy: Anomaly | None,
    release_floor: float | None,
    climb: float | None = None,
) -> Facts:
    own = next((a for a in anomalies if a.name == "alert expression"), None)
    slope = history.slope_per_h(alert.starts_at - BASELINE, alert.starts_at) if history else None
    band = band_of(alert, reading.query, own.baseline if own else None, slope)
    health = version_health(lived, versions.runs, band, climb) if lived and versions.runs else []
    extra: dict[str, Any] = {"release_floor": release_floor} if release_floor is not None else {}
    return Facts(
        alert, reading, anomalies, versions, health, band, history, evidence, proxy, lived=lived, climb_per_h=climb,
        **extra,
    )  # fmt: skip


def _describe_signal(diagnosis: Diagnosis, facts: Facts) -> None:
    """Record the signal's healthy band and the version runs on the diagnosis (verify and the report use them)."""
    band = facts.band
    streak = facts.streak
    good = streak.previous_good.mean if streak and streak.previous_good else None
    diagnosis.signal_baseline = good if good is not None else band.baseline
    diagnosis.signal_threshold, diagnosis.high_is_bad = band.threshold, band.high_is_bad
    diagnosis.signal_query = facts.reading.query
    diagnosis.signal_slope_per_h = band.slope_per_h
    health = {(h.version, h.start): h for h in facts.health}
    diagnosis.versions = [
        {
            "version": run.version,
            "start": run.start.isoformat(),
            "end": run.end.isoformat(),
            "mean": health[(run.version, run.start)].mean if (run.version, run.start) in health else None,
            "healthy": health[(run.version, run.start)].healthy if (run.version, run.start) in health else None,
        }
        for run in facts.history.runs
    ]
    diagnosis.version_source = facts.history.source
    diagnosis.version_query = facts.history.query


def _release_findings(facts: Facts, diagnosis: Diagnosis) -> list[Finding]:
    """The version history and the blamed release, as evidence."""
    out = []
    if facts.history.runs:
        runs = " → ".join(dict.fromkeys(r.version for r in facts.history.runs))
        out.append(
            Finding(
                kind="release",
                title=f"versions of {facts.name}: {runs}",
                detail=f"from {facts.history.source}",
                evidence={"versions": diagnosis.versions, "source": facts.history.source},
                query=facts.history.query,
            )
        )
    blamed = suspect(facts)
    if blamed and diagnosis.suspected_release == blamed.change.version:
        change = blamed.change
        out.append(
            Finding(
                kind="release",
                title=f"release {change.version} deployed at {change.at:%H:%M}Z",
                detail=blamed.why,
                severity="critical" if blamed.confidence >= 0.7 else "warning",
                evidence={
                    "version": change.version,
                    "previous": change.previous,
                    "target": blamed.target,
                    "confidence": blamed.confidence,
                },
                query=facts.history.query,
            )
        )
    return out


_AUTOMATION = frozenset(
    {"bot", "ci", "cd", "deploy", "deployer", "pipeline", "argocd", "argo", "flux", "jenkins", "spinnaker",
     "tekton", "actions", "gitlab", "helm", "terraform", "automation", "robot", "serviceaccount", "controller"}
)  # fmt: skip


def is_automation(user: str) -> bool:
    """Whether an audited user is a pipeline or a service account rather than a person."""
    return bool(set(re.split(r"[^a-z0-9]+", user.lower())) & _AUTOMATION) or user.startswith("system:")


def _credit_deployer(diagnosis: Diagnosis, evidence: LogEvidence | None) -> None:
    """Say who shipped the suspected release, when an audit record shows it; a person who did is an entity."""
    if not evidence or not diagnosis.suspected_release:
        return
    for write in reversed(evidence.image_changes):
        if write["change"].endswith(f":{diagnosis.suspected_release}"):
            diagnosis.root_cause += (
                f"; deployed by {write['who']} ({write['verb']} {write['resource']}/{write['name']} at {write['when']})"
            )
            diagnosis.cause["deployed_by"] = write["who"]
            if not is_automation(write["who"]) and write["who"] not in diagnosis.entities:
                diagnosis.entities.append(write["who"])  # a hand-made change: who made it is part of the story
            return


def consult_model(
    update: NodeUpdate, session: ToolSession, alert: Alert, diagnosis: Diagnosis, findings: list[Finding]
) -> tuple[Diagnosis, list[Finding]]:
    """LLM mode: let the model investigate further from the playbook's evidence; fall back and say so."""
    from agents.diagnosis_llm import ask_model

    return ask_model(update.llm("diagnosis"), update.deps.tools, session, alert, diagnosis, findings)


def diagnose(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Explain the alert from its evidence before anything is changed."""
    deps = runtime.context
    update = NodeUpdate(state, deps, "diagnose")
    session = update.session("diagnosis")
    settings = deps.settings
    known = {name: service.namespace for name, service in settings.services.items()}
    alert = configured(lookup(session, state.alert, known), settings)  # the labels may not say who it is about
    service = settings.service(alert.service)
    diagnosis, findings = investigate(
        session, alert, service.version_metric, deps.clock(), settings.logs, settings.policy.release_confidence
    )
    diagnosis, findings = consult_model(update, session, alert, diagnosis, findings)
    if diagnosis.known_good_release is None and service.known_good_version:
        diagnosis.known_good_release = service.known_good_version
    recalled = recall(deps, state.incident_id, alert, diagnosis, findings)  # after the conclusion: never changes it
    if recalled is not None:
        findings.append(history_finding(recalled, settings.language))
    deps.on_event("diagnosis", diagnosis.model_dump())
    update.decide(diagnosis.summary)
    if recalled is not None and (told := history_finding(recalled, "en").detail):
        update.decide(told)
    fields: dict[str, Any] = {"diagnosis": diagnosis, "findings": [*state.findings, *findings], "recall": recalled}
    if alert is not state.alert:
        update.decide(f"subject: {alert.subject.describe()} ({alert.subject.evidence.get('name', '')})")
        fields["alert"] = alert
    return update.build(**fields)
