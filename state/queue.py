"""The durable work queue: alerts and wake-ups waiting for a worker, in the store's database.

Work is grouped in *lanes*, one per incident correlation key (Alertmanager groupKey, else
the alert fingerprint). A worker claims a whole lane under a lease, so one incident is
never worked on by two workers at once, while any number of workers share different
lanes. On PostgreSQL the claim is ``SELECT … FOR UPDATE SKIP LOCKED``; on SQLite, where
writers are serialized anyway, it is a compare-and-set ``UPDATE`` on the lease. A worker
that dies stops renewing its lease; when the lease runs out another worker claims the
lane and resumes the incident from its checkpoint.

Items are idempotent by ``delivery_key``: a redelivered alert is folded, not queued twice.
Times are Unix seconds (floats) so comparisons mean the same on both databases.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Engine, Float, Integer, String, Text, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from state.alert import Alert
from state.store import Base

ItemKind = str  # "alert" | "resume" | "decide"


class LaneRow(Base):
    """One correlation key: who holds it (lease) and which incident it feeds."""

    __tablename__ = "queue_lanes"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    incident_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    touched: Mapped[float] = mapped_column(Float)


class ItemRow(Base):
    """One unit of work: an alert to fold in, a timer to fire, an approval to apply."""

    __tablename__ = "queue_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lane: Mapped[str] = mapped_column(String(512), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    delivery_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    not_before: Mapped[float] = mapped_column(Float, index=True)
    created_at: Mapped[float] = mapped_column(Float)
    done_at: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    incident_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True)
class QueueItem:
    """A claimed lane's item, as the worker sees it."""

    id: int
    lane: str
    kind: ItemKind
    payload: dict[str, Any]
    incident_id: str | None
    note: str


@dataclass(frozen=True)
class Claim:
    """A lane held under lease by one worker (``token`` identifies this holding)."""

    lane: str
    token: str
    incident_id: str | None


@dataclass(frozen=True)
class Enqueued:
    """What intake stored: new items, and redeliveries folded into existing ones."""

    accepted: int
    duplicates: int


def delivery_key(alert: Alert) -> str:
    """The identity of one notification: the same alert re-sent is the same delivery."""
    parts = [
        alert.source,
        alert.fingerprint,
        alert.status,
        alert.starts_at.isoformat(),
        alert.ends_at.isoformat() if alert.ends_at else "",
    ]
    return "alert:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


