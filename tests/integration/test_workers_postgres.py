"""Two `alertpilot worker` processes on PostgreSQL share 20 incidents without doubling any work."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from state.alert import parse_alerts
from state.queue import Queue
from state.store import Store
from tests.conftest import DEMO_CASE, ROOT, cli_env

pytestmark = pytest.mark.integration


def test_two_workers_share_20_incidents_each_processed_once(pg_database: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = tmp_path / "alertpilot.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": {"url": pg_database},
                "world": str(DEMO_CASE),
                "executor": {"backend": "process"},
                "services": {"checkout": {"criticality": 90, "users": 40000}},
                "policy": {"verify_after_s": 0.2, "approval_from_rung": 7},
                "triage": {"tiers": [{"name": "P4", "min_score": 0, "budget": 1}]},  # one attempt, one timer
                "server": {"lease_s": 10, "poll_s": 0.1},
            }
        )
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", "--name", name, "--config", str(config)],
            cwd=ROOT,
            env=cli_env(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("worker-a", "worker-b")
    ]
    try:
        store = Store.from_url(pg_database)
        queue = Queue(store.engine)
        for w in workers:  # both processes are up (their banner is the first line) before work arrives
            assert w.stderr is not None and "worker" in w.stderr.readline()
        for i in range(20):
            body = {"name": f"HighErrorRate{i}", "service": "checkout", "namespace": "shop", "severity": "critical"}
            queue.enqueue_alerts(parse_alerts({**body, "fingerprint": f"fp-{i}"}, "generic"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = store.list(limit=100)
            settled = [r for r in rows if r["status"] in ("resolved", "escalated")]
            if len(settled) == 20 and queue.counts()["pending"] == 0:
                break
            assert all(w.poll() is None for w in workers), [
                w.stderr.read()[-1500:] for w in workers if w.poll() is not None
            ]
            time.sleep(0.3)
        else:
            pytest.fail(f"not settled: {Counter(r['status'] for r in store.list(limit=100))}")
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=20)
    assert all(w.returncode == 0 for w in workers), [w.stderr.read()[-2000:] for w in workers if w.stderr]
    starters: Counter[str] = Counter()
    for row in store.list(limit=100):
        trail = store.audit_trail(row["id"])
        starts = [a["actor"] for a in trail if a["kind"] == "worker" and a["detail"]["work"] == "start"]
        assert len(starts) == 1, (row["id"], trail)  # exactly one worker started it
        starters[starts[0]] += 1
        doc = store.get(row["id"])
        nodes = Counter(d["node"] for d in doc["decisions"])
        assert nodes["ingest"] == 1 and nodes["triage"] == 1  # no step ran twice
        assert nodes["execute"] == len(doc["attempts"])  # each attempt executed once
        keys = [a["idempotency_key"] for a in doc["attempts"]]
        assert len(keys) == len(set(keys))
    assert set(starters) == {"worker-a", "worker-b"}, starters  # the work was shared
    assert sum(starters.values()) == 20
