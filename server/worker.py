"""The worker loop: claim a lane from the durable queue, run its incident, release it.

``alertpilot worker`` runs one; ``alertpilot serve`` runs one in-process unless
``--no-worker``. Workers on several machines share ``database.url``. A lane is held
under a lease renewed by a heartbeat thread; if the worker dies, the lease runs out and
another worker resumes the incident from its last checkpoint. A verify wait is a durable
timer: the worker queues a ``resume`` item due at the timer's time and lets go, in the same
transaction that finishes the item whose step armed it (so no death in between loses it).

An item that raises is a *dead letter*: finished with its reason kept (state/queue_health.py),
so it never blocks its lane; an incident it left without a thread is marked failed, so the
next alert of its fingerprint starts anew. A *reaper* (every ``lease_s``) resumes any open
incident that nobody works on, nothing is queued for, and that waits on no timer and no person.
Each worker heartbeats (``/healthz``, ``/metrics``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from graph.runner import IncidentRunner
from state.alert import Alert
from state.config import Settings
from state.queue import Claim, FollowUp, Queue, QueueItem
from state.queue_health import QueueHealth

log = logging.getLogger("alertpilot.worker")


def default_name() -> str:
    """host:pid — who holds a lease, in the audit trail."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """Claims lanes and runs their incidents; collaborators come in through the constructor."""

    def __init__(
        self,
        queue: Queue,
        runner: IncidentRunner,
        *,
        name: str | None = None,
        lease_s: float = 30.0,
        poll_s: float = 0.5,
        max_items: int = 500,
        on_waiting: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.queue = queue
        self.runner = runner
        self.store = runner.store
        self.name = name or default_name()
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.max_items = max_items
        self.on_waiting = on_waiting  # told of an incident left waiting for a person (the approval notice)
        self.health = QueueHealth(queue.engine)
        self._next_beat = 0.0
        self._next_reap = 0.0

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; sleep ``poll_s`` when the queue has nothing due."""
        log.info("worker %s started", self.name)
        while not stop.is_set():
            try:
                self.beat()
                self.reap()
                busy = self.run_once()
            except Exception:  # noqa: BLE001 - the loop outlives one bad lane; the lease will expire
                log.exception("worker %s: claim failed", self.name)
                busy = False
            if not busy:
                stop.wait(self.poll_s)
        self.health.forget(self.name)

    def beat(self, force: bool = False) -> None:
        """Heartbeat (at most every third of the lease): this worker is alive until now + lease."""
        now = time.time()
        if force or now >= self._next_beat:
            self.health.beat(self.name, now, self.lease_s)
            self._next_beat = now + self.lease_s / 3

    def reap(self, force: bool = False) -> list[str]:
        """Queue a resume for each stalled open incident nobody works on (every ``lease_s``); returns their ids."""
        now = time.time()
        if not force and now < self._next_reap:
            return []
        self._next_reap = now + self.lease_s
        before = datetime.now(UTC) - timedelta(seconds=self.lease_s)
        reaped = []
        for incident_id in self.store.stalled(before):
            if not self.queue.idle(incident_id):
                continue
            row = self.store.incident_row(incident_id)
            lane = row["dedup_key"] if row else incident_id
            if self.queue.enqueue(lane, "reap", {"incident_id": incident_id}, key=f"reap:{incident_id}:{int(now)}"):
                reaped.append(incident_id)
        if reaped:
            log.warning("worker %s: resuming %d stalled incident(s): %s", self.name, len(reaped), ", ".join(reaped))
        return reaped

    def run_once(self) -> bool:
        """Claim one lane with due work and do it; False when nothing was due."""
        claim = self.queue.claim(self.name, self.lease_s)
        if claim is None:
            return False
        with self._heartbeat(claim):
            self._recover(claim)
            for _ in range(self.max_items):
                items = self.queue.due(claim.lane, limit=50)
                if not items:
                    break
                self._do_all(items)
            self._arm_timer(claim.lane)
            self._tell_waiting(claim.lane)
        self.queue.release(claim)
        return True

    @contextmanager
    def _heartbeat(self, claim: Claim) -> Iterator[None]:
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease_s / 3):
                if not self.queue.heartbeat(claim, self.lease_s):
                    log.warning("worker %s lost the lease on %s", self.name, claim.lane)
                    return

        thread = threading.Thread(target=beat, name=f"heartbeat-{claim.lane[:20]}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def _recover(self, claim: Claim) -> None:
        """A previous holder died mid-run: continue its incident from the last checkpoint."""
        incident_id = claim.incident_id
        if incident_id and self.runner.state(incident_id) is not None and self.runner.running(incident_id):
            self.store.audit(incident_id, self.name, "worker", {"work": "recover"})
            self.runner.resume(incident_id)

    def _do_all(self, items: list[QueueItem]) -> None:
        """Do items in order, folding a run of repeated firing alerts into one join (storms)."""
        i = 0
        while i < len(items):
            run = _firing_run(items, i)
            open_id = self.store.find_open(items[i].lane) if len(run) > 1 else None
            if open_id is None:
                self._do(items[i])
                i += 1
                continue
            for item in run:
                self.queue.take(item, open_id, "join")
            folded = [str(item.payload["alert"].get("fingerprint")) for item in run]
            doc = self.runner.join(
                open_id, Alert.model_validate(run[-1].payload["alert"]), count=len(run), fingerprints=folded
            )
            for n, item in enumerate(run, start=1):
                timer = self._timer(open_id) if n == len(run) else []
                self.queue.done(item, f"joined ({doc['status']}, folded {len(run)})", then=timer)
            i += len(run)

    def _do(self, item: QueueItem) -> None:
        try:
            note = self._handle(item)
        except Exception as exc:  # noqa: BLE001 - a poison item is dead-lettered; the incident keeps its checkpoint
            log.exception("worker %s: item %s failed", self.name, item.id)
            self._poisoned(item, f"{type(exc).__name__}: {exc}")
            return
        incident_id = item.payload.get("incident_id") if item.kind != "alert" else None
        self.queue.done(item, note, then=self._timer(incident_id or self.queue.lane_incident(item.lane)))

    def _poisoned(self, item: QueueItem, reason: str) -> None:
        """Dead-letter ``item``; an incident it left without a thread is failed so it blocks nothing."""
        # recorded by ``take`` before the work began; a timer, decision or reap names it in its payload
        incident_id = self.queue.item_incident(item.id) or item.payload.get("incident_id")
        self.queue.dead_letter(item, reason, self.name)
        if not incident_id:
            return
        self.store.audit(incident_id, self.name, "worker_error", {"item": item.kind, "error": reason})
        # a thread that cannot even be resumed would be reaped again every lease: fail it once, for a person
        if item.kind == "reap" or self.runner.state(incident_id) is None:
            self._fail(incident_id, f"could not be processed: {reason}")

    def _fail(self, incident_id: str, reason: str) -> None:
        doc = self.store.get(incident_id)
        if doc is not None and doc.get("status") in ("open", "awaiting_approval"):
            self.store.save_doc(incident_id, {**doc, "status": "failed", "escalation_reason": reason[:2000]})

    def _handle(self, item: QueueItem) -> str:
        match item.kind:
            case "alert":
                return self._alert(item)
            case "resume":
                incident_id = str(item.payload["incident_id"])
                if self.runner.waiting_until(incident_id) is None:
                    return "nothing to resume: the wait was answered or stopped"
                self.store.audit(incident_id, self.name, "worker", {"work": "timer"})
                return f"resumed: {self.runner.resume(incident_id)['status']}"
            case "decide":
                return self._decide(item)
            case "reap":
                return self._reaped(str(item.payload["incident_id"]), item)
        return f"unknown item kind {item.kind!r}"

    def _reaped(self, incident_id: str, item: QueueItem) -> str:
        """Continue a stalled incident: re-arm its timer, resume its run, or fail a threadless one."""
        if self.runner.state(incident_id) is None:
            self._fail(incident_id, "no checkpoint: the incident was never started")
            return "failed: no checkpoint"
        for follow in self._timer(incident_id):  # the lost wake-up, under a key of its own
            self.queue.enqueue(follow.lane, follow.kind, follow.payload, not_before=follow.not_before,
                               key=f"{follow.key}:reaped:{item.id}")  # fmt: skip
            return "re-armed its timer"
        if self.runner.interrupted(incident_id):
            return "waits for a person"
        self.store.audit(incident_id, self.name, "worker", {"work": "reap"})
        return f"resumed (reaper): {self.runner.resume(incident_id)['status']}"

    def _alert(self, item: QueueItem) -> str:
        alert = Alert.model_validate(item.payload["alert"])
        if item.incident_id and item.note == "start":  # the previous holder died on this item
            if self.runner.state(item.incident_id) is None:
                self.runner.start(alert, incident_id=item.incident_id)
            return "started (recovered)"
        open_id = self.store.find_open(item.lane)
        if open_id is not None and self.runner.state(open_id) is None:  # an earlier start left no thread
            self._fail(open_id, "no checkpoint: superseded by a later alert")
            open_id = None
        if open_id is None and alert.status == "resolved":
            latest = self.store.find_latest(item.lane)
            if latest is None:
                return "resolved notice for no known incident"
            self.queue.take(item, latest, "join")
            self.runner.join(latest, alert)
            return "resolved its alert"
        if open_id is not None:
            self.queue.take(item, open_id, "join")
            doc = self.runner.join(open_id, alert)
            return f"joined ({doc['status']})"
        incident_id = self.store.new_incident_id()
        self.queue.take(item, incident_id, "start")
        result = self.runner.start(alert, incident_id=incident_id)
        self.store.audit(result.incident_id, self.name, "worker", {"work": "start"})
        return f"started: {result.document['status']}"

    def _decide(self, item: QueueItem) -> str:
        payload = item.payload
        incident_id = str(payload["incident_id"])
        try:
            doc = self.runner.decide(
                incident_id,
                approved=bool(payload["approved"]),
                by=str(payload.get("by") or "unknown"),
                reason=str(payload.get("reason") or ""),
            )
        except LookupError as exc:
            return str(exc)
        return f"decided: {doc['status']}"

    def _tell_waiting(self, lane: str) -> None:
        """If the lane's incident now waits for a person, hand its document to ``on_waiting`` (idempotent there)."""
        incident_id = self.queue.lane_incident(lane) if self.on_waiting is not None else None
        doc = self.store.get(incident_id) if incident_id else None
        if doc is not None and doc.get("status") == "awaiting_approval" and self.on_waiting is not None:
            try:
                self.on_waiting(doc)
            except Exception:  # noqa: BLE001 - a failed notice must not stop the lane; deliveries record it
                log.exception("worker %s: approval notice for %s failed", self.name, incident_id)

    def _timer(self, incident_id: str | None) -> list[FollowUp]:
        """The wake-up to queue if ``incident_id`` now waits on a durable timer (idempotent by its key)."""
        if not incident_id:
            return []
        until = self.runner.waiting_until(incident_id)
        if until is None:
            return []
        lane = self.store.incident_row(incident_id)
        key = lane["dedup_key"] if lane else incident_id
        return [FollowUp(key, "resume", {"incident_id": incident_id}, until.timestamp(),
                         f"timer:{incident_id}:{until.isoformat()}")]  # fmt: skip

    def _arm_timer(self, lane: str) -> None:
        """If the lane's incident now waits on a durable timer, queue its wake-up (after a recovery)."""
        for follow in self._timer(self.queue.lane_incident(lane)):
            self.queue.enqueue(follow.lane, follow.kind, follow.payload, not_before=follow.not_before, key=follow.key)


def _create_schema(settings: Settings, tries: int = 5) -> None:
    """Create tables and checkpoint migrations, retrying while another worker does the same.

    Workers starting together on a fresh PostgreSQL database race on ``CREATE TABLE``; the
    loser's error is harmless once the winner has committed.
    """
    import time

    from sqlalchemy.exc import SQLAlchemyError

    from graph.checkpoint import open_checkpointer
    from state.store import Store

    for attempt in range(tries):
        try:
            store = Store.from_url(settings.db_url)
            Queue(store.engine)
            store.engine.dispose()
            with open_checkpointer(settings):
                return
        except (SQLAlchemyError, Exception) as exc:  # noqa: BLE001 - psycopg errors too; re-raised on the last try
            if attempt == tries - 1:
                raise
            log.info("schema setup raced (%s); retrying", type(exc).__name__)
            time.sleep(0.2 * (attempt + 1))


def _firing_run(items: list[QueueItem], start: int) -> list[QueueItem]:
    """The firing alerts from ``start`` on, up to the first item of another kind."""
    run = []
    for item in items[start:]:
        if item.kind != "alert" or item.incident_id or item.payload["alert"].get("status") != "firing":
            break
        run.append(item)
    return run


@contextmanager
def open_worker(
    settings: Settings,
    *,
    name: str | None = None,
    lease_s: float | None = None,
    poll_s: float | None = None,
    metrics: Any = None,
) -> Iterator[Worker]:
    """A worker with live tools, durable timers, its own checkpointer connection and store."""
    from agents.brain import make_model
    from graph.runner import open_runner
    from server.approval_notice import announcer

    _create_schema(settings)
    with open_runner(
        settings,
        model=make_model(settings),
        durable_timers=True,
        on_event=metrics.on_event if metrics is not None else (lambda _kind, _data: None),
        on_step=metrics.on_step if metrics is not None else None,
    ) as runner:
        yield Worker(
            Queue(runner.store.engine),
            runner,
            name=name,
            lease_s=lease_s if lease_s is not None else settings.server.lease_s,
            poll_s=poll_s if poll_s is not None else settings.server.poll_s,
            on_waiting=announcer(settings, runner.store),
        )
