"""One flat row of facts per incident (and one per attempt), beside the incident store.

Stats, recall and the informed ladder read these rows instead of the incidents' JSON
documents: a GROUP BY over a few narrow columns is fast on 100k incidents on SQLite and
PostgreSQL alike, and no query needs the two databases' different JSON operators.

The rows are derived from the public document (``graph/runner.py::document``) by the
pure :func:`extract`, and written by :func:`write` in the same transaction as the document
itself (``Store.create_incident``, ``save_doc``, ``restore_incident``), so they are never
staler than it. A database that predates these tables is filled in by :func:`backfill`.

Times inside a document come from the run's own clock (decisions, alert start), so MTTA
and MTTR are measured on that clock; ``opened_at`` is the store's (when the row was made,
or the time an import or a generated history gives it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from state.store import Base, IncidentRow

log = logging.getLogger("alertpilot.facts")

# The stats group by one column made of these (one sort key instead of ten: a 5x cheaper GROUP BY
# on SQLite), split again in Python (state/stats.py).
CUBE_SEP = "\x1f"
INCIDENT_CUBE = ("service", "rule", "source", "severity", "verdict", "status", "pattern", "tier", "escalation",
                 "noise", "escalated")  # fmt: skip
ATTEMPT_CUBE = ("rung", "operation", "pattern", "day")
# Outcomes that are a verdict on the rung: it did not fix the alert (verified=True is a fix).
NOT_FIXED = frozenset({"still_firing", "not_baseline", "masked", "worse"})
FINISHED = ("resolved", "escalated", "failed")
MAX_SIGNATURES = 8


class IncidentFacts(Base):
    """What one incident was and how it ended, in columns."""

    __tablename__ = "incident_facts"
    __table_args__ = (
        # covers recall's window reads (subject, time, finished, pattern) without a table lookup
        Index("ix_incident_facts_subject_opened", "subject", "opened_at", "status", "pattern"),
        # percentiles walk these in order, filtering on time and service inside the index
        Index("ix_incident_facts_mtta", "mtta_s", "opened_at", "service"),
        Index("ix_incident_facts_mttr", "mttr_s", "opened_at", "service"),
        Index("ix_incident_facts_wait", "approval_wait_s", "opened_at", "service"),
        Index("ix_incident_facts_opened", "opened_at", "day", "escalated"),  # a window, and the daily series
    )

    incident_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    day: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(32))
    service: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    severity: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(256))
    subject: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(16))
    pattern: Mapped[str] = mapped_column(String(32))
    abstained: Mapped[bool] = mapped_column(Boolean)
    tier: Mapped[str] = mapped_column(String(16))
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    budget: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    impact: Mapped[int | None] = mapped_column(Integer, nullable=True)
    severity_dim: Mapped[int | None] = mapped_column(Integer, nullable=True)
    business: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_sensitivity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    escalated: Mapped[bool] = mapped_column(Boolean)
    escalation: Mapped[str] = mapped_column(String(32))
    escalation_reason: Mapped[str] = mapped_column(Text)
    noise: Mapped[str] = mapped_column(String(16), doc="info | healthy | self_resolved | no_data | '' (not noise)")
    fixed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    fixed_rung: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fixed_in: Mapped[int | None] = mapped_column(Integer, nullable=True)
    change_kind: Mapped[str] = mapped_column(String(16))
    suspected_release: Mapped[str | None] = mapped_column(String(128), nullable=True)
    signatures: Mapped[str] = mapped_column(Text)
    mtta_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    mttr_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    approvals: Mapped[int] = mapped_column(Integer)
    rejections: Mapped[int] = mapped_column(Integer)
    refusals: Mapped[int] = mapped_column(Integer)
    approval_wait_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    dry_run: Mapped[bool] = mapped_column(Boolean)
    cube: Mapped[str] = mapped_column(Text, doc="INCIDENT_CUBE's values joined by CUBE_SEP (what stats group by).")


class AttemptFacts(Base):
    """One rung tried, and whether it fixed the alert (``success``: 1 fixed and held, 0 not, NULL no verdict)."""

    __tablename__ = "attempt_facts"
    __table_args__ = (  # covers recall's outcome counts without a table lookup
        Index("ix_attempt_facts_subject", "subject", "opened_at", "status", "pattern", "rung", "operation", "success"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(64), index=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    day: Mapped[str] = mapped_column(String(10))
    service: Mapped[str | None] = mapped_column(String(256), nullable=True)
    subject: Mapped[str] = mapped_column(String(512))
    pattern: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32), doc="The incident's (recall reads finished ones without a join).")
    n: Mapped[int] = mapped_column(Integer)
    rung: Mapped[int] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    success: Mapped[int | None] = mapped_column(Integer, nullable=True)
    undone: Mapped[bool] = mapped_column(Boolean)
    cube: Mapped[str] = mapped_column(Text, doc="ATTEMPT_CUBE's values joined by CUBE_SEP.")


TABLES = [IncidentFacts.__table__, AttemptFacts.__table__]


# ---------------------------------------------------------------------- extraction (pure)


def subject_key(alert: dict[str, Any]) -> str:
    """The incident's subject as one string: ``workload:cluster:namespace/name`` (an unnamed one: its rule)."""
    subject = alert.get("subject") or {}
    name = subject.get("name")
    if not name or subject.get("kind") in (None, "unknown"):
        return f"rule:{alert.get('source', '')}:{alert.get('name', '')}"[:512]
    return f"{subject['kind']}:{subject.get('cluster') or ''}:{subject.get('namespace') or ''}/{name}"[:512]


