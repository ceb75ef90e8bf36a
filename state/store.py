"""The incident store (SQLAlchemy): incidents, their audit trail, on SQLite or PostgreSQL.

Checkpoints live beside these tables in the same database (graph/checkpoint.py); this
store keeps what people query: one row per incident with its latest public document,
and an append-only audit trail of decisions and actions.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

# An escalated incident stays open for a human: repeats of its alert join it.
OPEN_STATUSES = ("open", "awaiting_approval", "escalated")


def _clip(value: Any, size: int) -> Any:
    """A summary column's value cut to its column size (PostgreSQL refuses longer; the document keeps it whole)."""
    return value[:size] if isinstance(value, str) else value


def utcnow() -> datetime:
    """Aware UTC now (the store's one clock)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the store's tables."""


class IncidentRow(Base):
    """One incident; ``doc`` is its latest public JSON document."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(512), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256))
    service: Mapped[str | None] = mapped_column(String(256), nullable=True)
    severity: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)


class AuditRow(Base):
    """An append-only audit record: who did what to which incident, when."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout so readers never block."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cursor = conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


SCHEMA_LOCK = 7_201_402  # a PostgreSQL advisory lock id: one process creates the tables at a time


def create_tables(engine: Engine, tables: Any = None) -> None:
    """Create missing tables; on PostgreSQL under an advisory lock.

    ``serve`` and workers starting together on a fresh database race on ``CREATE TABLE``
    (PostgreSQL answers the loser with a unique violation in its catalogue); the lock makes
    the second wait for the first and then find the tables there.
    """
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": SCHEMA_LOCK})
        Base.metadata.create_all(conn, tables=tables)


def _write_facts(conn: Any, incident_id: str, doc: dict[str, Any], opened_at: datetime | None = None) -> None:
    """Keep the incident's facts row (state/facts.py: stats, recall) in step with its document, same transaction."""
    from state import facts

    facts.write(conn, incident_id, doc, opened_at)


