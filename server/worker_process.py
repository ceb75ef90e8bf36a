"""`serve`'s own worker, run as a child process so graph work never stalls webhook intake.

Run as a thread, the worker shared the GIL with the event loop: every graph step held it
for milliseconds, so each of a request's hand-offs (socket read, thread pool, commit)
could wait a switch interval. In its own process it competes only for CPU, and at a
lower priority (``server.worker_nice``), so on a busy machine the kernel runs intake
first. The child reports its metrics (actions, step latency) over a pipe; a thread in
the parent applies them to the service's registry, so ``/metrics`` shows them as before.
The child stops when the parent asks, or on its own when the parent has gone.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import threading
from typing import Any

log = logging.getLogger("alertpilot.worker")


class _Forward:
    """The child's stand-in for :class:`server.metrics.Metrics`: sends observations home."""

    def __init__(self, events: Any) -> None:
        self.events = events

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        """Forward a ``Deps.on_event`` call (executed actions and model calls are counted)."""
        if kind == "execute":
            self.events.put(("event", kind, {"action": data.get("action"), "result": data.get("result")}))
        elif kind == "model_call":
            keep = ("agent", "model", "status", "usage", "duration_ms")
            self.events.put(("event", kind, {k: data.get(k) for k in keep}))

    def on_step(self, node: str, seconds: float) -> None:
        """Forward one graph step's latency."""
        self.events.put(("step", node, seconds))


def _watch_parent(parent: int, stop: Any) -> None:
    while not stop.wait(1.0):
        if os.getppid() != parent:  # the parent died without telling us
            stop.set()


def child_main(settings_data: dict[str, Any], events: Any, stop: Any, nice: int, parent: int) -> None:
    """Entry point of the child: lower priority, open a worker, work until ``stop``."""
    from server.worker import open_worker
    from state.config import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if nice:
        os.nice(nice)
    threading.Thread(target=_watch_parent, args=(parent, stop), daemon=True).start()
    settings = Settings.model_validate(settings_data)
    from server.redact import install_for
    from tools import tracing

    install_for(settings)  # the child's own loggers (httpx among them) redact like the parent's
    tracing.configure()  # the child exports its own spans (OTEL_* is inherited)
    with open_worker(settings, metrics=_Forward(events)) as worker:
        worker.run(stop)  # type: ignore[arg-type]  # an mp.Event has the same wait/is_set


class WorkerProcess:
    """Start, feed metrics from, and stop the child worker process."""

    def __init__(self, settings: Any, metrics: Any) -> None:
        ctx = mp.get_context("spawn")  # no fork: the parent holds threads and SQLite connections
        self.metrics = metrics
        self.events = ctx.Queue()
        self.stop_event = ctx.Event()
        self.process = ctx.Process(
            target=child_main,
            args=(settings.model_dump(), self.events, self.stop_event, settings.server.worker_nice, os.getpid()),
            name="alertpilot-worker",
            daemon=True,
        )
        self._forwarder = threading.Thread(target=self._forward, name="worker-metrics", daemon=True)
        self._done = threading.Event()

    def start(self) -> None:
        """Start the child and the metrics forwarder."""
        self.process.start()
        self._forwarder.start()
        log.info("in-process worker runs as child pid %s", self.process.pid)

    def _forward(self) -> None:
        while not (self._done.is_set() and self.events.empty()):
            try:
                kind, name, value = self.events.get(timeout=0.5)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            if kind == "step":
                self.metrics.on_step(name, value)
            else:
                self.metrics.on_event(name, value)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to finish its lane and exit; terminate it past ``timeout``."""
        # Setting an mp.Event notifies its waiters; a child killed while waiting never
        # acknowledges and ``set()`` blocks for good, so a dead child is not told.
        if self.process.is_alive():
            self.stop_event.set()
        self.process.join(timeout)
        if self.process.is_alive():
            log.warning("worker child %s did not stop in %.0fs; terminating", self.process.pid, timeout)
            self.process.terminate()
            self.process.join(5)
        self._done.set()
        self._forwarder.join(timeout=2)