def cube_key(row: dict[str, Any], keys: tuple[str, ...]) -> str:
    """The row's ``keys`` as one string (booleans as 1/0, None as empty)."""
    return CUBE_SEP.join(
        str(int(v)) if isinstance(v, bool) else "" if v is None else str(v) for v in (row[k] for k in keys)
    )


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.year < 1970:  # Grafana's 0001-01-01 "unknown start"
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC time (SQLite hands back naive ones)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _decided(doc: dict[str, Any], node: str, last: bool = False) -> datetime | None:
    found = [d for d in doc.get("decisions") or [] if d.get("node") == node]
    if not found:
        return None
    return _time((found[-1] if last else found[0]).get("at"))


def noise_kind(doc: dict[str, Any]) -> str:
    """Why nothing needed doing, or ``""`` when something did.

    ``info`` (an informational alert), ``healthy`` (back before anyone looked), ``self_resolved``
    (resolved with no action), ``no_data`` (its signal answers nothing).
    """
    triage = doc.get("triage") or {}
    diagnosis = doc.get("diagnosis") or {}
    executed = [a for a in doc.get("attempts") or [] if a.get("result") is not None]
    if triage and not triage.get("actionable", True):
        return "info"
    if diagnosis.get("verdict") == "noise" or diagnosis.get("pattern") == "healthy":
        return "healthy"
    if doc.get("status") == "resolved" and not executed and diagnosis.get("verdict") != "cause_found":
        return "self_resolved"  # no action, no cause: it went away by itself (a cause found is not noise)
    if diagnosis.get("pattern") == "no_data" and not executed:
        return "no_data"
    return ""


def escalated(doc: dict[str, Any]) -> bool:
    """Whether the incident went to people (it may have closed since, when its alert resolved)."""
    return doc.get("status") == "escalated" or any(d.get("node") == "escalate" for d in doc.get("decisions") or [])


def escalation_kind(doc: dict[str, Any]) -> str:
    """Why an escalated incident went to people, as a category (``""`` when it did not escalate).

    Read from the document's structure; the two texts matched are the guard node's
    (``guard denied <op>: ...``) and the approval answer's (``rejected by <who>``).
    """
    if not escalated(doc):
        return ""
    reason = str(doc.get("escalation_reason") or "")
    diagnosis = doc.get("diagnosis") or {}
    attempts = doc.get("attempts") or []
    budget = (doc.get("triage") or {}).get("budget") or 0
    if reason.startswith("guard denied"):
        return "approval_rejected" if "rejected by" in reason else "guard_denied"
    if attempts:
        outcome = attempts[-1].get("outcome")
        if outcome == "unverified":
            return "unverified"
        if outcome == "failed":
            return "action_failed"
        return "budget_spent" if len(attempts) >= budget else "rungs_exhausted"
    if not diagnosis:
        return "no_diagnosis"
    if diagnosis.get("pattern") == "healthy" or diagnosis.get("verdict") == "noise":
        return "noise"
    return "abstained" if diagnosis.get("abstain") else "no_rung"


