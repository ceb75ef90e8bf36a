"""What was told to whom, and how each person wants to be told.

Four tables beside the incident store (same ``Base``, same database, so they follow
``database.url`` to PostgreSQL):

- ``briefing_runs``: one row per user and briefing day; the unique key is what makes
  "never twice a day" hold across processes and restarts.
- ``deliveries``: one row per push (a key, a channel, a target) with its status
  (``delivered`` | ``retrying`` | ``failed`` | ``skipped``), attempts and last error. A push
  that may still succeed keeps its message in ``payload`` and a ``next_attempt_at`` until
  the retry job delivers it or gives it up.
- ``push_claims``: pushes a process has taken on (a follow-up's interval), one winner each.
- ``push_preferences``: the channels and email a person chose by voice; they replace the
  configured ``users[].channels`` / ``email`` of that person.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, Integer, String, Text, UniqueConstraint, inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Mapped, mapped_column

from state.store import Base, Store, create_tables, utcnow

FINAL = ("delivered", "failed")


class BriefingRun(Base):
    """The (user, day) a daily briefing was triggered for; at most one row each."""

    __tablename__ = "briefing_runs"
    __table_args__ = (UniqueConstraint("user_name", "day", name="uq_briefing_user_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_name: Mapped[str] = mapped_column(String(128), index=True)
    day: Mapped[str] = mapped_column(String(10))
    trigger: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Delivery(Base):
    """One notification push (key, channel, target) and how it went."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(512), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    user_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # Added with delivery tracking; older databases get them through _add_missing_columns.
    target: Mapped[str | None] = mapped_column(String(256), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)


class PushClaim(Base):
    """A push (a follow-up's interval) some process has taken on; the unique key lets exactly one win."""

    __tablename__ = "push_claims"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PushPreference(Base):
    """A person's own choice of channels (and email), set by voice."""

    __tablename__ = "push_preferences"

    user_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    channels: Mapped[str] = mapped_column(Text)  # JSON list
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


_TABLES = [BriefingRun.__table__, Delivery.__table__, PushClaim.__table__, PushPreference.__table__]
_ready: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines whose tables are checked (ids can be reused)
_ready_lock = threading.Lock()


def _add_missing_columns(engine: Engine) -> None:
    """Add the tracking columns to a ``deliveries`` table created before they existed."""
    present = {c["name"] for c in inspect(engine).get_columns("deliveries")}
    for column in Delivery.__table__.columns:
        if column.name in present:
            continue
        ddl = f"ALTER TABLE deliveries ADD COLUMN {column.name} {column.type.compile(engine.dialect)}"
        try:
            with engine.begin() as conn:
                conn.execute(text(ddl))
        except (OperationalError, ProgrammingError):  # another process added it first
            continue


def _prepare(engine: Engine) -> None:
    with _ready_lock:
        if engine in _ready:
            return
        create_tables(engine, _TABLES)  # under the store's schema lock (serve and workers start together)
        _add_missing_columns(engine)
        _ready.add(engine)


def _public(row: Delivery) -> dict[str, Any]:
    return {
        "key": row.key,
        "kind": row.kind,
        "incident_id": row.incident_id,
        "user": row.user_name,
        "channel": row.channel,
        "target": row.target or "",
        "status": row.status,
        "attempts": row.tries,
        "error": row.error,
        "at": row.at.isoformat(),
        "updated_at": (row.updated_at or row.at).isoformat(),
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
    }


