"""The diagnosis conclusion: which cause the evidence shows, and whether any rung can address it.

Deterministic rules over what diagnosis read (the alert's own signal, its history per
version, RED/USE probes, the version history, the log trace chain), tried in order; the
first that holds concludes (docs/playbook.md). No rule acts without a hypothesis: only a
cause a rung can address, with a concrete target, leaves ``abstain`` empty.

1. healthy      — the alert's own signal is already back at diagnosis: noise, no change.
2. no_data      — the alert's own signal answers nothing, now or over the window: no change.
3. node / cluster / dependency / unknown — the subject is not a workload (the exporter that
                 reported it never is): nothing on the ladder acts on it; escalate with evidence.
4. release      — the signal degraded with a version change (recent, or a step in the
                 per-version history): roll back to the last version whose signal was healthy.
                 A memory signal that climbs after a release hours old is a **leak**: restart
                 (buys time), then the rollback.
5. config_edit  — an audited ConfigMap/Secret write the workload references, before the alert:
                 no operation reverts it and a restart would load it everywhere: escalate.
6. dependency   — the subject's own errors say a downstream host is unreachable: escalate.
7. leak         — a memory signal climbing steadily with no release to blame: restart buys time.
8. capacity     — traffic rose with saturation and no release: escalate (scaling is policy's call).
9. unverifiable — the alert carries no metric and no probe rose to verify a change against.
10. undetermined — nothing explains it: unresolved, escalate (never a restart on a hunch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from agents.changes import culprit, link_text, written_before
from agents.metric_analysis import Anomaly
from agents.signal import SignalReading
from agents.signal_history import SignalHistory, Streak, VersionHealth, unhealthy_streak
from agents.verification import Band
from agents.versions import ReleaseChange, VersionHistory
from state.alert import Alert
from state.incident import Diagnosis
from state.subject import Subject

if TYPE_CHECKING:
    from agents.log_evidence import LogEvidence

RELEASE_MIN_CONFIDENCE = 0.5
LEAK_MIN_LEAD = timedelta(hours=2)  # a memory alert this long after a release: the release leaks
_MEMORY = re.compile(r"mem(ory)?|oom|heap|rss|working_set", re.I)
_ACCUMULATING = re.compile(r"goroutine|thread|open_?fds|file_?descriptor|fd_?(count|usage)|handles", re.I)
Verdict = Literal["cause_found", "unresolved", "noise"]


@dataclass(frozen=True)
class Facts:
    """What diagnosis read, gathered for the conclusion."""

    alert: Alert
    reading: SignalReading
    anomalies: list[Anomaly]
    history: VersionHistory = field(default_factory=VersionHistory)
    health: list[VersionHealth] = field(default_factory=list)
    band: Band = field(default_factory=lambda: Band(None, None))
    signal: SignalHistory | None = None
    evidence: LogEvidence | None = None
    proxy: Anomaly | None = None
    release_floor: float = RELEASE_MIN_CONFIDENCE
    lived: SignalHistory | None = None  # the signal since the first version seen (per-version health)
    climb_per_h: float | None = None  # a leak climbing into the alert at this slope (versions judged by slope)

    @property
    def subject(self) -> Subject:
        """Who the alert is about."""
        return self.alert.subject

    @property
    def name(self) -> str:
        """The subject's name (or the alert's, when it names nothing)."""
        return self.subject.name or self.alert.service or self.alert.name

    @property
    def own_series(self) -> bool:
        """Whether the alert's own expression answered over the alert window."""
        return any(a.name == "alert expression" for a in self.anomalies)

    @property
    def signal_rose(self) -> bool:
        """Whether the alert's signal (or its stand-in probe) rose over its baseline."""
        return self.proxy is not None or any(
            a.anomalous for a in self.anomalies if a.name in ("alert expression", "error_ratio")
        )

    @property
    def streak(self) -> Streak | None:
        """The unhealthy streak of versions the alert belongs to, per the signal's history."""
        return unhealthy_streak(self.health, self.alert.starts_at + timedelta(minutes=2))


def rising_proxy(anomalies: list[Anomaly]) -> Anomaly | None:
    """The probe that rose most (the stand-in signal for an alert without a metric), if any rose."""
    rising = [a for a in anomalies if a.name != "alert expression" and a.anomalous and a.name != "restarts"]
    return max(rising, key=lambda a: a.score) if rising else None


