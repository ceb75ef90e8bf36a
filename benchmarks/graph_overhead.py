"""Graph overhead per incident and per checkpoint write (offline brain, dry-run executor, SQLite).

Runs N incidents of the bundled checkout scenario through the full graph with the
dry-run executor (so each walks the whole ladder: the worst case for checkpoints) and
reports median and p95 milliseconds per incident and per checkpoint write.

    .venv/bin/python benchmarks/graph_overhead.py [--incidents 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.deps import Deps  # noqa: E402
from graph.runner import IncidentRunner  # noqa: E402
from state.alert import parse_alerts  # noqa: E402
from state.config import load_settings  # noqa: E402
from state.store import Store  # noqa: E402
from tools.catalog import build_registry, open_world  # noqa: E402

CASE = ROOT / "evals" / "cases" / "checkout-bad-release"


class TimedSaver(SqliteSaver):
    """SqliteSaver that records how long each checkpoint write takes."""

    writes_ms: list[float]

    def put(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return super().put(*args, **kwargs)
        finally:
            self.writes_ms.append((time.perf_counter() - started) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=50)
    args = parser.parse_args()
    import sqlite3

    from graph.checkpoint import serializer

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        settings = load_settings(
            CASE / "config.yaml",
            home=home,
            executor={"backend": "dry-run"},
            policy={"verify_after_s": 0, "pattern_rungs": {"release": [1, 2, 3, 4]}},
        )
        world = open_world(settings)
        deps = Deps(settings=settings, tools=build_registry(settings, world), sleep=lambda _s: None)
        conn = sqlite3.connect(home / "alertpilot.db", check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        saver = TimedSaver(conn, serde=serializer())
        saver.writes_ms = []
        saver.setup()
        store = Store.from_url(settings.db_url)
        runner = IncidentRunner(deps, store, saver)
        template = parse_alerts((CASE / "alert.json").read_bytes())[0]

        per_incident: list[float] = []
        checkpoints = 0
        for i in range(args.incidents + 3):
            alert = template.model_copy(update={"fingerprint": f"bench-{i}", "group_key": f"bench-{i}"})
            before = len(saver.writes_ms)
            started = time.perf_counter()
            doc = runner.start(alert).document
            elapsed = (time.perf_counter() - started) * 1000
            if i >= 3:  # warm-up: imports, first SQLite pages
                per_incident.append(elapsed)
                checkpoints += len(saver.writes_ms) - before
        writes = saver.writes_ms[-checkpoints:]
        attempts = len(doc["attempts"])

    def pct(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1]

    print(
        f"incidents: {len(per_incident)}, attempts each: {attempts}, "
        f"checkpoints each: {checkpoints // len(per_incident)}"
    )
    print(f"per incident:         median {statistics.median(per_incident):.1f} ms, p95 {pct(per_incident, 95):.1f} ms")
    print(f"per checkpoint write: median {statistics.median(writes):.2f} ms, p95 {pct(writes, 95):.2f} ms")


if __name__ == "__main__":
    main()
