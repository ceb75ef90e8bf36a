"""What the queue knows about its own health: dead letters and worker heartbeats.

A *dead letter* is an item a worker could not process (it raised): it is finished with
its reason kept here, so it never blocks the lane behind it and a person can see it (API,
``/metrics``) and re-send it. A *heartbeat* is a worker saying "alive until" (now plus its
lease) every few seconds; ``/healthz`` fails when no worker's heartbeat is current.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Engine, Float, Integer, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from state.store import Base, create_tables


class DeadLetterRow(Base):
    """A queue item no worker could process, with why."""

    __tablename__ = "queue_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(Integer, index=True)
    lane: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    incident_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    worker: Mapped[str] = mapped_column(String(128))
    at: Mapped[float] = mapped_column(Float, index=True)


class WorkerBeatRow(Base):
    """A worker's last heartbeat: alive until ``alive_until`` (its beat plus its lease)."""

    __tablename__ = "queue_workers"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    beat_at: Mapped[float] = mapped_column(Float)
    alive_until: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True)
class WorkerBeat:
    """One worker as the last heartbeat left it."""

    name: str
    beat_at: float
    alive_until: float


def add_dead_letter(session: Session, item: Any, reason: str, worker: str, now: float) -> None:
    """Keep ``item`` (a :class:`state.queue.QueueItem`) with its reason, in the caller's transaction."""
    session.add(
        DeadLetterRow(
            item_id=item.id, lane=item.lane, kind=item.kind, payload=item.payload, incident_id=item.incident_id,
            reason=reason[:4000], worker=worker[:128], at=now,
        )
    )  # fmt: skip


class QueueHealth:
    """Reads and writes of dead letters and heartbeats."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        create_tables(engine, [DeadLetterRow.__table__, WorkerBeatRow.__table__])

    def beat(self, name: str, now: float, lease_s: float) -> None:
        """Record that ``name`` is alive until ``now + lease_s``."""
        with self._sessions.begin() as session:
            row = session.get(WorkerBeatRow, name)
            if row is None:
                session.add(WorkerBeatRow(name=name, beat_at=now, alive_until=now + lease_s, started_at=now))
            else:
                row.beat_at, row.alive_until = now, now + lease_s

    def forget(self, name: str) -> None:
        """A worker that stops cleanly takes its heartbeat with it."""
        with self._sessions.begin() as session:
            session.execute(delete(WorkerBeatRow).where(WorkerBeatRow.name == name))

    def workers(self) -> list[WorkerBeat]:
        """Every worker's last heartbeat, newest first."""
        with self._sessions.begin() as session:
            rows = session.scalars(select(WorkerBeatRow).order_by(WorkerBeatRow.beat_at.desc()))
            return [WorkerBeat(r.name, r.beat_at, r.alive_until) for r in rows]

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Dead letters, newest first, as JSON."""
        with self._sessions.begin() as session:
            rows = session.scalars(select(DeadLetterRow).order_by(DeadLetterRow.id.desc()).limit(limit))
            return [
                {"id": r.id, "item": r.item_id, "lane": r.lane, "kind": r.kind, "incident_id": r.incident_id,
                 "reason": r.reason, "worker": r.worker, "at": r.at, "payload": r.payload}
                for r in rows
            ]  # fmt: skip

    def dead_letter_count(self) -> int:
        """How many dead letters there are."""
        with self._sessions.begin() as session:
            return int(session.scalar(select(func.count()).select_from(DeadLetterRow)) or 0)
