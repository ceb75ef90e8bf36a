"""The structured facts of a daily briefing, read from the incident store.

A briefing for day D covers D-1 in the team's local time (``policy`` working-hours
offset): the incidents opened that day by severity, the rollbacks tried and whether
they held, what was escalated, the top log signatures and the metric anomalies the
diagnosis found. Everything here is deterministic; prose is rendered elsewhere.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from pydantic import BaseModel, Field

from state.store import Store

ROLLBACK_ACTIONS = ("version_rollback", "full_rollback")


class Rollback(BaseModel):
    """A ladder action that changed something, and whether its effect held."""

    incident_id: str
    service: str
    action: str
    target: str | None = None
    verified: bool | None = None
    held: bool = False


class Escalation(BaseModel):
    """An incident the agent could not solve and handed to people."""

    incident_id: str
    name: str
    service: str
    severity: str
    reason: str
    chart: str | None = Field(default=None, description="Path of its key-metric PNG, when drawn.")


class ActionTaken(BaseModel):
    """A ladder action the day's incidents executed, and what its verification said."""

    incident_id: str
    service: str
    action: str
    at: datetime
    verdict: str = Field(description="verified | not_verified | undone | unverified | failed")


class Anomaly(BaseModel):
    """A metric that moved away from its baseline."""

    incident_id: str
    service: str
    metric: str
    baseline: float
    during: float


class BriefingFacts(BaseModel):
    """Everything a briefing says, before any wording."""

    user: str
    day: date = Field(description="The day the briefing is given.")
    covers: date = Field(description="The day it reports on (the day before).")
    language: str = "zh"
    total: int = 0
    by_severity: dict[str, int] = Field(default_factory=dict)
    incidents: list[dict[str, Any]] = Field(default_factory=list)
    rollbacks: list[Rollback] = Field(default_factory=list)
    escalations: list[Escalation] = Field(default_factory=list)
    log_signatures: list[tuple[str, int]] = Field(default_factory=list)
    anomalies: list[Anomaly] = Field(default_factory=list)
    pending_approvals: list[dict[str, Any]] = Field(default_factory=list)
    still_escalated: int = Field(default=0, description="Escalations from earlier days still open.")
    actions: list[ActionTaken] = Field(default_factory=list, description="Every action of the day, for the chart.")
    utc_offset_hours: float = Field(default=0.0, description="The team's time zone: the chart's hours are local.")


def local_zone(utc_offset_hours: float) -> timezone:
    """The team's fixed-offset time zone."""
    return timezone(timedelta(hours=utc_offset_hours))


def covered_span(day: date, zone: timezone) -> tuple[datetime, datetime]:
    """UTC bounds [start, end) of the day before ``day`` in ``zone``."""
    end = datetime.combine(day, time(0), tzinfo=zone)
    return (end - timedelta(days=1)).astimezone(UTC), end.astimezone(UTC)


def _subject(doc: dict[str, Any]) -> str:
    alert = doc.get("alert") or {}
    return str(alert.get("service") or alert.get("workload") or alert.get("name") or "-")


def rollbacks_of(docs: list[dict[str, Any]]) -> list[Rollback]:
    """Rollbacks tried in ``docs``; one held when verified and no later incident hit the same alert."""
    found = []
    for index, doc in enumerate(docs):
        alert = doc.get("alert") or {}
        later = any(
            (d.get("alert") or {}).get("name") == alert.get("name") and _subject(d) == _subject(doc)
            for d in docs[index + 1 :]
        )
        for attempt in doc.get("attempts") or []:
            result = attempt.get("result") or {}
            if attempt.get("action") not in ROLLBACK_ACTIONS or result.get("status") != "success":
                continue
            verified = attempt.get("verified")
            found.append(
                Rollback(
                    incident_id=doc["id"],
                    service=_subject(doc),
                    action=attempt["action"],
                    target=(attempt.get("params") or {}).get("target"),
                    verified=verified,
                    held=bool(verified) and doc.get("status") == "resolved" and not later,
                )
            )
    return found


