"""What was told to whom: daily-briefing triggers and notification deliveries.

Two tables beside the incident store (same ``Base``, same database, so they follow
``database.url`` to PostgreSQL): ``briefing_runs`` holds one row per user and briefing
day — the unique key is what makes "never twice a day" hold across processes and
restarts — and ``deliveries`` records every push (channel, status, tries, error).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from state.store import Base, Store, create_tables, utcnow


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
    """One notification push and how it went."""

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


class Ledger:
    """Briefing triggers and delivery records on the incident store's database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        create_tables(store.engine, [BriefingRun.__table__, Delivery.__table__])

    # ------------------------------------------------------------------ briefings

    def claim_briefing(self, user: str, day: date, trigger: str, *, force: bool = False) -> bool:
        """Record that ``user``'s briefing for ``day`` is being given; False when it already was.

        The unique (user, day) key decides races between processes: exactly one claim wins.
        ``force`` re-claims (and re-stamps) a day that was already given.
        """
        now = utcnow()
        if force:
            with self.store.session() as session:
                row = session.scalar(
                    select(BriefingRun).where(BriefingRun.user_name == user, BriefingRun.day == day.isoformat())
                )
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
            row = session.scalar(
                select(BriefingRun).where(BriefingRun.user_name == user, BriefingRun.day == day.isoformat())
            )
            return {"trigger": row.trigger, "at": row.at.isoformat()} if row else None

    def release_briefing(self, user: str, day: date) -> None:
        """Undo a claim whose briefing could not be produced, so a later trigger may retry."""
        with self.store.session() as session:
            row = session.scalar(
                select(BriefingRun).where(BriefingRun.user_name == user, BriefingRun.day == day.isoformat())
            )
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
    ) -> None:
        """Append one delivery record."""
        with self.store.session() as session:
            session.add(
                Delivery(
                    key=key,
                    kind=kind,
                    incident_id=incident_id,
                    user_name=user,
                    channel=channel,
                    status=status,
                    tries=tries,
                    error=error[:2000],
                    at=utcnow(),
                )
            )

    def delivered(self, key: str) -> bool:
        """Whether a push with ``key`` already reached its channel (pushes are idempotent)."""
        with self.store.session() as session:
            stmt = select(Delivery.id).where(Delivery.key == key, Delivery.status == "delivered").limit(1)
            return session.scalar(stmt) is not None

    def last_push(self, incident_id: str) -> datetime | None:
        """When the incident's escalation (or reminder) last reached someone."""
        with self.store.session() as session:
            stmt = (
                select(Delivery.at)
                .where(
                    Delivery.incident_id == incident_id,
                    Delivery.status == "delivered",
                    Delivery.kind.in_(("escalation", "reminder")),
                )
                .order_by(Delivery.at.desc())
                .limit(1)
            )
            return session.scalar(stmt)

    def deliveries(self, *, incident_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Delivery records, newest first."""
        with self.store.session() as session:
            stmt = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
            if incident_id:
                stmt = stmt.where(Delivery.incident_id == incident_id)
            return [
                {
                    "key": row.key,
                    "kind": row.kind,
                    "incident_id": row.incident_id,
                    "user": row.user_name,
                    "channel": row.channel,
                    "status": row.status,
                    "tries": row.tries,
                    "error": row.error,
                    "at": row.at.isoformat(),
                }
                for row in session.scalars(stmt)
            ]
