"""Operations analytics over the facts rows (state/facts.py): SQL that runs on SQLite and PostgreSQL.

One GROUP BY per question, each a scan of a narrow table (or its indexes), so the whole
document takes a few hundred milliseconds on 100k incidents (``benchmarks/stats_bench.py``):

- incidents by source, service, severity, verdict, status, pattern; MTTA and MTTR;
- per rung and per failure pattern: attempts, verified fixes, verified failures, undos, the success rate;
- escalations by reason; approvals (waits, rejections, refusals); budget spent against each tier;
- alerts that were always noise (``noise_min`` or more incidents, none needing action), with a suggestion;
- notification delivery rates per channel; a daily series.

Percentiles are read with ORDER BY ... OFFSET (no ``percentile_cont`` in SQLite).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from state.facts import AttemptFacts, IncidentFacts, utc
from state.store import Store

TOP_SERVICES = 20
TOP_NOISY = 20
DAYS = 90  # at most this many days in the daily series
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """``--since`` / ``?since=``: a date (2026-11-01), a time (2026-11-01T08:00:00Z) or a duration back from now (7d).

    Durations are minutes, hours, days or weeks (30m, 12h, 7d, 2w). ValueError names the field.
    """
    if text is None or not text.strip():
        return None
    value = text.strip().lower()
    relative = _RELATIVE.match(value)
    if relative:
        return now - timedelta(**{_UNITS[relative[2]]: float(relative[1])})
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"since: expected a date (2026-11-01), a time (2026-11-01T08:00:00Z) or a duration (7d, 12h, 30m), "
            f"got {text!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Duration(BaseModel):
    """Seconds: mean, median and 90th percentile over ``n`` incidents."""

    n: int = 0
    mean_s: float | None = None
    p50_s: float | None = None
    p90_s: float | None = None


class Outcomes(BaseModel):
    """What a group of attempts did."""

    attempts: int = 0
    verified: int = Field(default=0, description="Fixed the alert and held.")
    failed: int = Field(default=0, description="Verified not to fix it.")
    undone: int = 0
    success_rate: float | None = Field(default=None, description="verified / (verified + failed).")


class RungRow(Outcomes):
    """One rung of the ladder."""

    rung: int
    operation: str


class PatternRow(Outcomes):
    """One diagnosed failure pattern."""

    pattern: str
    incidents: int = 0
    fixed: int = Field(default=0, description="Incidents the ladder fixed.")
    escalated: int = 0


class ServiceRow(BaseModel):
    """One service (subject workload)."""

    service: str
    incidents: int
    resolved: int
    escalated: int
    noise: int
    attempts: int
    fixed: int


class EscalationRow(BaseModel):
    """Escalations of one kind (and pattern), with one reason as it was given."""

    reason: str
    pattern: str
    count: int
    example: str


class Approvals(BaseModel):
    """Approvals people gave or refused."""

    incidents: int = 0
    approved: int = 0
    rejected: int = 0
    refused: int = Field(default=0, description="Answered by someone without rollback_permission.")
    wait: Duration = Field(default_factory=Duration)


class BudgetRow(BaseModel):
    """Budget against tier: how much of its attempt budget an actionable incident of a tier spent."""

    tier: str
    incidents: int
    budget: int
    spent: int
    spent_share: float | None
    exhausted: int


class NoisyAlert(BaseModel):
    """An alert rule that never needed action."""

    rule: str
    service: str | None
    incidents: int
    kinds: dict[str, int]
    suggestion: str


class ChannelRow(BaseModel):
    """Notification deliveries over one channel."""

    channel: str
    sent: int
    delivered: int
    failed: int
    rate: float | None


class DayRow(BaseModel):
    """One day: incidents, and how the ladder did."""

    day: str
    incidents: int
    escalated: int
    attempts: int
    verified: int
    failed: int
    success_rate: float | None


class OperationsStats(BaseModel):
    """The whole answer of ``alertpilot stats`` / ``GET /stats``."""

    since: datetime | None
    until: datetime | None
    service: str | None
    incidents: int
    by_source: dict[str, int]
    by_severity: dict[str, int]
    by_verdict: dict[str, int]
    by_status: dict[str, int]
    by_pattern: dict[str, int]
    services: list[ServiceRow]
    mtta: Duration
    mttr: Duration
    ladder: Outcomes
    rungs: list[RungRow]
    patterns: list[PatternRow]
    escalations: list[EscalationRow]
    approvals: Approvals
    budget: list[BudgetRow]
    noisy: list[NoisyAlert]
    channels: list[ChannelRow]
    days: list[DayRow]


# ---------------------------------------------------------------------- helpers


def _rate(good: int, bad: int) -> float | None:
    return round(good / (good + bad), 4) if good + bad else None


def _sum(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _where(table: Any, since: datetime | None, until: datetime | None, service: str | None) -> list[Any]:
    clauses = []
    if since is not None:
        clauses.append(table.opened_at >= utc(since))
    if until is not None:
        clauses.append(table.opened_at < utc(until))
    if service:
        clauses.append(table.service == service)
    return clauses


def _percentile(session: Session, column: Any, where: list[Any], n: int, q: float) -> float | None:
    if not n:
        return None
    stmt = select(column).where(*where, column.is_not(None)).order_by(column).offset(min(n - 1, int(q * n))).limit(1)
    value = session.scalar(stmt)
    return round(float(value), 3) if value is not None else None


def _duration(session: Session, column: Any, where: list[Any], extra: list[Any] | None = None) -> Duration:
    clauses = [*where, *(extra or [])]
    n, mean = session.execute(select(func.count(column), func.avg(column)).where(*clauses)).one()
    n = int(n or 0)
    return Duration(
        n=n,
        mean_s=round(float(mean), 3) if mean is not None else None,
        p50_s=_percentile(session, column, clauses, n, 0.5),
        p90_s=_percentile(session, column, clauses, n, 0.9),
    )


def _outcomes(stmt: Any) -> Any:
    """``stmt`` with the attempt outcome columns: attempts, verified, failed, undone."""
    a = AttemptFacts
    return stmt.add_columns(func.count(), _sum(a.success == 1), _sum(a.success == 0), _sum(a.undone.is_(True)))


# ---------------------------------------------------------------------- the questions


def _cube(session: Session, where: list[Any]) -> dict[str, dict[str, int]]:
    """Counts by source, severity, verdict, status and pattern from one GROUP BY."""
    f = IncidentFacts
    stmt = select(f.source, f.severity, f.verdict, f.status, f.pattern, func.count()).where(*where)
    stmt = stmt.group_by(f.source, f.severity, f.verdict, f.status, f.pattern)
    out: dict[str, dict[str, int]] = {k: {} for k in ("source", "severity", "verdict", "status", "pattern")}
    for source, severity, verdict, status, pattern, n in session.execute(stmt):
        for key, value in zip(out, (source, severity, verdict, status, pattern), strict=True):
            label = value or "none"
            out[key][label] = out[key].get(label, 0) + int(n)
    return {k: dict(sorted(v.items(), key=lambda kv: -kv[1])) for k, v in out.items()}


def _services(session: Session, where: list[Any]) -> list[ServiceRow]:
    f = IncidentFacts
    n = func.count()
    stmt = (
        select(f.service, n, _sum(f.status == "resolved"), _sum(f.escalated.is_(True)), _sum(f.noise != ""),
               func.coalesce(func.sum(f.attempts), 0), _sum(f.fixed_by.is_not(None)))
        .where(*where).group_by(f.service).order_by(n.desc(), f.service).limit(TOP_SERVICES)
    )  # fmt: skip
    return [
        ServiceRow(service=s or "none", incidents=c, resolved=r, escalated=e, noise=q, attempts=a, fixed=x)
        for s, c, r, e, q, a, x in session.execute(stmt)
    ]


def _rungs(session: Session, where: list[Any]) -> list[RungRow]:
    a = AttemptFacts
    stmt = _outcomes(select(a.rung, a.operation)).where(*where).group_by(a.rung, a.operation).order_by(a.rung)
    return [
        RungRow(rung=r, operation=op, attempts=n, verified=v, failed=f, undone=u, success_rate=_rate(v, f))
        for r, op, n, v, f, u in session.execute(stmt)
    ]


def _patterns(session: Session, where_i: list[Any], where_a: list[Any]) -> list[PatternRow]:
    f, a = IncidentFacts, AttemptFacts
    incidents = select(f.pattern, func.count(), _sum(f.fixed_by.is_not(None)), _sum(f.escalated.is_(True)))
    rows = {
        p or "none": (int(n), int(x), int(e))
        for p, n, x, e in session.execute(incidents.where(*where_i).group_by(f.pattern))
    }
    tried = {
        p or "none": (n, v, fl, u)
        for p, n, v, fl, u in session.execute(_outcomes(select(a.pattern)).where(*where_a).group_by(a.pattern))
    }
    out = []
    for pattern, (n, fixed, escalated) in sorted(rows.items(), key=lambda kv: -kv[1][0]):
        attempts, verified, failed, undone = tried.get(pattern, (0, 0, 0, 0))
        row = PatternRow(
            pattern=pattern, incidents=n, fixed=fixed, escalated=escalated, attempts=attempts, verified=verified,
            failed=failed, undone=undone, success_rate=_rate(verified, failed),
        )  # fmt: skip
        out.append(row)
    return out


def _escalations(session: Session, where: list[Any]) -> list[EscalationRow]:
    f = IncidentFacts
    n = func.count()
    stmt = (
        select(f.escalation, f.pattern, n, func.min(f.escalation_reason))
        .where(*where, f.escalated.is_(True)).group_by(f.escalation, f.pattern)
        .order_by(n.desc(), f.escalation, f.pattern)
    )  # fmt: skip
    return [
        EscalationRow(reason=r or "other", pattern=p or "none", count=c, example=(ex or "")[:300])
        for r, p, c, ex in session.execute(stmt)
    ]


def _approvals(session: Session, where: list[Any]) -> Approvals:
    f = IncidentFacts
    asked = (f.approvals + f.rejections + f.refusals) > 0
    stmt = select(_sum(asked), func.coalesce(func.sum(f.approvals), 0), func.coalesce(func.sum(f.rejections), 0),
                  func.coalesce(func.sum(f.refusals), 0)).where(*where)  # fmt: skip
    incidents, approved, rejected, refused = session.execute(stmt).one()
    wait = _duration(session, f.approval_wait_s, where, [asked])
    return Approvals(incidents=incidents, approved=approved, rejected=rejected, refused=refused, wait=wait)


def _budget(session: Session, where: list[Any]) -> list[BudgetRow]:
    f = IncidentFacts
    stmt = (
        select(f.tier, func.count(), func.coalesce(func.sum(f.budget), 0), func.coalesce(func.sum(f.attempts), 0),
               _sum(and_(f.budget > 0, f.attempts >= f.budget)))
        .where(*where, f.tier != "", f.noise != "info").group_by(f.tier).order_by(f.tier)
    )  # fmt: skip
    return [
        BudgetRow(tier=t, incidents=n, budget=b, spent=s, spent_share=round(s / b, 4) if b else None, exhausted=x)
        for t, n, b, s, x in session.execute(stmt)
    ]


SUGGESTIONS = {
    "info": "informational every time: route it to a low-priority receiver or silence it",
    "healthy": "back to healthy before anyone looked every time: raise its `for:` duration or threshold",
    "self_resolved": "resolved on its own every time: raise its `for:` duration or threshold, or silence it",
    "no_data": "its expression answered nothing every time: fix the query or its labels (a broken rule)",
}


def _noisy(session: Session, where: list[Any], noise_min: int) -> list[NoisyAlert]:
    f = IncidentFacts
    n = func.count()
    kinds = [_sum(f.noise == kind) for kind in SUGGESTIONS]
    stmt = (
        select(f.rule, f.service, n, *kinds).where(*where).group_by(f.rule, f.service)
        .having(and_(n >= noise_min, _sum(f.noise == "") == 0)).order_by(n.desc(), f.rule).limit(TOP_NOISY)
    )  # fmt: skip
    out = []
    for rule, service, count, *counts in session.execute(stmt):
        tally = {k: int(c) for k, c in zip(SUGGESTIONS, counts, strict=True) if c}
        top = max(tally, key=lambda k: tally[k])
        why = f"{rule}: {SUGGESTIONS[top]} ({count} incidents, none needed action)"
        out.append(NoisyAlert(rule=rule, service=service, incidents=count, kinds=tally, suggestion=why))
    return out


def _channels(
    session: Session, since: datetime | None, until: datetime | None, service: str | None
) -> list[ChannelRow]:
    from state.delivery import Delivery

    d = Delivery
    clauses = []
    if since is not None:
        clauses.append(d.at >= utc(since))
    if until is not None:
        clauses.append(d.at < utc(until))
    if service:
        clauses.append(d.incident_id.in_(select(IncidentFacts.incident_id).where(IncidentFacts.service == service)))
    stmt = select(d.channel, func.count(), _sum(d.status == "delivered")).where(*clauses).group_by(d.channel)
    return [
        ChannelRow(channel=c, sent=n, delivered=ok, failed=n - ok, rate=round(ok / n, 4) if n else None)
        for c, n, ok in session.execute(stmt.order_by(d.channel))
    ]


def _days(session: Session, where_i: list[Any], where_a: list[Any]) -> list[DayRow]:
    f, a = IncidentFacts, AttemptFacts
    days = select(f.day, func.count(), _sum(f.escalated.is_(True))).where(*where_i).group_by(f.day)
    counted = {d: (int(n), int(e)) for d, n, e in session.execute(days.order_by(f.day.desc()).limit(DAYS))}
    tried = {
        d: (n, v, fl)
        for d, n, v, fl, _u in session.execute(
            _outcomes(select(a.day)).where(*where_a, a.day.in_(counted)).group_by(a.day)
        )
    }
    out = []
    for day in sorted(counted):
        attempts, verified, failed = tried.get(day, (0, 0, 0))
        out.append(DayRow(day=day, incidents=counted[day][0], escalated=counted[day][1], attempts=attempts,
                          verified=verified, failed=failed, success_rate=_rate(verified, failed)))  # fmt: skip
    return out


def operations_stats(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    service: str | None = None,
    noise_min: int = 3,
) -> OperationsStats:
    """Every number of the operations page for incidents opened in [since, until) (of ``service``)."""
    from state.delivery import Ledger

    Ledger(store)  # the deliveries table exists even where nothing was ever pushed
    where_i = _where(IncidentFacts, since, until, service)
    where_a = _where(AttemptFacts, since, until, service)
    with store.session() as session:
        cube = _cube(session, where_i)
        rungs = _rungs(session, where_a)
        ladder = Outcomes(attempts=sum(r.attempts for r in rungs), verified=sum(r.verified for r in rungs),
                          failed=sum(r.failed for r in rungs), undone=sum(r.undone for r in rungs))  # fmt: skip
        ladder.success_rate = _rate(ladder.verified, ladder.failed)
        return OperationsStats(
            since=since, until=until, service=service, incidents=sum(cube["status"].values()),
            by_source=cube["source"], by_severity=cube["severity"], by_verdict=cube["verdict"],
            by_status=cube["status"], by_pattern=cube["pattern"], services=_services(session, where_i),
            mtta=_duration(session, IncidentFacts.mtta_s, where_i),
            mttr=_duration(session, IncidentFacts.mttr_s, where_i),
            ladder=ladder, rungs=rungs, patterns=_patterns(session, where_i, where_a),
            escalations=_escalations(session, where_i), approvals=_approvals(session, where_i),
            budget=_budget(session, where_i), noisy=_noisy(session, where_i, noise_min),
            channels=_channels(session, since, until, service), days=_days(session, where_i, where_a),
        )  # fmt: skip


def triage_rows(store: Store, *, since: datetime | None = None, service: str | None = None,
                limit: int = 50_000) -> list[tuple[int, int, int, int, bool]]:  # fmt: skip
    """(impact, severity, business, time sensitivity, needed action) of the newest actionable incidents.

    "Needed action" is what triage should have foreseen: the incident was not noise (back to
    healthy before anyone looked, resolved on its own, a signal that answers nothing).
    Informational alerts are left out: their severity alone keeps them off the ladder.
    """
    f = IncidentFacts
    dims = (f.impact, f.severity_dim, f.business, f.time_sensitivity)
    stmt = (
        select(*dims, f.noise)
        .where(*_where(f, since, None, service), f.noise != "info", *(d.is_not(None) for d in dims))
        .order_by(f.opened_at.desc()).limit(limit)
    )  # fmt: skip
    with store.session() as session:
        rows = session.execute(stmt).all()
    return [(int(i or 0), int(s or 0), int(b or 0), int(t or 0), not noise) for i, s, b, t, noise in rows]
