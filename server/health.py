"""The service's health: ``/healthz`` (fails without a live worker), queue gauges for ``/metrics``, dead letters.

A service whose workers all died still answers webhooks (intake only stores), so liveness
of the process says nothing about whether alerts are worked. ``/healthz`` answers 503 when
no worker's heartbeat is current (state/queue_health.py), and the gauges show the queue's
depth, how long the oldest due item has waited, the dead letters and each worker's last
heartbeat, so an alert rule can see a stalled queue before anyone asks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from state.queue import Queue
from state.queue_health import QueueHealth


def health(queue: Queue, beats: QueueHealth, now: Callable[[], float] = time.time) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body): 200 while some worker's heartbeat is within its lease, else 503."""
    at = now()
    workers = beats.workers()
    live = [w.name for w in workers if w.alive_until >= at]
    depth, oldest = queue.depth()
    body = {
        "status": "ok" if live else "no live worker",
        "queue": queue.counts(),
        "oldest_due_s": round(oldest, 3),
        "dead_letters": beats.dead_letter_count(),
        "workers": {w.name: {"last_beat_s_ago": round(at - w.beat_at, 3), "live": w.name in live} for w in workers},
    }
    return (200 if live else 503), body


class QueueCollector(Collector):
    """Queue depth, oldest due item's age, dead letters and worker heartbeats, read at scrape time."""

    def __init__(self, queue: Queue, beats: QueueHealth, now: Callable[[], float] = time.time) -> None:
        self.queue, self.beats, self.now = queue, beats, now

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """One sample per gauge; one heartbeat sample per worker."""
        depth, oldest = self.queue.depth()
        yield GaugeMetricFamily("alertpilot_queue_depth", "Queue items not yet done (due or not).", value=depth)
        yield GaugeMetricFamily(
            "alertpilot_queue_oldest_item_age_seconds", "How long the oldest due item has waited.", value=oldest
        )
        yield CounterMetricFamily(
            "alertpilot_dead_letters", "Queue items no worker could process.", value=self.beats.dead_letter_count()
        )
        beats = GaugeMetricFamily(
            "alertpilot_worker_heartbeat_timestamp_seconds", "Each worker's last heartbeat (Unix time).",
            labels=["worker"],
        )  # fmt: skip
        alive = GaugeMetricFamily(
            "alertpilot_worker_alive", "1 while the worker's heartbeat is within its lease.", labels=["worker"]
        )
        at = self.now()
        for worker in self.beats.workers():
            beats.add_metric([worker.name], worker.beat_at)
            alive.add_metric([worker.name], 1.0 if worker.alive_until >= at else 0.0)
        yield beats
        yield alive