class Queue:
    """Enqueue, claim, renew, finish: the queue's whole interface."""

    def __init__(self, engine: Engine, clock: Any = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._postgres = engine.dialect.name == "postgresql"
        Base.metadata.create_all(engine, tables=[LaneRow.__table__, ItemRow.__table__])  # type: ignore[list-item]

    # ------------------------------------------------------------------ intake

    def enqueue_alerts(self, alerts: list[Alert]) -> Enqueued:
        """Store every alert of one delivery in one transaction (committed before the 2xx)."""
        now = self.clock()
        accepted = 0
        with self._sessions.begin() as session:
            for alert in alerts:
                row = {
                    "lane": alert.dedup_key,
                    "kind": "alert",
                    "delivery_key": delivery_key(alert),
                    "payload": {"alert": alert.model_dump(mode="json")},
                    "not_before": now,
                    "created_at": now,
                    "note": "",
                }
                accepted += self._insert_item(session, row)
        return Enqueued(accepted=accepted, duplicates=len(alerts) - accepted)

    def enqueue(
        self,
        lane: str,
        kind: ItemKind,
        payload: dict[str, Any],
        *,
        not_before: float | None = None,
        key: str | None = None,
    ) -> bool:
        """Queue one item on ``lane``; False when ``key`` was already queued."""
        now = self.clock()
        row = {
            "lane": lane,
            "kind": kind,
            "delivery_key": key,
            "payload": payload,
            "not_before": now if not_before is None else not_before,
            "created_at": now,
            "note": "",
        }
        with self._sessions.begin() as session:
            return bool(self._insert_item(session, row))

    def _insert(self, table: Any) -> Any:
        return (pg_insert if self._postgres else sqlite_insert)(table)

    def _insert_item(self, session: Session, row: dict[str, Any]) -> int:
        lane = self._insert(LaneRow).values(key=row["lane"], touched=row["created_at"])
        session.execute(lane.on_conflict_do_nothing(index_elements=["key"]))
        stmt = self._insert(ItemRow).values(**row)
        if row["delivery_key"] is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["delivery_key"])
        # RETURNING, not rowcount: PostgreSQL reports -1 for ON CONFLICT DO NOTHING (DESIGN §7)
        return 1 if session.execute(stmt.returning(ItemRow.id)).first() is not None else 0

    # ------------------------------------------------------------------ claiming

    def claim(self, owner: str, lease_s: float) -> Claim | None:
        """Take the lease on one lane with work due now, or None when there is none."""
        now = self.clock()
        token = f"{owner}/{uuid.uuid4().hex[:8]}"
        due = (
            select(ItemRow.id)
            .where(ItemRow.lane == LaneRow.key, ItemRow.done_at.is_(None), ItemRow.not_before <= now)
            .exists()
        )
        free = (LaneRow.lease_until.is_(None)) | (LaneRow.lease_until < now)
        candidates = select(LaneRow.key, LaneRow.incident_id).where(free, due).order_by(LaneRow.touched)
        with self._sessions.begin() as session:
            if self._postgres:
                row = session.execute(candidates.limit(1).with_for_update(skip_locked=True, of=LaneRow)).first()
                rows = [row] if row else []
            else:
                rows = list(session.execute(candidates.limit(8)))
            for key, incident_id in rows:
                taken = session.execute(
                    update(LaneRow)
                    .where(LaneRow.key == key, free)
                    .values(owner=token, lease_until=now + lease_s, touched=now)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    return Claim(lane=key, token=token, incident_id=incident_id)
        return None

    def heartbeat(self, claim: Claim, lease_s: float) -> bool:
        """Extend the lease; False when it was lost (expired and taken by another worker)."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(LaneRow)
                .where(LaneRow.key == claim.lane, LaneRow.owner == claim.token)
                .values(lease_until=self.clock() + lease_s)
            )
            return result.rowcount == 1  # type: ignore[attr-defined]

    def release(self, claim: Claim) -> None:
        """Give the lane back (its future items stay queued)."""
        with self._sessions.begin() as session:
            session.execute(
                update(LaneRow)
                .where(LaneRow.key == claim.lane, LaneRow.owner == claim.token)
                .values(owner=None, lease_until=None, touched=self.clock())
            )

    # ------------------------------------------------------------------ a claimed lane's work

    def due(self, lane: str, limit: int = 100) -> list[QueueItem]:
        """The lane's unfinished items that are due now, oldest first."""
        stmt = (
            select(ItemRow)
            .where(ItemRow.lane == lane, ItemRow.done_at.is_(None), ItemRow.not_before <= self.clock())
            .order_by(ItemRow.id)
            .limit(limit)
        )
        with self._sessions.begin() as session:
            return [
                QueueItem(r.id, r.lane, r.kind, dict(r.payload), r.incident_id, r.note) for r in session.scalars(stmt)
            ]

    def take(self, item: QueueItem, incident_id: str, note: str) -> None:
        """Record which incident an item feeds before working on it (crash recovery reads it)."""
        with self._sessions.begin() as session:
            session.execute(update(ItemRow).where(ItemRow.id == item.id).values(incident_id=incident_id, note=note))
            session.execute(update(LaneRow).where(LaneRow.key == item.lane).values(incident_id=incident_id))

    def done(self, item: QueueItem, note: str = "") -> None:
        """Mark an item finished."""
        values: dict[str, Any] = {"done_at": self.clock()}
        if note:
            values["note"] = note
        with self._sessions.begin() as session:
            session.execute(update(ItemRow).where(ItemRow.id == item.id).values(**values))

    def lane_incident(self, lane: str) -> str | None:
        """The incident a lane currently feeds."""
        with self._sessions.begin() as session:
            return session.scalar(select(LaneRow.incident_id).where(LaneRow.key == lane))

    # ------------------------------------------------------------------ inspection

    def counts(self) -> dict[str, int]:
        """Items by state: pending (due or not), done; and lanes held under lease."""
        now = self.clock()
        with self._sessions.begin() as session:
            pending = session.scalar(select(func.count()).where(ItemRow.done_at.is_(None))) or 0
            done = session.scalar(select(func.count()).where(ItemRow.done_at.is_not(None))) or 0
            held = session.scalar(select(func.count()).where(LaneRow.lease_until >= now)) or 0
        return {"pending": int(pending), "done": int(done), "leased_lanes": int(held)}
