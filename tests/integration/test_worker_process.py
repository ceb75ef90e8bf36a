"""`serve`'s worker as a child process: it works the queue, its metrics reach the parent, it stops."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from server.metrics import Metrics
from server.worker_process import WorkerProcess
from state.alert import parse_alerts
from state.config import load_settings
from state.queue import Queue
from state.store import Store
from tests.conftest import DEMO_CASE


@pytest.mark.integration
def test_child_worker_runs_an_incident_and_reports_metrics_to_the_parent(home: Path) -> None:
    settings = load_settings(DEMO_CASE / "config.yaml", home=home, policy={"verify_after_s": 0})
    settings.server.poll_s = 0.05
    store = Store.from_url(settings.db_url)
    Queue(store.engine).enqueue_alerts(parse_alerts(json.loads((DEMO_CASE / "alert.json").read_text())))
    metrics = Metrics(store)
    child = WorkerProcess(settings, metrics)
    child.start()
    try:
        deadline = time.monotonic() + 60
        docs: list[dict] = []
        while time.monotonic() < deadline:
            docs = store.list(limit=10)
            if docs and docs[0]["status"] not in ("open", "awaiting_approval"):
                break
            time.sleep(0.2)
        assert docs and docs[0]["status"] in ("resolved", "escalated"), docs
        time.sleep(1.0)  # the last observations cross the pipe
        steps = metrics.registry.get_sample_value("alertpilot_graph_step_seconds_count", {"node": "triage"})
        assert steps and steps >= 1  # observed in the child, visible in the parent's registry
    finally:
        child.stop(timeout=20)
        store.engine.dispose()
    assert not child.process.is_alive()
    assert child.process.pid is not None and child.process.pid != 0