def _approvals(doc: dict[str, Any]) -> tuple[int, int, int, float | None]:
    """(approved, rejected, refused, seconds waited in all) from the guard's answers after each plan."""
    approved = rejected = refused = 0
    waited: float | None = None
    planned: datetime | None = None
    for decision in doc.get("decisions") or []:
        node, summary = decision.get("node"), str(decision.get("summary") or "")
        if node == "plan":
            planned = _time(decision.get("at"))
            continue
        if node != "guard":
            continue
        answered = summary.startswith(("approved by", "rejected by", "approval by"))
        approved += summary.startswith("approved by")
        rejected += summary.startswith("rejected by")
        refused += summary.startswith("approval by")
        wait = _seconds(planned, _time(decision.get("at")))
        if answered and wait is not None:
            waited = (waited or 0.0) + wait
    return approved, rejected, refused, waited


def signatures_of(findings: Iterable[dict[str, Any]]) -> list[str]:
    """The error signatures diagnosis grouped from the logs (trace chains first), at most :data:`MAX_SIGNATURES`."""
    found: list[str] = []
    for finding in findings:
        if finding.get("kind") != "log":
            continue
        evidence = finding.get("evidence") or {}
        chain = evidence.get("chain") or {}
        for text in [chain.get("signature"), *(s.get("signature") for s in evidence.get("signatures") or [])]:
            if isinstance(text, str) and text and text[:200] not in found:
                found.append(text[:200])
    return found[:MAX_SIGNATURES]


def change_kind(diagnosis: dict[str, Any]) -> str:
    """What changed before the incident: ``release``, ``config_edit`` or ``none``."""
    pattern = diagnosis.get("pattern")
    if pattern == "config_edit":
        return "config_edit"
    if diagnosis.get("suspected_release") or pattern == "release":
        return "release"
    return "none"