def is_leak_prone(alert: Alert, query: str | None) -> bool:
    """Whether the alert measures something a process accumulates and a restart gives back.

    Memory, and what runtimes leak the same way: goroutines, threads, open file descriptors
    (Go's ``go_goroutines``/``go_threads``, the process collectors' ``process_open_fds``, the
    JVM's ``jvm_threads_live_threads``).
    """
    metric = alert.condition.metric if alert.condition else ""
    text = f"{alert.name} {metric} {query or ''}"
    return bool(_MEMORY.search(text) or _ACCUMULATING.search(text))


def release_confidence(change: ReleaseChange, alert_start: datetime, signal_rose: bool) -> float:
    """How strongly a version change explains an alert that started at ``alert_start`` (by timing)."""
    lead = (alert_start - change.at).total_seconds()
    if lead < -120:  # deployed after the alert began: not the cause
        return 0.1
    if lead <= 30 * 60:
        confidence = 0.85
    elif lead <= 2 * 3600:
        confidence = 0.6
    else:
        confidence = 0.3
    return round(min(1.0, confidence + (0.1 if signal_rose else -0.2)), 2)


# --------------------------------------------------------------------------- the suspect


@dataclass(frozen=True)
class Suspect:
    """The release blamed, the version to return to, and why."""

    change: ReleaseChange
    confidence: float
    target: str | None
    why: str
    by_history: bool = False  # the per-version history shows the step (not only the timing)
    skipped: tuple[str, ...] = ()  # later versions that did not recover it (a hotfix that did not fix)


