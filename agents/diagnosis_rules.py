"""The diagnosis conclusion: which failure pattern the evidence shows, and whether to act at all.

Deterministic rules over what diagnosis read (the alert's signal, RED/USE probes, the
version series, the log trace chain), tried in order; the first that holds concludes
(docs/playbook.md):

1. healthy     — the alert's own signal is already back under its threshold: abstain.
2. no_data     — the alert's own signal answers nothing, now or over the window: abstain.
3. release     — a version change shortly before the alert explains it: act (rung 3 first).
4. config_edit — an audited ConfigMap/Secret write before the alert, no recent release:
                 abstain (no operation reverts a ConfigMap; a restart would spread it).
5. dependency  — the service's errors say a downstream host is unreachable, no recent
                 release: abstain and name the dependency (no rollback can fix it).
6. unverifiable — the alert has no metric and no probe rose to stand in for it: abstain.
7. leak        — a memory signal fires and a release shipped within the lookback: act,
                 restart first, then roll back to the release before it.
8. runtime / undetermined — walk the ladder from rung 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from agents.metric_analysis import Anomaly
from agents.signal import SignalReading
from state.alert import Alert
from state.incident import Diagnosis

if TYPE_CHECKING:
    from agents.log_evidence import LogEvidence

RELEASE_MIN_CONFIDENCE = 0.5
_MEMORY = re.compile(r"mem(ory)?|oom", re.I)


@dataclass(frozen=True)
class ReleaseChange:
    """A version change seen in the version series."""

    version: str
    previous: str | None
    at: datetime


@dataclass(frozen=True)
class Facts:
    """What diagnosis read, gathered for the conclusion."""

    alert: Alert
    reading: SignalReading
    anomalies: list[Anomaly]
    suspect: tuple[ReleaseChange, float] | None
    signal_rose: bool
    evidence: LogEvidence | None
    proxy: Anomaly | None

    @property
    def subject(self) -> str:
        """The service (or workload, or alert) the incident is about."""
        return self.alert.service or self.alert.workload or self.alert.name

    @property
    def own_series(self) -> bool:
        """Whether the alert's own expression answered over the alert window."""
        return any(a.name == "alert expression" for a in self.anomalies)

    @property
    def confident_release(self) -> bool:
        """Whether a version change explains the alert well enough to blame it."""
        return bool(self.suspect and self.suspect[1] >= RELEASE_MIN_CONFIDENCE)


def rising_proxy(anomalies: list[Anomaly]) -> Anomaly | None:
    """The probe that rose most (the stand-in signal for an alert without a metric), if any rose."""
    rising = [a for a in anomalies if a.name != "alert expression" and a.anomalous and a.name != "restarts"]
    return max(rising, key=lambda a: a.score) if rising else None


def is_memory_alert(alert: Alert, query: str | None) -> bool:
    """Whether the alert measures memory (its name, metric or expression says so)."""
    metric = alert.condition.metric if alert.condition else ""
    return bool(_MEMORY.search(f"{alert.name} {metric} {query or ''}"))


def _base(facts: Facts, **fields: object) -> Diagnosis:
    proxy = facts.proxy
    value = facts.reading.value if facts.reading.query else (proxy.during if proxy else None)
    diagnosis = Diagnosis(signal_value=value, entities=[facts.subject], **fields)  # type: ignore[arg-type]
    if proxy is not None and not facts.reading.query:
        diagnosis.proxy_query, diagnosis.proxy_baseline = proxy.query, proxy.baseline
    return diagnosis


def _abstention(facts: Facts) -> Diagnosis | None:
    """Rules 1-2: nothing to fix, or nothing to verify a fix against."""
    reading, name = facts.reading, f"{facts.alert.name} on {facts.subject}"
    if reading.query and reading.firing is False and (reading.value is not None or facts.own_series):
        why = "the alert's own signal is already healthy at diagnosis; nothing to change"
        return _base(facts, summary=f"{name}: signal already healthy", root_cause=why, pattern="healthy", abstain=why)
    if reading.query and reading.value is None and not facts.own_series:
        why = f"no data for the alert's signal ({reading.error or 'empty answer'}); cannot verify any change"
        return _base(
            facts, summary=f"{name}: no data to confirm the alert", root_cause=why, pattern="no_data", abstain=why
        )
    return None


