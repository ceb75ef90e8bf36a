"""Executor service and guard throughput.

Run: PYTHONPATH=. /work/main/.venv/bin/python benchmarks/bench_executor.py

Measures (in-process, FastAPI TestClient over the dry-run backend, SQLite key store,
fsync'd audit log): POST /mcp with a fresh idempotency key, a replayed key, the guard's
check(), and `audit verify` over the resulting log.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from server.audit_log import verify
from server.executor_app import build_service, create_app
from state.alert import parse_alerts
from state.incident import IncidentState, PlannedAction, TriageResult
from state.policy import Policy
from tools.executor import DryRunExecutor
from tools.guard import GuardContext, check

CASE = Path(__file__).resolve().parents[1] / "evals" / "cases" / "checkout-bad-release"
N = 300


def timed(fn, n: int) -> tuple[float, float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(n * 0.95)]


def main() -> None:
    home = Path(tempfile.mkdtemp())
    service = build_service(DryRunExecutor(), "dry-run", "t", home, None)
    client = TestClient(create_app(service))
    body = {"method": "version_rollback", "params": '{"target":"v2.1"}'}

    def fresh(i: int) -> None:
        assert (
            client.post("/mcp", json=body, headers={"X-Auth-Token": "t", "Idempotency-Key": f"k{i}"}).status_code == 200
        )

    def replay(_i: int) -> None:
        assert client.post("/mcp", json=body, headers={"X-Auth-Token": "t", "Idempotency-Key": "k0"}).status_code == 200

    alert = parse_alerts((CASE / "alert.json").read_bytes())[0]
    state = IncidentState(
        incident_id="i", alert=alert, triage=TriageResult(score=90, tier="P0", budget=6, dimensions={})
    )
    action = PlannedAction(
        rung=3, rung_name="r", operation="version_rollback", params={"service": "checkout", "namespace": "shop"}
    )
    ctx = GuardContext(Policy(freeze_windows=["0 3 * * 5", "30 22 * * *"]), "alertpilot", True, datetime.now(UTC))

    for name, fn, n in (("POST /mcp, new key", fresh, N), ("POST /mcp, replayed key", replay, N),
                        ("guard.check (2 freeze windows)", lambda _i: check(action, state, ctx), 2000)):  # fmt: skip
        p50, p95 = timed(fn, n)
        print(f"{name:34s} p50 {p50:7.3f} ms   p95 {p95:7.3f} ms   (n={n})")
    start = time.perf_counter()
    verdict = verify(service.audit.path)
    print(
        f"audit verify, {verdict.records} records     {(time.perf_counter() - start) * 1000:7.1f} ms   ok={verdict.ok}"
    )


if __name__ == "__main__":
    main()
