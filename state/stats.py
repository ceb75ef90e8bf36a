"""Operations analytics over the facts rows (state/facts.py): SQL that runs on SQLite and PostgreSQL.

Two GROUP BYs carry most of it (an incident cube over the categorical columns, an attempt cube by
rung, operation, pattern and day), folded in Python; services, noisy rules, days, percentiles and
channels are one small query each (``benchmarks/stats_bench.py`` times it on 100k incidents):

- incidents by source, service, severity, verdict, status, pattern; MTTA and MTTR;
- per rung and per failure pattern: attempts, verified fixes, verified failures, undos, the success rate;
- escalations by reason; approvals (waits, rejections, refusals); budget spent against each tier;
- alerts that were always noise (``noise_min`` or more incidents, none needing action), with a suggestion;
- notification delivery rates per channel; a daily series.

Percentiles are read with ORDER BY ... OFFSET (no ``percentile_cont`` in SQLite).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from state.facts import ATTEMPT_CUBE, CUBE_SEP, INCIDENT_CUBE, AttemptFacts, IncidentFacts, utc
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


def _total(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


def _window(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    """``column`` in [since, until)."""
    clauses = []
    if since is not None:
        clauses.append(column >= utc(since))
    if until is not None:
        clauses.append(column < utc(until))
    return clauses


def _where(table: Any, since: datetime | None, until: datetime | None, service: str | None) -> list[Any]:
    return [*_window(table.opened_at, since, until), *([table.service == service] if service else [])]


def _percentile(session: Session, column: Any, where: list[Any], n: int, q: float) -> float | None:
    if not n:
        return None
    stmt = select(column).where(*where, column.is_not(None)).order_by(column).offset(min(n - 1, int(q * n))).limit(1)
    value = session.scalar(stmt)
    return round(float(value), 3) if value is not None else None


def _duration(session: Session, column: Any, where: list[Any], n: int, total: float) -> Duration:
    """Mean from the cube's sum and count; the median and p90 read through the column's index."""
    return Duration(
        n=n,
        mean_s=round(total / n, 3) if n else None,
        p50_s=_percentile(session, column, where, n, 0.5),
        p90_s=_percentile(session, column, where, n, 0.9),
    )


def _folded(rows: Any, key: Callable[[Any], Any], *values: int) -> dict[Any, list[int]]:
    """Sum ``values`` (row indexes) of ``rows`` by ``key(row)``."""
    out: dict[Any, list[int]] = {}
    for row in rows:
        acc = out.setdefault(key(row), [0] * len(values))
        for i, index in enumerate(values):
            acc[i] += int(row[index] or 0)
    return out


def _counts(rows: Any, index: int) -> dict[str, int]:
    folded = _folded(rows, lambda r: r[index] or "none", CUBE_COUNT)
    return {k: v[0] for k, v in sorted(folded.items(), key=lambda kv: (-kv[1][0], kv[0]))}


# ---------------------------------------------------------------------- the two cubes: one scan each

# incident cube columns, by position: state/facts.py::INCIDENT_CUBE, then the aggregates
SERVICE, RULE, SOURCE, SEVERITY, VERDICT, STATUS, PATTERN, TIER, ESCALATION, NOISE, ESCALATED = range(11)
(CUBE_COUNT, FIXED, BUDGET, SPENT, EXHAUSTED, APPROVED, REJECTED, REFUSED, ASKED, EXAMPLE,
 MTTA_N, MTTA_SUM, MTTR_N, MTTR_SUM, WAIT_N, WAIT_SUM) = range(11, 27)  # fmt: skip


def _split(key: str, width: int) -> list[Any]:
    parts = key.split(CUBE_SEP)
    return parts + [""] * (width - len(parts))


def _incident_cube(session: Session, where: list[Any]) -> list[list[Any]]:
    """Every incident count the page needs, grouped once by the categorical columns (their joined key)."""
    f = IncidentFacts
    asked = (f.approvals + f.rejections + f.refusals) > 0
    stmt = select(
        f.cube, func.count(), _sum(f.fixed_by.is_not(None)), _total(f.budget), _total(f.attempts),
        _sum(and_(f.budget > 0, f.attempts >= f.budget)), _total(f.approvals), _total(f.rejections),
        _total(f.refusals), _sum(asked), func.min(f.escalation_reason),
        func.count(f.mtta_s), _total(f.mtta_s), func.count(f.mttr_s), _total(f.mttr_s),
        func.count(f.approval_wait_s), _total(f.approval_wait_s),
    ).where(*where).group_by(f.cube)  # fmt: skip
    rows = []
    for key, *aggregates in session.execute(stmt):
        keys = _split(key, len(INCIDENT_CUBE))
        keys[ESCALATED] = keys[ESCALATED] == "1"
        rows.append([*keys, *aggregates])
    return rows


def _attempt_cube(session: Session, where: list[Any]) -> list[list[Any]]:
    """Attempts, verified fixes, verified failures and undos by rung, operation, pattern and day."""
    a = AttemptFacts
    stmt = select(a.cube, func.count(), _sum(a.success == 1), _sum(a.success == 0), _sum(a.undone.is_(True)))
    rows = []
    for key, *aggregates in session.execute(stmt.where(*where).group_by(a.cube)):
        rung, operation, pattern, day = _split(key, len(ATTEMPT_CUBE))
        rows.append([int(rung or 0), operation, pattern, day, *aggregates])
    return rows


def _rungs(tried: list[Any]) -> list[RungRow]:
    folded = _folded(tried, lambda r: (r[0], r[1]), 4, 5, 6, 7)
    return [
        RungRow(rung=rung, operation=op, attempts=n, verified=v, failed=f, undone=u, success_rate=_rate(v, f))
        for (rung, op), (n, v, f, u) in sorted(folded.items())
    ]


def _patterns(cube: list[Any], tried: list[Any]) -> list[PatternRow]:
    incidents = _folded(cube, lambda r: r[PATTERN] or "none", CUBE_COUNT, FIXED)
    escalated = _folded([r for r in cube if r[ESCALATED]], lambda r: r[PATTERN] or "none", CUBE_COUNT)
    attempts = _folded(tried, lambda r: r[2] or "none", 4, 5, 6, 7)
    out = []
    for pattern, (n, fixed) in sorted(incidents.items(), key=lambda kv: (-kv[1][0], kv[0])):
        count, verified, failed, undone = attempts.get(pattern, [0, 0, 0, 0])
        out.append(PatternRow(
            pattern=pattern, incidents=n, fixed=fixed, escalated=escalated.get(pattern, [0])[0], attempts=count,
            verified=verified, failed=failed, undone=undone, success_rate=_rate(verified, failed),
        ))  # fmt: skip
    return out


def _escalations(cube: list[Any]) -> list[EscalationRow]:
    rows: dict[tuple[str, str], tuple[int, str]] = {}
    for r in cube:
        if r[ESCALATED]:
            key = (r[ESCALATION] or "other", r[PATTERN] or "none")
            n, example = rows.get(key, (0, r[EXAMPLE] or ""))
            rows[key] = (n + r[CUBE_COUNT], min(example, r[EXAMPLE] or "") or example)
    ordered = sorted(rows.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return [EscalationRow(reason=k[0], pattern=k[1], count=n, example=ex[:300]) for k, (n, ex) in ordered]


def _budget(cube: list[Any]) -> list[BudgetRow]:
    tiers = _folded([r for r in cube if r[TIER] and r[NOISE] != "info"], lambda r: r[TIER], CUBE_COUNT, BUDGET,
                    SPENT, EXHAUSTED)  # fmt: skip
    return [
        BudgetRow(tier=t, incidents=n, budget=b, spent=s, spent_share=round(s / b, 4) if b else None, exhausted=x)
        for t, (n, b, s, x) in sorted(tiers.items())
    ]


def _sums(cube: list[Any], *indexes: int) -> list[float]:
    return [sum(float(r[i] or 0) for r in cube) for i in indexes]


def _approvals(session: Session, cube: list[Any], where: list[Any]) -> Approvals:
    asked, approved, rejected, refused, n, total = _sums(cube, ASKED, APPROVED, REJECTED, REFUSED, WAIT_N, WAIT_SUM)
    wait = _duration(session, IncidentFacts.approval_wait_s, where, int(n), total)
    return Approvals(incidents=int(asked), approved=int(approved), rejected=int(rejected), refused=int(refused),
                     wait=wait)  # fmt: skip


# ---------------------------------------------------------------------- the other questions


def _services(cube: list[list[Any]]) -> list[ServiceRow]:
    out: dict[str, list[int]] = {}
    for r in cube:
        row = out.setdefault(r[SERVICE] or "none", [0, 0, 0, 0, 0, 0])
        n = int(r[CUBE_COUNT])
        for i, value in enumerate((n, n * (r[STATUS] == "resolved"), n * bool(r[ESCALATED]), n * (r[NOISE] != ""),
                                   int(r[SPENT]), int(r[FIXED]))):  # fmt: skip
            row[i] += value
    top = sorted(out.items(), key=lambda kv: (-kv[1][0], kv[0]))[:TOP_SERVICES]
    return [
        ServiceRow(service=s, incidents=c, resolved=r, escalated=e, noise=q, attempts=a, fixed=x)
        for s, (c, r, e, q, a, x) in top
    ]


SUGGESTIONS = {
    "info": "informational every time: route it to a low-priority receiver or silence it",
    "healthy": "back to healthy before anyone looked every time: raise its `for:` duration or threshold",
    "self_resolved": "resolved on its own every time: raise its `for:` duration or threshold, or silence it",
    "no_data": "its expression answered nothing every time: fix the query or its labels (a broken rule)",
}


def _noisy(cube: list[list[Any]], noise_min: int) -> list[NoisyAlert]:
    """Rules (per service) with ``noise_min`` or more incidents, none of which needed action."""
    tally: dict[tuple[str, str], dict[str, int]] = {}
    for r in cube:
        kinds = tally.setdefault((r[RULE], r[SERVICE]), {})
        kinds[r[NOISE]] = kinds.get(r[NOISE], 0) + int(r[CUBE_COUNT])
    out = []
    for (rule, service), kinds in tally.items():
        count = sum(kinds.values())
        if count < noise_min or "" in kinds:
            continue
        top = max(sorted(kinds), key=lambda k: kinds[k])
        why = f"{rule}: {SUGGESTIONS.get(top, top)} ({count} incidents, none needed action)"
        out.append(NoisyAlert(rule=rule, service=service or None, incidents=count, kinds=dict(sorted(kinds.items())),
                              suggestion=why))  # fmt: skip
    return sorted(out, key=lambda n: (-n.incidents, n.rule, n.service or ""))[:TOP_NOISY]


def _channels(
    session: Session, since: datetime | None, until: datetime | None, service: str | None
) -> list[ChannelRow]:
    from state.delivery import Delivery

    d = Delivery
    clauses = _window(d.at, since, until)
    if service:
        clauses.append(d.incident_id.in_(select(IncidentFacts.incident_id).where(IncidentFacts.service == service)))
    stmt = select(d.channel, func.count(), _sum(d.status == "delivered")).where(*clauses).group_by(d.channel)
    return [
        ChannelRow(channel=c, sent=n, delivered=ok, failed=n - ok, rate=round(ok / n, 4) if n else None)
        for c, n, ok in session.execute(stmt.order_by(d.channel))
    ]


def _days(session: Session, where: list[Any], tried: list[Any]) -> list[DayRow]:
    f = IncidentFacts
    days = select(f.day, func.count(), _sum(f.escalated.is_(True))).where(*where).group_by(f.day)
    counted = {d: (int(n), int(e)) for d, n, e in session.execute(days.order_by(f.day.desc()).limit(DAYS))}
    attempts = _folded([r for r in tried if r[3] in counted], lambda r: r[3], 4, 5, 6)
    out = []
    for day in sorted(counted):
        n, verified, failed = attempts.get(day, [0, 0, 0])
        out.append(DayRow(day=day, incidents=counted[day][0], escalated=counted[day][1], attempts=n,
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
    with store.session() as session:
        cube = _incident_cube(session, where_i)
        tried = _attempt_cube(session, _where(AttemptFacts, since, until, service))
        rungs = _rungs(tried)
        verified, failed = sum(r.verified for r in rungs), sum(r.failed for r in rungs)
        ladder = Outcomes(attempts=sum(r.attempts for r in rungs), verified=verified, failed=failed,
                          undone=sum(r.undone for r in rungs), success_rate=_rate(verified, failed))  # fmt: skip
        mtta_n, mtta_sum, mttr_n, mttr_sum = _sums(cube, MTTA_N, MTTA_SUM, MTTR_N, MTTR_SUM)
        return OperationsStats(
            since=since, until=until, service=service, incidents=sum(r[CUBE_COUNT] for r in cube),
            by_source=_counts(cube, SOURCE), by_severity=_counts(cube, SEVERITY), by_verdict=_counts(cube, VERDICT),
            by_status=_counts(cube, STATUS), by_pattern=_counts(cube, PATTERN), services=_services(cube),
            mtta=_duration(session, IncidentFacts.mtta_s, where_i, int(mtta_n), mtta_sum),
            mttr=_duration(session, IncidentFacts.mttr_s, where_i, int(mttr_n), mttr_sum),
            ladder=ladder, rungs=rungs, patterns=_patterns(cube, tried), escalations=_escalations(cube),
            approvals=_approvals(session, cube, where_i), budget=_budget(cube),
            noisy=_noisy(cube, noise_min), channels=_channels(session, since, until, service),
            days=_days(session, where_i, tried),
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