def _release(facts: Facts) -> Diagnosis:
    """Rule 3: the version change before the alert."""
    assert facts.suspect is not None
    change, confidence = facts.suspect
    cause = f"release {change.version} of {facts.subject}" + (
        f" (previously {change.previous})" if change.previous else ""
    )
    diagnosis = _base(
        facts,
        summary=f"{facts.alert.name} on {facts.subject} began after {change.version} shipped",
        root_cause=cause,
        suspected_release=change.version,
        known_good_release=change.previous,
        release_confidence=confidence,
        pattern="release",
    )
    diagnosis.entities.append(change.version)
    return diagnosis


def _config_edit(facts: Facts) -> Diagnosis | None:
    """Rule 4: an audited config write before the alert and no release to blame."""
    writes = [w for w in (facts.evidence.config_changes if facts.evidence else []) if _before_alert(w, facts.alert)]
    if not writes:
        return None
    last = writes[-1]
    why = (
        f"{last['who']} {last['verb']} {last['resource']}/{last['name']} at {last['when']} before the alert; "
        "no release changed. No operation reverts it and a restart would load it everywhere: a human must revert it"
    )
    diagnosis = _base(
        facts,
        summary=f"{facts.alert.name} on {facts.subject} after a config edit by {last['who']}",
        root_cause=why,
        pattern="config_edit",
        abstain=why,
    )
    diagnosis.entities.extend(e for e in (last["name"], last["who"]) if e not in diagnosis.entities)
    return diagnosis


def _dependency(facts: Facts) -> Diagnosis | None:
    """Rule 5: the errors name a downstream host the service cannot reach."""
    hosts = facts.evidence.dependencies if facts.evidence else []
    if not hosts:
        return None
    why = f"{facts.subject}'s errors say {', '.join(hosts)} cannot be reached; no release or config change to undo"
    diagnosis = _base(
        facts,
        summary=f"{facts.alert.name} on {facts.subject}: dependency {hosts[0]} is down",
        root_cause=why,
        pattern="dependency",
        abstain=why,
    )
    diagnosis.entities = list(hosts)  # the root cause is the dependency, not the service that reports it
    return diagnosis


def _leak(facts: Facts) -> Diagnosis | None:
    """Rule 7: memory fires and the last release before the alert is hours old."""
    if not (facts.suspect and facts.reading.firing and is_memory_alert(facts.alert, facts.reading.query)):
        return None
    change, confidence = facts.suspect
    if not change.previous:
        return None
    diagnosis = _base(
        facts,
        summary=f"{facts.alert.name} on {facts.subject}: memory leak since {change.version}",
        root_cause=f"memory leak in release {change.version} of {facts.subject} (previously {change.previous})",
        suspected_release=change.version,
        known_good_release=change.previous,
        release_confidence=confidence,
        pattern="leak",
    )
    diagnosis.entities.append(change.version)
    return diagnosis


def _before_alert(write: dict[str, object], alert: Alert) -> bool:
    from datetime import datetime

    when = str(write.get("when") or "")
    if not when:
        return False
    return datetime.fromisoformat(when.replace("Z", "+00:00")) <= alert.starts_at


def conclude(facts: Facts) -> Diagnosis:
    """The first rule that holds (module docstring) decides the diagnosis."""
    found = _abstention(facts)
    if found:
        return found
    if facts.confident_release:
        return _release(facts)
    found = _config_edit(facts) or _dependency(facts)
    if found:
        return found
    if not facts.reading.query and facts.proxy is None:
        why = "the alert carries no metric and no probe rose to verify a change against"
        return _base(
            facts,
            summary=f"{facts.alert.name} on {facts.subject}: nothing to verify against",
            root_cause=why,
            pattern="unverifiable",
            abstain=why,
        )
    found = _leak(facts)
    if found:
        return found
    name = f"{facts.alert.name} on {facts.subject}"
    if facts.signal_rose:
        suspect = facts.suspect
        return _base(
            facts,
            summary=f"{name}: signal rose with no release to blame",
            root_cause="runtime degradation without a recent release",
            pattern="runtime",
            release_confidence=suspect[1] if suspect else 0.0,
            suspected_release=suspect[0].version if suspect else None,
        )
    return _base(
        facts,
        summary=f"{name}: no anomaly beyond the alert itself",
        root_cause="undetermined from metrics",
        pattern="undetermined",
    )
