"""Operations stats on 100k incidents, as a ratio against reference queries over the same table.

Run: .venv/bin/python benchmarks/stats_bench.py [--incidents 100000] [--url postgresql://...] [--rounds 5] [--json]

A seeded mixed history (evals/history_gen.py: releases rolled back, leaks, outages, config edits,
noise, informational alerts, approvals over ten services and 90 days) is loaded through the
store's own facts writer, then timed, median of ``--rounds``:

- ``stats``: the whole ``alertpilot stats`` document (state/stats.py::operations_stats: a dozen
  GROUP BYs plus the percentile reads);
- ``recall``: one subject's recall at diagnosis (state/history.py::recall);
- references on the same table and connection: ``count`` = ``SELECT COUNT(*) FROM incident_facts``
  (the plain count), ``scan`` = ``SELECT COUNT(*), AVG(mttr_s), SUM(attempts) FROM incident_facts``
  (one aggregate that must read every row);
- for scale, once: ``documents``, the same incidents-by-status count done the naive way, reading
  every incident's JSON document into Python.

The ratios (stats / count, stats / scan) are what to compare between machines; without
``--url`` the store is a fresh SQLite file in a temporary directory. On PostgreSQL the tables are
ANALYZEd after the load (autovacuum would have done it by then).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from evals.history_gen import generate, load  # noqa: E402
from state.history import HistoryQuery, recall  # noqa: E402
from state.stats import operations_stats  # noqa: E402
from state.store import IncidentRow, Store  # noqa: E402

UNTIL = datetime(2026, 11, 20, tzinfo=UTC)


def timed(fn: Callable[[], Any], rounds: int) -> float:
    """Median seconds of ``rounds`` calls (after one warm-up call)."""
    fn()
    runs = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def scalar(store: Store, sql: str) -> Callable[[], Any]:
    """A reference query on the store's engine."""

    def run() -> Any:
        with store.engine.connect() as conn:
            return conn.execute(text(sql)).all()

    return run


def documents(store: Store) -> Counter[str]:
    """Incidents by status, the naive way: every document read into Python."""
    with store.session() as session:
        return Counter(doc.get("status") for doc in session.scalars(IncidentRow.__table__.select().with_only_columns(
            IncidentRow.doc)))  # fmt: skip


def bench(store: Store, count: int, rounds: int) -> dict[str, Any]:
    """Load ``count`` incidents into ``store`` and time stats, recall and the references."""
    started = time.perf_counter()
    load(store, generate(count, UNTIL))
    loaded_s = time.perf_counter() - started
    if store.engine.dialect.name == "postgresql":  # what autovacuum does after a bulk load, before we time
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    query = HistoryQuery(
        subject="workload::shop/checkout", rule="HighErrorRate", pattern="release", change_kind="release",
        since=UNTIL - timedelta(days=90), before=UNTIL, limit=3,
    )  # fmt: skip
    result = {
        "incidents": count,
        "load_s": round(loaded_s, 1),
        "stats_ms": timed(lambda: operations_stats(store), rounds) * 1000,
        "stats_30d_ms": timed(lambda: operations_stats(store, since=UNTIL - timedelta(days=30)), rounds) * 1000,
        "stats_service_ms": timed(lambda: operations_stats(store, service="checkout"), rounds) * 1000,
        "recall_ms": timed(lambda: recall(store, query), rounds) * 1000,
        "count_ms": timed(scalar(store, "SELECT COUNT(*) FROM incident_facts"), rounds) * 1000,
        "scan_ms": timed(scalar(store, "SELECT COUNT(*), AVG(mttr_s), SUM(attempts) FROM incident_facts"), rounds)
        * 1000,  # fmt: skip
    }
    started = time.perf_counter()
    by_status = documents(store)
    result["documents_ms"] = (time.perf_counter() - started) * 1000
    assert sum(by_status.values()) == count
    result["stats_per_count"] = result["stats_ms"] / result["count_ms"]
    result["stats_per_scan"] = result["stats_ms"] / result["scan_ms"]
    result["documents_per_stats"] = result["documents_ms"] / result["stats_ms"]
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--url", help="An empty PostgreSQL database (default: a temporary SQLite file).")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stats-bench-") as tmp:
        store = Store.from_url(args.url or f"sqlite:///{Path(tmp) / 'alertpilot.db'}")
        try:
            result = bench(store, args.incidents, args.rounds) | {"database": store.engine.dialect.name}
        finally:
            store.engine.dispose()
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['database']}, {result['incidents']} incidents (loaded in {result['load_s']} s): "
        f"stats {result['stats_ms']:.0f} ms (30 days {result['stats_30d_ms']:.0f} ms, one service "
        f"{result['stats_service_ms']:.0f} ms), recall {result['recall_ms']:.1f} ms; "
        f"references: COUNT(*) {result['count_ms']:.1f} ms, full-scan aggregate {result['scan_ms']:.1f} ms; "
        f"stats = {result['stats_per_count']:.0f}x COUNT(*), {result['stats_per_scan']:.1f}x a full scan; "
        f"reading the documents instead: {result['documents_ms']:.0f} ms ({result['documents_per_stats']:.1f}x stats)"
    )


if __name__ == "__main__":
    main()
