"""Recall: the closest past incidents of a subject, and what each rung did for its causes.

Read from the facts rows (state/facts.py) of incidents that ended (resolved, escalated or
failed) inside the window, never the incident being diagnosed. The models are what a
checkpoint keeps (``IncidentState.recall``), so a replay re-plans from the same history.

Closeness, for one subject (its own incidents only): the same diagnosed pattern counts
most, then the same alert rule, the same kind of change before it (a release, a config
edit, none) and shared error signatures (Jaccard over the grouped log signatures).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import case, func, select

from state.facts import FINISHED, AttemptFacts, IncidentFacts, utc
from state.store import Store

CANDIDATES = 200  # newest finished incidents of the subject scored for closeness
WEIGHTS = {"pattern": 4.0, "rule": 2.0, "change": 1.0, "signatures": 2.0}


class HistoryQuery(BaseModel):
    """What diagnosis asks history about."""

    subject: str
    rule: str
    pattern: str
    change_kind: str = "none"
    signatures: list[str] = Field(default_factory=list)
    since: datetime
    before: datetime
    exclude: str = Field(default="", description="The incident being diagnosed.")
    limit: int = Field(default=3, ge=1, le=20)


class PastIncident(BaseModel):
    """One past incident of the subject and how it ended."""

    id: str
    opened_at: datetime
    rule: str
    pattern: str
    verdict: str
    status: str
    change_kind: str
    suspected_release: str | None = None
    attempts: int = 0
    fixed_by: str | None = Field(default=None, description="The operation that fixed it and held.")
    fixed_rung: int | None = None
    fixed_in: int | None = Field(default=None, description="The attempt that fixed it (1 = the first).")
    escalation: str = ""
    closeness: float = 0.0
    matches: list[str] = Field(default_factory=list, description="pattern | rule | change | signatures")


class RungOutcomes(BaseModel):
    """What one rung did for one pattern of the subject: verified fixes, verified failures, tries."""

    pattern: str
    rung: int
    operation: str
    verified: int = Field(default=0, description="Fixed the alert and held.")
    failed: int = Field(default=0, description="Verified not to fix it (still firing, masked, not at baseline, worse).")
    tried: int = Field(default=0, description="Every attempt, with or without a verdict.")


class Recall(BaseModel):
    """History of one subject for the incident being diagnosed."""

    subject: str
    pattern: str
    since: datetime
    before: datetime
    incidents: int = Field(default=0, description="Finished past incidents of the subject in the window.")
    by_pattern: dict[str, int] = Field(default_factory=dict)
    similar: list[PastIncident] = Field(default_factory=list, description="Closest first.")
    outcomes: list[RungOutcomes] = Field(default_factory=list, description="Every pattern of the subject.")
    error: str = Field(default="", description="Why history could not be read (then it is empty).")

    def rung_outcomes(self, pattern: str) -> list[RungOutcomes]:
        """The outcomes of ``pattern``'s rungs."""
        return [o for o in self.outcomes if o.pattern == pattern]


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def closeness(query: HistoryQuery, row: Any) -> tuple[float, list[str]]:
    """How close a past incident is to the one diagnosed, and what they share."""
    signatures = set(json.loads(row.signatures or "[]"))
    shared = _jaccard(set(query.signatures), signatures)
    matches = [
        name
        for name, same in (
            ("pattern", bool(query.pattern) and row.pattern == query.pattern),
            ("rule", row.rule == query.rule),
            ("change", query.change_kind != "none" and row.change_kind == query.change_kind),
            ("signatures", shared > 0),
        )
        if same
    ]
    score = sum(WEIGHTS[m] for m in matches if m != "signatures") + WEIGHTS["signatures"] * shared
    return round(score, 3), matches


def _past(row: Any, score: float, matches: list[str]) -> PastIncident:
    return PastIncident(
        id=row.incident_id, opened_at=utc(row.opened_at), rule=row.rule, pattern=row.pattern, verdict=row.verdict,
        status=row.status, change_kind=row.change_kind, suspected_release=row.suspected_release,
        attempts=row.attempts, fixed_by=row.fixed_by, fixed_rung=row.fixed_rung, fixed_in=row.fixed_in,
        escalation=row.escalation, closeness=score, matches=matches,
    )  # fmt: skip


def recall(store: Store, query: HistoryQuery) -> Recall:
    """The subject's history for ``query``: its closest past incidents and every rung's outcomes."""
    since, before = utc(query.since), utc(query.before)
    # The incident being diagnosed is open, so "finished" already leaves it out of the counts (read from the
    # covering indexes); the candidates also exclude it by id.
    window = (
        IncidentFacts.subject == query.subject,
        IncidentFacts.opened_at >= since,
        IncidentFacts.opened_at < before,
        IncidentFacts.status.in_(FINISHED),
    )
    newest = (
        select(IncidentFacts)
        .where(*window, IncidentFacts.incident_id != query.exclude)
        .order_by(IncidentFacts.opened_at.desc())
        .limit(CANDIDATES)
    )
    verified = func.sum(case((AttemptFacts.success == 1, 1), else_=0))
    failed = func.sum(case((AttemptFacts.success == 0, 1), else_=0))
    outcomes = (
        select(AttemptFacts.pattern, AttemptFacts.rung, AttemptFacts.operation, verified, failed, func.count())
        .where(
            AttemptFacts.subject == query.subject,
            AttemptFacts.opened_at >= since,
            AttemptFacts.opened_at < before,
            AttemptFacts.status.in_(FINISHED),
        )
        .group_by(AttemptFacts.pattern, AttemptFacts.rung, AttemptFacts.operation)
        .order_by(AttemptFacts.pattern, AttemptFacts.rung)
    )
    counts = select(IncidentFacts.pattern, func.count()).where(*window).group_by(IncidentFacts.pattern)
    with store.session() as session:
        candidates = session.scalars(newest).all()
        scored = sorted(
            ((closeness(query, row), row) for row in candidates),
            key=lambda pair: (-pair[0][0], -utc(pair[1].opened_at).timestamp()),
        )
        similar = [_past(row, score, matches) for (score, matches), row in scored[: query.limit]]
        by_pattern = {pattern or "none": int(n) for pattern, n in session.execute(counts)}
        rungs = [
            RungOutcomes(pattern=p, rung=r, operation=op, verified=int(v or 0), failed=int(f or 0), tried=int(n))
            for p, r, op, v, f, n in session.execute(outcomes)
        ]
    return Recall(
        subject=query.subject, pattern=query.pattern, since=since, before=before,
        incidents=sum(by_pattern.values()), by_pattern=by_pattern, similar=similar, outcomes=rungs,
    )  # fmt: skip


def empty(query: HistoryQuery, error: str = "") -> Recall:
    """No history (none recorded, or it could not be read: ``error``)."""
    return Recall(subject=query.subject, pattern=query.pattern, since=query.since, before=query.before, error=error)