class Store:
    """Incidents and audit records; one instance per process, passed to whoever needs it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        from state import facts  # noqa: F401 - its tables (stats, recall) are created with ours

        create_tables(engine)

    @classmethod
    def from_url(cls, url: str) -> Store:
        """Open (and create) the store at ``url``."""
        return cls(make_engine(url))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    # ------------------------------------------------------------------ incidents

    def new_incident_id(self) -> str:
        """A fresh, sortable incident id."""
        return f"inc-{utcnow():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"

    def create_incident(self, incident_id: str, dedup_key: str, doc: dict[str, Any]) -> None:
        """Insert a new incident row from its first public document."""
        alert = doc["alert"]
        now = utcnow()
        with self.session() as session:
            session.add(
                IncidentRow(
                    id=incident_id,
                    dedup_key=_clip(dedup_key, 512),
                    status=doc.get("status", "open"),
                    source=_clip(alert["source"], 32),
                    name=_clip(alert["name"], 256),
                    service=_clip(alert.get("service"), 256),
                    severity=_clip(alert.get("severity", "warning"), 32),
                    created_at=now,
                    updated_at=now,
                    doc=doc,
                )
            )
            session.flush()
            _write_facts(session.connection(), incident_id, doc, now)

    def save_doc(self, incident_id: str, doc: dict[str, Any]) -> None:
        """Replace the incident's public document and status (one UPDATE)."""
        stmt = (
            update(IncidentRow)
            .where(IncidentRow.id == incident_id)
            .values(doc=doc, status=doc.get("status", "open"), updated_at=utcnow())
        )
        with self.engine.begin() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise KeyError(incident_id)
            _write_facts(conn, incident_id, doc)

    def get(self, incident_id: str) -> dict[str, Any] | None:
        """The public document of ``incident_id``, or None."""
        with self.session() as session:
            row = session.get(IncidentRow, incident_id)
            return dict(row.doc) if row else None

    def incident_row(self, incident_id: str) -> dict[str, Any] | None:
        """The row of ``incident_id`` as an export keeps it (dedup key, creation time, document), or None."""
        with self.session() as session:
            row = session.get(IncidentRow, incident_id)
            if row is None:
                return None
            return {"dedup_key": row.dedup_key, "created_at": row.created_at.isoformat(), "doc": row.doc}

    def restore_incident(
        self, incident_id: str, dedup_key: str, created_at: datetime, doc: dict[str, Any],
        audit: builtins.list[dict[str, Any]],
    ) -> None:  # fmt: skip
        """Insert an imported incident row and its audit records (``at``, ``actor``, ``kind``, ``detail``)."""
        alert = doc.get("alert") or {}
        with self.session() as session:
            session.add(
                IncidentRow(
                    id=incident_id,
                    dedup_key=_clip(dedup_key, 512),
                    status=_clip(doc.get("status", "open"), 32),
                    source=_clip(alert.get("source", "generic"), 32),
                    name=_clip(alert.get("name", "?"), 256),
                    service=_clip(alert.get("service"), 256),
                    severity=_clip(alert.get("severity", "warning"), 32),
                    created_at=created_at,
                    updated_at=utcnow(),
                    doc=doc,
                )
            )
            session.flush()
            _write_facts(session.connection(), incident_id, doc, created_at)
            for record in audit:
                session.add(
                    AuditRow(
                        incident_id=incident_id,
                        at=datetime.fromisoformat(record["at"]),
                        actor=record["actor"],
                        kind=record["kind"],
                        detail=json.dumps(record["detail"], ensure_ascii=False, default=str),
                    )
                )

    def find_open(self, dedup_key: str) -> str | None:
        """The open incident with ``dedup_key``, if any."""
        with self.session() as session:
            stmt = (
                select(IncidentRow.id)
                .where(IncidentRow.dedup_key == dedup_key, IncidentRow.status.in_(OPEN_STATUSES))
                .order_by(IncidentRow.created_at.desc())
                .limit(1)
            )
            return session.scalar(stmt)

    def find_latest(self, dedup_key: str) -> str | None:
        """The newest incident with ``dedup_key`` whatever its status (a late resolved notice finds it)."""
        with self.session() as session:
            stmt = (
                select(IncidentRow.id)
                .where(IncidentRow.dedup_key == dedup_key)
                .order_by(IncidentRow.created_at.desc())
                .limit(1)
            )
            return session.scalar(stmt)

    def stalled(self, before: datetime, limit: int = 100) -> builtins.list[str]:
        """Incidents still ``open`` (no person awaited, not closed) whose document is unchanged since ``before``.

        The reaper's candidates: it resumes those nobody works on and nothing is queued for.
        """
        with self.session() as session:
            stmt = (
                select(IncidentRow.id)
                .where(IncidentRow.status == "open", IncidentRow.updated_at < before)
                .order_by(IncidentRow.updated_at)
                .limit(limit)
            )
            return builtins.list(session.scalars(stmt))

    def count_by_status(self) -> dict[str, int]:
        """How many incidents are in each status."""
        with self.session() as session:
            stmt = select(IncidentRow.status, func.count()).group_by(IncidentRow.status)
            return {status: int(n) for status, n in session.execute(stmt)}

    def list(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Incident summaries, newest first."""
        with self.session() as session:
            stmt = select(IncidentRow).order_by(IncidentRow.created_at.desc()).limit(limit)
            if status:
                stmt = stmt.where(IncidentRow.status == status)
            return [
                {
                    "id": row.id,
                    "status": row.status,
                    "source": row.source,
                    "name": row.name,
                    "service": row.service,
                    "severity": row.severity,
                    "created_at": row.created_at.isoformat(),
                    "updated_at": row.updated_at.isoformat(),
                    "score": (row.doc.get("triage") or {}).get("score"),
                    "attempts": len(row.doc.get("attempts") or []),
                }
                for row in session.scalars(stmt)
            ]

    def incidents_between(self, start: datetime, end: datetime) -> builtins.list[dict[str, Any]]:
        """Documents of the incidents opened in [``start``, ``end``), oldest first, with ``created_at``."""
        stmt = select(IncidentRow).where(IncidentRow.created_at >= start, IncidentRow.created_at < end)
        return self._docs(stmt)

    def with_status(self, status: str) -> builtins.list[dict[str, Any]]:
        """Documents of the incidents in ``status``, oldest first, with ``created_at`` and ``updated_at``."""
        return self._docs(select(IncidentRow).where(IncidentRow.status == status))

    def documents(self) -> builtins.list[dict[str, Any]]:
        """Every incident's document, oldest first (``audit verify --store`` reads the executor heads in them)."""
        return self._docs(select(IncidentRow))

    def escalated(self) -> builtins.list[dict[str, Any]]:
        """Documents of the incidents escalated to people and still open (reminders, briefings)."""
        return self.with_status("escalated")

    def _docs(self, stmt: Any) -> builtins.list[dict[str, Any]]:
        with self.session() as session:
            return [
                {**row.doc, "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat()}
                for row in session.scalars(stmt.order_by(IncidentRow.created_at))
            ]

    # ------------------------------------------------------------------ audit

    def audit(
        self, incident_id: str, actor: str, kind: str, detail: dict[str, Any], at: datetime | None = None
    ) -> None:
        """Append one audit record (at ``at``: the caller's clock, else now)."""
        with self.session() as session:
            session.add(
                AuditRow(
                    incident_id=incident_id,
                    at=at or utcnow(),
                    actor=actor,
                    kind=kind,
                    detail=json.dumps(detail, ensure_ascii=False, default=str),
                )
            )

    def audit_trail(self, incident_id: str) -> builtins.list[dict[str, Any]]:  # `list` here is Store.list
        """The incident's audit records, oldest first."""
        with self.session() as session:
            stmt = select(AuditRow).where(AuditRow.incident_id == incident_id).order_by(AuditRow.id)
            return [
                {
                    "at": row.at.isoformat(),
                    "actor": row.actor,
                    "kind": row.kind,
                    "detail": json.loads(row.detail),
                }
                for row in session.scalars(stmt)
            ]

    def count_audit(self, kind: str, since: datetime, **match: Any) -> int:
        """Distinct ``detail["key"]`` values of ``kind`` records since ``since`` whose detail matches ``match``."""
        keys: set[str] = set()
        with self.session() as session:
            stmt = select(AuditRow).where(AuditRow.kind == kind, AuditRow.at >= since)
            for row in session.scalars(stmt):
                detail = json.loads(row.detail)
                if all(detail.get(k) == v for k, v in match.items()):
                    keys.add(str(detail.get("key", row.id)))
        return len(keys)