def suspect(facts: Facts) -> Suspect | None:
    """The release the evidence blames, if any (the per-version history first, then timing)."""
    changes = [c for c in facts.history.changes() if c.at <= facts.alert.starts_at + timedelta(minutes=2)]
    streak = facts.streak
    if streak is not None and streak.previous_good is not None:
        began = streak.began
        change = next((c for c in changes if c.version == began.version and c.at == began.start), None)
        change = change or ReleaseChange(began.version, streak.previous_good.version, began.start)
        why = (
            f"the signal was healthy on {streak.previous_good.version} (mean {_num(streak.previous_good.mean)}) and "
            f"degraded from {began.version} on (mean {_num(began.mean)})"
        )
        skipped = tuple(
            dict.fromkeys(h.version for h in facts.health if h.start > began.start and h.version != began.version)
        )
        if skipped:
            why += f"; {', '.join(skipped)} did not recover it"
        timing = release_confidence(change, facts.alert.starts_at, True)
        return Suspect(change, max(0.9, timing), streak.previous_good.version, why, True, skipped)
    if changes:
        change = changes[-1]
        confidence = release_confidence(change, facts.alert.starts_at, facts.signal_rose)
        minutes = int((facts.alert.starts_at - change.at).total_seconds() // 60)
        why = f"{change.version} replaced {change.previous} {minutes} min before the alert" + (
            "; the signal rose with it" if facts.signal_rose else ""
        )
        return Suspect(change, confidence, change.previous, why)
    if facts.alert.version:
        change = ReleaseChange(facts.alert.version, None, facts.alert.starts_at)
        return Suspect(change, 0.4, None, f"the alert names version {facts.alert.version}")
    return None


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


# --------------------------------------------------------------------------- conclusions


def _base(facts: Facts, verdict: Verdict, **fields: object) -> Diagnosis:
    proxy = facts.proxy
    value = facts.reading.value if facts.reading.query else (proxy.during if proxy else None)
    diagnosis = Diagnosis(signal_value=value, entities=[facts.name], verdict=verdict, **fields)  # type: ignore[arg-type]
    if proxy is not None and not facts.reading.query:
        diagnosis.proxy_query, diagnosis.proxy_baseline = proxy.query, proxy.baseline
    return diagnosis


def _abstention(facts: Facts) -> Diagnosis | None:
    """Rules 1-2: nothing to fix, or nothing to verify a fix against."""
    reading, name = facts.reading, f"{facts.alert.name} on {facts.name}"
    if reading.query and reading.firing is False and (reading.value is not None or facts.own_series):
        why = "the alert's own signal is already healthy at diagnosis; nothing to change"
        return _base(
            facts, "noise", summary=f"{name}: signal already healthy", root_cause=why, pattern="healthy", abstain=why
        )
    if reading.query and reading.value is None and not facts.own_series:
        why = f"no data for the alert's signal ({reading.error or 'empty answer'}); cannot verify any change"
        return _base(
            facts, "unresolved", summary=f"{name}: no data to confirm the alert", root_cause=why, pattern="no_data",
            abstain=why,
        )  # fmt: skip
    return None


def _not_a_workload(facts: Facts) -> Diagnosis | None:
    """Rule 3: a node, the cluster, a dependency, or nothing identifiable: no rung acts on it."""
    subject = facts.subject
    if subject.kind == "workload":
        return None
    what = {
        "node": "a node",
        "volume": "a storage volume",
        "namespace": "a namespace's own configuration",
        "cluster": "the cluster as a whole",
        "dependency": "an external dependency",
        "unknown": "nothing the labels identify",
    }[subject.kind]
    detail = "; ".join(f"{k}: {v}" for k, v in subject.evidence.items())
    why = f"the alert is about {what} ({subject.describe()}; {detail}); no rung of the ladder acts on it"
    verdict: Verdict = "unresolved" if subject.kind == "unknown" else "cause_found"
    diagnosis = _base(
        facts, verdict, summary=f"{facts.alert.name} on {subject.describe()}", root_cause=why,
        pattern=subject.kind, abstain=why,
    )  # fmt: skip
    diagnosis.entities = [subject.name] if subject.name else []
    diagnosis.cause = {"subject": subject.describe(), "evidence": dict(subject.evidence), "reporter": subject.reporter}
    return diagnosis


def _lost_node(facts: Facts) -> Diagnosis | None:
    """Rule 3b: the subject's pods lost their node (node controller events): the node is the cause."""
    down = facts.evidence.node_down if facts.evidence else None
    if not down:
        return None
    pods = ", ".join(down["pods"])
    why = (
        f"{pods} of {facts.subject.describe()} lost node {down['node']} ({down['reason']} at {down['when']}); "
        "nothing about the workload changed and no rung of the ladder acts on a node"
    )
    diagnosis = _base(
        facts, "cause_found", summary=f"{facts.alert.name} on {facts.name}: node {down['node']} is not ready",
        root_cause=why, pattern="node", abstain=why,
    )  # fmt: skip
    diagnosis.entities = [down["node"]]
    diagnosis.cause = dict(down)
    return diagnosis


def _stuck_volume(facts: Facts) -> Diagnosis | None:
    """Rule 4b: the subject's pods wait on storage they cannot attach or mount (their events say which)."""
    stuck = facts.evidence.volume_stuck if facts.evidence else None
    if not stuck:
        return None
    names = [*stuck["claims"], *stuck["volumes"]]
    why = (
        f"{facts.subject.describe()} waits on {', '.join(names)}: {stuck['reason']} at {stuck['when']} "
        f"({stuck['message'][:160]}); no rung of the ladder attaches or frees a volume"
    )
    summary = f"{facts.alert.name} on {facts.name}: volume {names[0]} cannot be attached or mounted"
    diagnosis = _base(facts, "cause_found", summary=summary, root_cause=why, pattern="volume", abstain=why)
    diagnosis.entities = names  # the storage is the root-cause entity, not the workload waiting on it
    diagnosis.cause = dict(stuck)
    return diagnosis


def _release(facts: Facts, blamed: Suspect) -> Diagnosis:
    """Rule 4: the version change the signal degraded with (a leak when memory climbs long after it)."""
    change, name = blamed.change, facts.name
    lead = facts.alert.starts_at - change.at
    leak = is_leak_prone(facts.alert, facts.reading.query) and lead >= LEAK_MIN_LEAD
    pattern = "leak" if leak else "release"
    cause = (
        f"memory leak in release {change.version} of {name}" if leak else f"release {change.version} of {name}"
    ) + (f" (previously {change.previous})" if change.previous else "")
    diagnosis = _base(
        facts,
        "cause_found",
        summary=f"{facts.alert.name} on {name} began after {change.version} shipped",
        root_cause=f"{cause}: {blamed.why}",
        suspected_release=change.version,
        known_good_release=blamed.target,
        release_confidence=blamed.confidence,
        pattern=pattern,
    )
    diagnosis.entities.append(change.version)
    diagnosis.entities.extend(v for v in blamed.skipped if v not in diagnosis.entities)  # hotfixes that did not fix
    resets = facts.lived.resets(change.at, facts.alert.starts_at) if leak and facts.lived else []
    diagnosis.cause = {
        "reset_seen": bool(resets),
        "version": change.version,
        "previous": change.previous,
        "at": change.at.isoformat(),
        "lead_min": int(lead.total_seconds() // 60),
        "target": blamed.target,
        "by_history": blamed.by_history,
        # the slope changed at this release (flat before, climbing since): a restart would only reset it
        "leak_tied_to_release": leak and blamed.by_history and facts.climb_per_h is not None,
        "skipped": blamed.skipped,
    }
    return diagnosis


def _config_edit(facts: Facts) -> Diagnosis | None:
    """Rule 5: an audited config write the workload uses, before the alert."""
    writes = [
        w for w in (facts.evidence.config_changes if facts.evidence else []) if written_before(w, facts.alert.starts_at)
    ]
    if not writes:
        return None
    last = writes[-1]
    why = (
        f"{last['who']} {last['verb']} {last['resource']}/{last['name']} at {last['when']} before the alert. "
        "No operation reverts it and a restart would load it everywhere: a human must revert it"
    )
    diagnosis = _base(
        facts, "cause_found", summary=f"{facts.alert.name} on {facts.name} after a config edit by {last['who']}",
        root_cause=why, pattern="config_edit", abstain=why,
    )  # fmt: skip
    diagnosis.entities.extend(e for e in (last["name"], last["who"]) if e not in diagnosis.entities)
    diagnosis.cause = {k: last.get(k) for k in ("who", "verb", "resource", "name", "when")}
    return diagnosis


def _namespace_change(facts: Facts) -> Diagnosis | None:
    """Rule 5b: an audited write to a namespace object linked to the subject (a NetworkPolicy, a quota), before it."""
    last = culprit(facts.evidence.namespace_changes if facts.evidence else [])
    if last is None:
        return None
    change = f" ({last['change']})" if last.get("change") else ""
    why = (
        f"{last['who']} {last['verb']} {last['resource']}/{last['name']}{change} at {last['when']}, before the alert; "
        f"linked because {link_text(last['linked_by'])}. No rung reverts a namespace object: a person must review it"
    )
    what = f"{last['who']} {last['verb']} {last['resource']}/{last['name']}"
    diagnosis = _base(
        facts, "cause_found", summary=f"{facts.alert.name} on {facts.name} after {what}", root_cause=why,
        pattern="namespace_change", abstain=why,
    )  # fmt: skip
    diagnosis.entities.extend(e for e in (last["name"], last["who"]) if e not in diagnosis.entities)
    diagnosis.cause = {k: last.get(k) for k in ("who", "verb", "resource", "name", "when", "change", "linked_by")}
    return diagnosis


def _dependency(facts: Facts) -> Diagnosis | None:
    """Rule 6: the subject's own errors name a downstream host it cannot reach."""
    hosts = facts.evidence.dependencies if facts.evidence else []
    if not hosts:
        return None
    why = f"{facts.name}'s calls to {', '.join(hosts)} fail (its errors say so); no release or config change to undo"
    diagnosis = _base(
        facts, "cause_found", summary=f"{facts.alert.name} on {facts.name}: dependency {hosts[0]} is down",
        root_cause=why, pattern="dependency", abstain=why,
    )  # fmt: skip
    diagnosis.entities = list(hosts)  # the root cause is the dependency, not the service that reports it
    diagnosis.cause = {"hosts": list(hosts)}
    return diagnosis


def _climbing_resource(facts: Facts) -> Diagnosis | None:
    """Rule 7: memory (or goroutines, threads, fds) climbing steadily, no release to blame: a restart buys time."""
    if not (facts.signal and is_leak_prone(facts.alert, facts.reading.query) and facts.reading.firing):
        return None
    start = facts.alert.starts_at
    if not facts.signal.steady_climb(start - timedelta(hours=1), start + timedelta(minutes=10)):
        return None
    slope = facts.signal.slope_per_h(start - timedelta(hours=1), start)
    what = "memory" if _MEMORY.search(f"{facts.alert.name} {facts.reading.query or ''}") else "signal"
    why = f"{facts.name}'s {what} climbs steadily ({_num(slope)}/h) with no release to blame: a leak"
    diagnosis = _base(
        facts, "cause_found", summary=f"{facts.alert.name} on {facts.name}: memory leak", root_cause=why,
        pattern="leak",
    )  # fmt: skip
    diagnosis.cause = {"slope_per_h": slope}
    return diagnosis


def _capacity(facts: Facts) -> Diagnosis | None:
    """Rule 8: more traffic than before, with saturation, and no release: capacity."""
    by_name = {a.name: a for a in facts.anomalies}
    traffic = by_name.get("request_rate")
    if traffic is None or not traffic.anomalous:
        return None
    strained = [
        n for n in ("latency_p99_s", "cpu_saturation", "alert expression") if n in by_name and by_name[n].anomalous
    ]
    if not strained:
        return None
    why = (
        f"traffic rose {traffic.baseline:.4g} → {traffic.during:.4g} req/s with {', '.join(strained)} and no release: "
        "a capacity problem; scaling is for policy (policy.pattern_rungs) or a human"
    )
    diagnosis = _base(
        facts, "cause_found", summary=f"{facts.alert.name} on {facts.name}: load beyond capacity", root_cause=why,
        pattern="capacity", abstain=why,
    )  # fmt: skip
    diagnosis.cause = {"traffic_from": traffic.baseline, "traffic_to": traffic.during, "strained": strained}
    return diagnosis


def _leaking_release(facts: Facts, blamed: Suspect | None) -> bool:
    """A firing memory alert hours after a release (with a version to return to): the release leaks."""
    return bool(
        blamed is not None
        and blamed.change.previous
        and facts.reading.firing
        and is_leak_prone(facts.alert, facts.reading.query)
        and facts.alert.starts_at - blamed.change.at >= LEAK_MIN_LEAD
    )


def _leak_confidence(facts: Facts, blamed: Suspect) -> float:
    """How surely the release leaks: its memory climbs since it shipped while the version before held flat."""
    lived, at = facts.lived, blamed.change.at
    if lived is None:
        return 0.5
    climb = lived.slope_per_h(at, facts.alert.starts_at)
    before = lived.slope_per_h(at - (facts.alert.starts_at - at), at)
    if climb is None or climb <= 0:
        return 0.5
    return 0.8 if before is None or abs(before) <= 0.25 * climb else 0.6


def conclude(facts: Facts) -> Diagnosis:
    """The first rule that holds (module docstring) decides the diagnosis."""
    found = _abstention(facts)
    if found is None and facts.subject.kind == "namespace":  # a quota's own changes say who made it bite
        found = _namespace_change(facts)
    found = found or _not_a_workload(facts) or _lost_node(facts)
    if found:
        return found
    blamed = suspect(facts)
    if blamed is not None and blamed.confidence >= facts.release_floor:
        return _release(facts, blamed)
    found = _stuck_volume(facts) or _config_edit(facts) or _namespace_change(facts) or _dependency(facts)
    if found:
        return found
    if not facts.reading.query and facts.proxy is None:
        why = "the alert carries no metric and no probe rose to verify a change against"
        return _base(
            facts, "unresolved", summary=f"{facts.alert.name} on {facts.name}: nothing to verify against",
            root_cause=why, pattern="unverifiable", abstain=why,
        )  # fmt: skip
    if _leaking_release(facts, blamed):
        assert blamed is not None  # a memory alert long after a release: the leak came with it
        return _release(facts, replace(blamed, confidence=max(blamed.confidence, _leak_confidence(facts, blamed))))
    found = _climbing_resource(facts) or _capacity(facts)
    if found:
        return found
    why = "no release, config change, dependency or load explains it; a person must look"
    what = "signal rose with nothing to blame" if facts.signal_rose else "no anomaly beyond the alert itself"
    diagnosis = _base(
        facts, "unresolved", summary=f"{facts.alert.name} on {facts.name}: {what}", root_cause=why,
        pattern="undetermined", abstain=why,
    )  # fmt: skip
    if blamed is not None:
        diagnosis.suspected_release, diagnosis.release_confidence = blamed.change.version, blamed.confidence
    return diagnosis
