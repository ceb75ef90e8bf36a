"""The worker loop: claim a lane from the durable queue, run its incident, release it.

``alertpilot worker`` runs one; ``alertpilot serve`` runs one in-process unless
``--no-worker``. Workers on several machines share ``database.url``. A lane is held
under a lease renewed by a heartbeat thread; if the worker dies, the lease runs out and
another worker resumes the incident from its last checkpoint. A verify wait is a durable
timer: the worker queues a ``resume`` item due at the timer's time and lets go.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from graph.runner import IncidentRunner
from state.alert import Alert
from state.config import Settings
from state.queue import Claim, Queue, QueueItem

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

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; sleep ``poll_s`` when the queue has nothing due."""
        log.info("worker %s started", self.name)
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # noqa: BLE001 - the loop outlives one bad lane; the lease will expire
                log.exception("worker %s: claim failed", self.name)
                busy = False
            if not busy:
                stop.wait(self.poll_s)

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
            for item in run:
                self.queue.done(item, f"joined ({doc['status']}, folded {len(run)})")
            i += len(run)

    def _do(self, item: QueueItem) -> None:
        try:
            note = self._handle(item)
        except Exception as exc:  # noqa: BLE001 - record and move on; the incident keeps its checkpoint
            log.exception("worker %s: item %s failed", self.name, item.id)
            note = f"error: {type(exc).__name__}: {exc}"
            if item.incident_id:
                self.store.audit(item.incident_id, self.name, "worker_error", {"item": item.kind, "error": note})
        self.queue.done(item, note)

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
        return f"unknown item kind {item.kind!r}"

    def _alert(self, item: QueueItem) -> str:
        alert = Alert.model_validate(item.payload["alert"])
        if item.incident_id and item.note == "start":  # the previous holder died on this item
            if self.runner.state(item.incident_id) is None:
                self.runner.start(alert, incident_id=item.incident_id)
            return "started (recovered)"
        open_id = self.store.find_open(item.lane)
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

    def _arm_timer(self, lane: str) -> None:
        """If the lane's incident now waits on a durable timer, queue its wake-up."""
        incident_id = self.queue.lane_incident(lane)
        if not incident_id:
            return
        until = self.runner.waiting_until(incident_id)
        if until is None:
            return
        self.queue.enqueue(
            lane,
            "resume",
            {"incident_id": incident_id},
            not_before=until.timestamp(),
            key=f"timer:{incident_id}:{until.isoformat()}",
        )


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