def _verdict(attempt: dict[str, Any]) -> str:
    if (attempt.get("result") or {}).get("status") not in (None, "success"):
        return "failed"
    if attempt.get("undone"):
        return "undone"
    verified = attempt.get("verified")
    return "unverified" if verified is None else ("verified" if verified else "not_verified")


def actions_of(docs: list[dict[str, Any]]) -> list[ActionTaken]:
    """Every executed ladder action of ``docs`` with when it started and its verification."""
    found = []
    for doc in docs:
        for attempt in doc.get("attempts") or []:
            if not attempt.get("action") or not attempt.get("started_at") or attempt.get("result") is None:
                continue  # a rung that never reached the executor (denied, waiting for approval)
            found.append(
                ActionTaken(
                    incident_id=doc["id"],
                    service=_subject(doc),
                    action=str(attempt["action"]),
                    at=datetime.fromisoformat(str(attempt["started_at"])),
                    verdict=_verdict(attempt),
                )  # fmt: skip
            )
    return found


def _escalation(doc: dict[str, Any]) -> Escalation:
    alert = doc.get("alert") or {}
    return Escalation(
        incident_id=doc["id"],
        name=str(alert.get("name", "")),
        service=_subject(doc),
        severity=str(alert.get("severity", "warning")),
        reason=str(doc.get("escalation_reason") or ""),
    )


def signatures_of(docs: list[dict[str, Any]], top: int = 5) -> list[tuple[str, int]]:
    """The most frequent log signatures among the incidents' log findings."""
    counts: Counter[str] = Counter()
    for doc in docs:
        for finding in doc.get("findings") or []:
            if finding.get("kind") in ("log", "event", "audit"):
                evidence = finding.get("evidence") or {}
                signature = str(evidence.get("signature") or finding.get("title") or "").strip()
                if signature:
                    counts[signature] += int(evidence.get("count") or 1)
    return counts.most_common(top)


def anomalies_of(docs: list[dict[str, Any]]) -> list[Anomaly]:
    """Metric findings whose alert window departed from the baseline (at least 1.5x)."""
    found = []
    for doc in docs:
        for finding in doc.get("findings") or []:
            evidence = finding.get("evidence") or {}
            baseline, during = evidence.get("baseline"), evidence.get("alert_window")
            if finding.get("kind") != "metric" or baseline is None or during is None:
                continue
            if float(during) > float(baseline) * 1.5 + 1e-9 or float(during) < float(baseline) / 1.5 - 1e-9:
                alert = doc.get("alert") or {}
                found.append(
                    Anomaly(
                        incident_id=doc["id"],
                        service=_subject(doc),
                        metric=str(alert.get("name") or "signal"),
                        baseline=float(baseline),
                        during=float(during),
                    )
                )
    return found


def collect(store: Store, user: str, day: date, *, utc_offset_hours: float, language: str = "zh") -> BriefingFacts:
    """The facts of ``user``'s briefing given on ``day`` (covering the day before)."""
    start, end = covered_span(day, local_zone(utc_offset_hours))
    docs = store.incidents_between(start, end)
    severities = Counter(str((d.get("alert") or {}).get("severity", "warning")) for d in docs)
    escalated = [d for d in docs if d.get("status") == "escalated"]
    in_day = {d["id"] for d in docs}
    still = [d for d in store.escalated() if d["id"] not in in_day]
    pending = [
        {"incident_id": d["id"], "service": _subject(d), **(d.get("pending") or {})}
        for d in store.with_status("awaiting_approval")
    ]
    return BriefingFacts(
        user=user,
        day=day,
        covers=day - timedelta(days=1),
        language=language,
        total=len(docs),
        by_severity=dict(severities.most_common()),
        incidents=[
            {
                "id": d["id"],
                "name": (d.get("alert") or {}).get("name"),
                "service": _subject(d),
                "severity": (d.get("alert") or {}).get("severity"),
                "status": d.get("status"),
                "created_at": d["created_at"],
            }
            for d in docs
        ],
        rollbacks=rollbacks_of(docs),
        escalations=[_escalation(d) for d in escalated],
        log_signatures=signatures_of(docs),
        anomalies=anomalies_of(docs),
        pending_approvals=pending,
        still_escalated=len(still),
        actions=actions_of(docs),
        utc_offset_hours=utc_offset_hours,
    )
