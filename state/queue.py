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

from sqlalchemy import JSON, Engine, Float, Integer, String, Text, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from state.alert import Alert
from state.queue_health import DeadLetterRow, WorkerBeatRow, add_dead_letter
from state.store import Base, create_tables

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


class WebhookDeliveryRow(Base):
    """A signed webhook delivery id, remembered for the replay window (a replay is not a new alert)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    seen_at: Mapped[float] = mapped_column(Float, index=True)


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
class FollowUp:
    """An item to queue when another finishes (a durable timer's wake-up)."""

    lane: str
    kind: ItemKind
    payload: dict[str, Any]
    not_before: float
    key: str | None = None

    def row(self, now: float) -> dict[str, Any]:
        """The ``queue_items`` row."""
        return {"lane": self.lane, "kind": self.kind, "delivery_key": self.key, "payload": self.payload,
                "not_before": self.not_before, "created_at": now, "note": ""}  # fmt: skip


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
        tables = [LaneRow.__table__, ItemRow.__table__, DeadLetterRow.__table__, WorkerBeatRow.__table__,
                  WebhookDeliveryRow.__table__]  # fmt: skip
        create_tables(engine, tables)

    # ------------------------------------------------------------------ intake

    def enqueue_alerts(self, alerts: list[Alert], delivery: str | None = None, window_s: float = 600) -> Enqueued:
        """Store every alert of one delivery in one transaction (committed before the 2xx).

        With a ``delivery`` id (a signed webhook's), an id already seen within ``window_s``
        stores nothing (every alert counts as a duplicate): a replay is not a new alert. The id
        is remembered in the same transaction, so a delivery that failed to store may be retried.
        """
        now = self.clock()
        accepted = 0
        with self._sessions.begin() as session:
            if delivery is not None and not self._first_delivery(session, delivery, now, window_s):
                return Enqueued(accepted=0, duplicates=len(alerts))
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

    def _first_delivery(self, session: Session, delivery: str, now: float, window_s: float) -> bool:
        session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.seen_at < now - window_s))
        stmt = self._insert(WebhookDeliveryRow).values(id=delivery, seen_at=now).on_conflict_do_nothing()
        return session.execute(stmt.returning(WebhookDeliveryRow.id)).first() is not None

    def _insert(self, table: Any) -> Any:
        return (pg_insert if self._postgres else sqlite_insert)(table)

    def _insert_item(self, session: Session, row: dict[str, Any]) -> int:
        lane = self._insert(LaneRow).values(key=row["lane"], touched=row["created_at"])
        session.execute(lane.on_conflict_do_nothing(index_elements=["key"]))
        stmt = self._insert(ItemRow).values(**row)
        if row["delivery_key"] is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["delivery_key"])
        # RETURNING, not rowcount: with SQLAlchemy 2.1 and psycopg 3.3, ON CONFLICT DO NOTHING reports -1
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

    def done(self, item: QueueItem, note: str = "", then: list[FollowUp] | None = None) -> None:
        """Mark an item finished and queue its follow-ups (a durable timer) in the same transaction.

        One transaction, so a worker that dies after finishing a step cannot leave the
        incident waiting on a timer nobody armed.
        """
        values: dict[str, Any] = {"done_at": self.clock()}
        if note:
            values["note"] = note[:4000]
        with self._sessions.begin() as session:
            session.execute(update(ItemRow).where(ItemRow.id == item.id).values(**values))
            for follow in then or []:
                self._insert_item(session, follow.row(self.clock()))

    def dead_letter(self, item: QueueItem, reason: str, worker: str) -> None:
        """Finish an item no worker can process, keeping it and the reason (state/queue_health.py)."""
        now = self.clock()
        with self._sessions.begin() as session:
            note = f"dead letter: {reason}"[:4000]
            session.execute(update(ItemRow).where(ItemRow.id == item.id).values(done_at=now, note=note))
            add_dead_letter(session, item, reason, worker, now)

    def idle(self, incident_id: str) -> bool:
        """Whether nobody works on ``incident_id`` and nothing is queued for it (a reaper may resume it)."""
        now = self.clock()
        with self._sessions.begin() as session:
            lanes = list(session.scalars(select(LaneRow).where(LaneRow.incident_id == incident_id)))
            if any(lane.lease_until is not None and lane.lease_until >= now for lane in lanes):
                return False
            keys = [lane.key for lane in lanes]
            pending = select(func.count()).where(
                ItemRow.done_at.is_(None), (ItemRow.incident_id == incident_id) | ItemRow.lane.in_(keys)
            )
            return not session.scalar(pending)

    def item_incident(self, item_id: int) -> str | None:
        """The incident an item was taken for (:meth:`take`), if any."""
        with self._sessions.begin() as session:
            return session.scalar(select(ItemRow.incident_id).where(ItemRow.id == item_id))

    def lane_incident(self, lane: str) -> str | None:
        """The incident a lane currently feeds."""
        with self._sessions.begin() as session:
            return session.scalar(select(LaneRow.incident_id).where(LaneRow.key == lane))

    # ------------------------------------------------------------------ inspection

    def depth(self) -> tuple[int, float]:
        """Items not done, and how long the oldest of those already due has waited (seconds; 0 if none)."""
        now = self.clock()
        with self._sessions.begin() as session:
            pending = session.scalar(select(func.count()).where(ItemRow.done_at.is_(None))) or 0
            oldest = session.scalar(
                select(func.min(ItemRow.not_before)).where(ItemRow.done_at.is_(None), ItemRow.not_before <= now)
            )
        return int(pending), max(0.0, now - oldest) if oldest is not None else 0.0

    def counts(self) -> dict[str, int]:
        """Items by state: pending (due or not), done; and lanes held under lease."""
        now = self.clock()
        with self._sessions.begin() as session:
            pending = session.scalar(select(func.count()).where(ItemRow.done_at.is_(None))) or 0
            done = session.scalar(select(func.count()).where(ItemRow.done_at.is_not(None))) or 0
            held = session.scalar(select(func.count()).where(LaneRow.lease_until >= now)) or 0
        return {"pending": int(pending), "done": int(done), "leased_lanes": int(held)}