class Ledger:
    """Briefing triggers, delivery records and push preferences on the incident store's database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        _prepare(store.engine)

    # ------------------------------------------------------------------ briefings

    def _briefing_row(self, session: Any, user: str, day: date) -> BriefingRun | None:
        stmt = select(BriefingRun).where(BriefingRun.user_name == user, BriefingRun.day == day.isoformat())
        row: BriefingRun | None = session.scalar(stmt)
        return row

    def claim_briefing(self, user: str, day: date, trigger: str, *, force: bool = False) -> bool:
        """Record that ``user``'s briefing for ``day`` is being given; False when it already was.

        The unique (user, day) key decides races between processes: exactly one claim wins.
        ``force`` re-claims (and re-stamps) a day that was already given.
        """
        now = utcnow()
        if force:
            with self.store.session() as session:
                row = self._briefing_row(session, user, day)
                if row is not None:
                    row.trigger, row.at = trigger, now
                    return True
        try:
            with self.store.session() as session:
                session.add(BriefingRun(user_name=user, day=day.isoformat(), trigger=trigger, at=now))
        except IntegrityError:
            return False
        return True

    def briefing_given(self, user: str, day: date) -> dict[str, Any] | None:
        """When and how ``user``'s briefing for ``day`` was triggered, or None."""
        with self.store.session() as session:
            row = self._briefing_row(session, user, day)
            return {"trigger": row.trigger, "at": row.at.isoformat()} if row else None

    def release_briefing(self, user: str, day: date) -> None:
        """Undo a claim whose briefing could not be produced, so a later trigger may retry."""
        with self.store.session() as session:
            row = self._briefing_row(session, user, day)
            if row is not None:
                session.delete(row)

    # ------------------------------------------------------------------ deliveries

    def record(
        self,
        *,
        key: str,
        kind: str,
        channel: str,
        status: str,
        tries: int,
        error: str = "",
        incident_id: str | None = None,
        user: str | None = None,
        target: str | None = None,
        next_attempt_at: datetime | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Record how the push ``key`` went: the first record inserts, later ones (retries) update it.

        ``payload`` (the message and who it mentions) is kept only while the push is retrying.
        """
        now = utcnow()
        kept = json.dumps(payload, ensure_ascii=False) if payload is not None and status == "retrying" else None
        with self.store.session() as session:
            row = session.scalar(select(Delivery).where(Delivery.key == key).order_by(Delivery.id.desc()).limit(1))
            if row is None or row.status in FINAL or status == "skipped":
                row = Delivery(key=key, at=now, tries=0)
                session.add(row)
            row.kind, row.channel, row.status, row.tries = kind, channel, status, tries
            row.error, row.incident_id, row.user_name = error[:2000], incident_id, (user or "")[:128] or None
            row.target = (target or "")[:256] or None
            row.updated_at, row.next_attempt_at, row.payload = now, next_attempt_at, kept

    def delivered(self, key: str) -> bool:
        """Whether a push with ``key`` already reached its channel (pushes are idempotent)."""
        with self.store.session() as session:
            stmt = select(Delivery.id).where(Delivery.key == key, Delivery.status == "delivered").limit(1)
            return session.scalar(stmt) is not None

    def pending(self, key: str) -> bool:
        """Whether a push with ``key`` is waiting for its retry (sending it now would double it)."""
        with self.store.session() as session:
            stmt = select(Delivery.id).where(Delivery.key == key, Delivery.status == "retrying").limit(1)
            return session.scalar(stmt) is not None

    def claim(self, key: str) -> bool:
        """Take on the push ``key`` once: True for exactly one caller across processes and restarts."""
        try:
            with self.store.session() as session:
                session.add(PushClaim(key=key, at=utcnow()))
        except IntegrityError:
            return False
        return True

    def due_retries(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        """Pushes waiting for a retry whose time has come, oldest first, with their payload."""
        with self.store.session() as session:
            stmt = (
                select(Delivery)
                .where(Delivery.status == "retrying", Delivery.next_attempt_at <= now)
                .order_by(Delivery.next_attempt_at)
                .limit(limit)
            )
            return [{**_public(row), "payload": json.loads(row.payload or "{}")} for row in session.scalars(stmt)]

    def open_triggers(self, channel: str) -> list[str]:
        """Incidents with a delivered incident push over ``channel`` and no delivered ``resolution`` yet."""
        with self.store.session() as session:
            stmt = select(Delivery.incident_id, Delivery.kind).where(
                Delivery.channel == channel, Delivery.status == "delivered", Delivery.incident_id.is_not(None)
            )
            rows = session.execute(stmt).all()
        resolved = {str(i) for i, kind in rows if kind == "resolution"}
        return sorted({str(i) for i, kind in rows if kind != "resolution" and str(i) not in resolved})

    def deliveries(self, *, incident_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Delivery records, newest first."""
        with self.store.session() as session:
            stmt = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
            if incident_id:
                stmt = stmt.where(Delivery.incident_id == incident_id)
            return [_public(row) for row in session.scalars(stmt)]

    def stats(self, since: datetime | None = None) -> dict[str, dict[str, Any]]:
        """Per channel: pushes by status, attempts, success rate (delivered / finished) and the last error."""
        with self.store.session() as session:
            stmt = select(Delivery.channel, Delivery.status, Delivery.tries, Delivery.error, Delivery.id)
            if since is not None:
                stmt = stmt.where(Delivery.at >= since)
            rows = session.execute(stmt.order_by(Delivery.id)).all()
        out: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"delivered": 0, "failed": 0, "retrying": 0, "skipped": 0, "attempts": 0, "last_error": ""}
        )
        for channel, status, tries, error, _id in rows:
            entry = out[channel]
            entry[status] = entry.get(status, 0) + 1
            entry["attempts"] += tries or 0
            if status in ("failed", "retrying") and error:
                entry["last_error"] = error
        for entry in out.values():
            finished = entry["delivered"] + entry["failed"]
            entry["success_rate"] = round(entry["delivered"] / finished, 4) if finished else None
        return dict(sorted(out.items()))

    # ------------------------------------------------------------------ preferences

    def preferences(self, user: str) -> dict[str, Any] | None:
        """The channels and email ``user`` chose by voice, or None."""
        with self.store.session() as session:
            row = session.get(PushPreference, user.lower())
            if row is None:
                return None
            return {"channels": json.loads(row.channels), "email": row.email, "updated_at": row.updated_at.isoformat()}

    def set_preferences(self, user: str, channels: list[str], email: str | None) -> None:
        """Store ``user``'s own channels (and email, when given; None keeps the one before)."""
        with self.store.session() as session:
            row = session.get(PushPreference, user.lower())
            if row is None:
                row = PushPreference(user_name=user.lower())
                session.add(row)
            row.channels = json.dumps(channels)
            if email is not None:
                row.email = email
            row.updated_at = utcnow()
