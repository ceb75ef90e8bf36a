"""Prometheus metrics of the service: alerts, incidents by status, actions, step latency, pushes, model calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from state.store import Store


class _IncidentsByStatus(Collector):
    """Reads incident counts from the store at scrape time (so every worker's work shows)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One gauge sample per incident status."""
        family = GaugeMetricFamily("alertpilot_incidents", "Incidents by status.", labels=["status"])
        for status, count in sorted(self.store.count_by_status().items()):
            family.add_metric([status], count)
        yield family


class _Deliveries(Collector):
    """Pushes per channel and status, and each channel's success rate, read from the delivery ledger."""

    def __init__(self, store: Store) -> None:
        from state.delivery import Ledger

        self.ledger = Ledger(store)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """All pushes by channel and status; the delivered share of the last day's finished pushes."""
        from datetime import timedelta

        from state.store import utcnow

        pushes = GaugeMetricFamily(
            "alertpilot_notify_pushes", "Notification pushes in the ledger, by channel and status.",
            labels=["channel", "status"],
        )  # fmt: skip
        for channel, entry in self.ledger.stats().items():
            for status in ("delivered", "retrying", "failed"):
                pushes.add_metric([channel, status], entry[status])
        yield pushes
        ratio = GaugeMetricFamily(
            "alertpilot_notify_delivery_success_ratio",
            "Delivered / (delivered + failed) of the pushes started in the last 24 hours, by channel.",
            labels=["channel"],
        )
        for channel, entry in self.ledger.stats(since=utcnow() - timedelta(hours=24)).items():
            if entry["success_rate"] is not None:
                ratio.add_metric([channel], entry["success_rate"])
        yield ratio


class Metrics:
    """One registry per service instance (tests build several apps in one process)."""

    def __init__(self, store: Store | None = None, queue: Any = None) -> None:
        self.registry = CollectorRegistry()
        self.alerts = Counter(
            "alertpilot_alerts_received",
            "Alerts received by webhook, by source and outcome (accepted, duplicate, rejected).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.actions = Counter(
            "alertpilot_actions",
            "Ladder actions executed by this process's workers, by operation and result.",
            ["action", "result"],
            registry=self.registry,
        )
        self.steps = Histogram(
            "alertpilot_graph_step_seconds",
            "Latency of one incident-graph step (node), in this process's workers.",
            ["node"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.worker_restarts = Counter(
            "alertpilot_worker_restarts",
            "Times serve restarted its worker child after it died.",
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "alertpilot_llm_tokens",
            "Model tokens (prompt + answer) spent by this process's workers, by agent and model.",
            ["agent", "model"],
            registry=self.registry,
        )
        self.llm_calls = Counter(
            "alertpilot_llm_calls",
            "Model requests made by this process's workers, by agent, model and outcome (success, error).",
            ["agent", "model", "outcome"],
            registry=self.registry,
        )
        self.llm_latency = Histogram(
            "alertpilot_llm_call_seconds",
            "Latency of one model request, by agent and model.",
            ["agent", "model"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
            registry=self.registry,
        )
        if store is not None:
            self.registry.register(_IncidentsByStatus(store))
            self.registry.register(_Deliveries(store))
        if queue is not None:  # queue depth, oldest item, dead letters, heartbeats (server/health.py)
            from server.health import QueueCollector
            from state.queue_health import QueueHealth

            self.registry.register(QueueCollector(queue, QueueHealth(queue.engine)))

    def on_event(self, kind: str, data: dict[str, Any]) -> None:
        """A ``Deps.on_event`` hook: count executed actions by result, model tokens, calls and latency."""
        if kind == "execute":
            result = data.get("result") or {}
            self.actions.labels(str(data.get("action")), str(result.get("status", "unknown"))).inc()
        elif kind == "model_call":
            agent, model = str(data.get("agent")), str(data.get("model"))
            tokens = int((data.get("usage") or {}).get("total_tokens", 0) or 0)
            self.llm_tokens.labels(agent, model).inc(tokens)
            self.llm_calls.labels(agent, model, str(data.get("status", "success"))).inc()
            self.llm_latency.labels(agent, model).observe(float(data.get("duration_ms", 0.0)) / 1000)

    def on_step(self, node: str, seconds: float) -> None:
        """An ``IncidentRunner.on_step`` hook: observe one node's latency."""
        self.steps.labels(node).observe(seconds)