def extract(incident_id: str, doc: dict[str, Any], opened_at: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The incident's facts row and its attempts' rows, from its public document."""
    alert = doc.get("alert") or {}
    triage = doc.get("triage") or {}
    dims = triage.get("dimensions") or {}
    diagnosis = doc.get("diagnosis") or {}
    attempts = doc.get("attempts") or []
    opened = utc(opened_at)
    start = _time(alert.get("starts_at")) or _time((doc.get("decisions") or [{}])[0].get("at"))
    status = str(doc.get("status") or "open")
    resolved_at = _decided(doc, "resolve", last=True) if status == "resolved" else None
    fixed = next((a for a in attempts if a.get("verified") is True), None)
    approved, rejected, refused, waited = _approvals(doc)
    subject, pattern = subject_key(alert), str(diagnosis.get("pattern") or "")
    service = alert.get("service") or (alert.get("subject") or {}).get("name")
    row = {
        "incident_id": incident_id,
        "opened_at": opened,
        "day": opened.date().isoformat(),
        "source": str(alert.get("source") or "generic")[:32],
        "service": service[:256] if service else None,
        "severity": str(alert.get("severity") or "warning")[:32],
        "rule": str(alert.get("name") or "?")[:256],
        "subject": subject,
        "status": status[:32],
        "verdict": str(diagnosis.get("verdict") or ("info" if triage and not triage.get("actionable", True) else "")),
        "pattern": pattern[:32],
        "abstained": bool(diagnosis.get("abstain")),
        "tier": str(triage.get("tier") or "")[:16],
        "score": triage.get("score"),
        "budget": int(triage.get("budget") or 0),
        "attempts": sum(1 for a in attempts if a.get("result") is not None),
        "impact": dims.get("impact"),
        "severity_dim": dims.get("severity"),
        "business": dims.get("business"),
        "time_sensitivity": dims.get("time_sensitivity"),
        "escalated": escalated(doc),
        "escalation": escalation_kind(doc),
        "escalation_reason": str(doc.get("escalation_reason") or "")[:2000],
        "noise": noise_kind(doc),
        "fixed_by": fixed.get("action") if fixed else None,
        "fixed_rung": fixed.get("rung") if fixed else None,
        "fixed_in": fixed.get("n") if fixed else None,
        "change_kind": change_kind(diagnosis),
        "suspected_release": (
            str(diagnosis["suspected_release"])[:128] if diagnosis.get("suspected_release") else None
        ),
        "signatures": json.dumps(signatures_of(doc.get("findings") or []), ensure_ascii=False),
        "mtta_s": _seconds(start, _decided(doc, "triage")),
        "mttr_s": _seconds(start, resolved_at),
        "approvals": approved,
        "rejections": rejected,
        "refusals": refused,
        "approval_wait_s": waited,
        "dry_run": bool(doc.get("dry_run")),
    }
    row["cube"] = cube_key(row, INCIDENT_CUBE)
    rows = [_attempt_row(incident_id, a, row) for a in attempts if a.get("action")]
    return row, rows


def _attempt_row(incident_id: str, attempt: dict[str, Any], incident: dict[str, Any]) -> dict[str, Any]:
    outcome = str(attempt.get("outcome") or "")
    success = 1 if attempt.get("verified") is True else 0 if outcome in NOT_FIXED else None
    row = {
        "incident_id": incident_id,
        "opened_at": incident["opened_at"],
        "day": incident["day"],
        "service": incident["service"],
        "subject": incident["subject"],
        "pattern": incident["pattern"],
        "status": incident["status"],
        "n": int(attempt.get("n") or 0),
        "rung": int(attempt.get("rung") or 0),
        "operation": str(attempt.get("action"))[:32],
        "outcome": outcome[:16],
        "success": success,
        "undone": bool(attempt.get("undone")),
    }
    return row | {"cube": cube_key(row, ATTEMPT_CUBE)}


# ---------------------------------------------------------------------- writing


def _extracted(incident_id: str, doc: dict[str, Any], opened_at: datetime) -> tuple[dict[str, Any], list[Any]] | None:
    """:func:`extract`, or None for a document it cannot read (an odd import): no facts, but the save goes on."""
    try:
        return extract(incident_id, doc, opened_at)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        log.warning("no facts for incident %s: %s: %s", incident_id, type(exc).__name__, exc)
        return None


def write(conn: Connection, incident_id: str, doc: dict[str, Any], opened_at: datetime | None = None) -> None:
    """Replace the incident's facts with those of ``doc`` (inside the caller's transaction)."""
    if opened_at is None:
        opened_at = conn.scalar(select(IncidentRow.created_at).where(IncidentRow.id == incident_id))
        if opened_at is None:
            return
    conn.execute(delete(AttemptFacts).where(AttemptFacts.incident_id == incident_id))
    conn.execute(delete(IncidentFacts).where(IncidentFacts.incident_id == incident_id))
    facts = _extracted(incident_id, doc, opened_at)
    if facts is None:
        return
    row, attempts = facts
    conn.execute(insert(IncidentFacts), [row])
    if attempts:
        conn.execute(insert(AttemptFacts), attempts)


def write_many(conn: Connection, items: Iterable[tuple[str, dict[str, Any], datetime]]) -> int:
    """Write the facts of incidents that have none yet (an import, a backfill, a generated history); how many."""
    rows: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    for incident_id, doc, opened_at in items:
        facts = _extracted(incident_id, doc, opened_at)
        if facts is not None:
            rows.append(facts[0])
            attempts.extend(facts[1])
    if rows:
        ids = [r["incident_id"] for r in rows]
        conn.execute(delete(AttemptFacts).where(AttemptFacts.incident_id.in_(ids)))
        conn.execute(insert(IncidentFacts), rows)
    if attempts:
        conn.execute(insert(AttemptFacts), attempts)
    return len(rows)


def backfill(conn: Connection, batch: int = 500) -> int:
    """Write the facts of every incident that has none (a database from before these tables); how many."""
    counted = conn.scalar(select(func.count()).select_from(IncidentRow)) or 0
    have = conn.scalar(select(func.count()).select_from(IncidentFacts)) or 0
    if have >= counted:
        return 0
    missing = (
        select(IncidentRow.id, IncidentRow.doc, IncidentRow.created_at)
        .outerjoin(IncidentFacts, IncidentFacts.incident_id == IncidentRow.id)
        .where(IncidentFacts.incident_id.is_(None))
        .order_by(IncidentRow.id)
    )
    done, after = 0, ""
    while rows := conn.execute(missing.where(IncidentRow.id > after).limit(batch)).all():
        done += write_many(conn, ((i, doc or {}, at) for i, doc, at in rows))
        after = rows[-1][0]  # an unreadable document stays without facts; the next batch starts after it
    return done
