"""``alertpilot executor serve`` and ``alertpilot audit verify`` as subprocesses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import executor_service, run_cli

pytestmark = pytest.mark.integration
TOKEN = "t-123"


@pytest.fixture
def executor(home: Path) -> Iterator[str]:
    with executor_service(home, TOKEN) as url:
        yield url


def test_seed_request_over_http_then_audit_verify(executor: str, home: Path) -> None:
    seed = {"method": "version_rollback", "params": '{"target":"v2.1"}'}
    headers = {"X-Auth-Token": TOKEN, "Idempotency-Key": "inc-1:1"}
    first = httpx.post(f"{executor}/mcp", json=seed, headers=headers, timeout=10)
    again = httpx.post(f"{executor}/mcp", json=seed, headers=headers, timeout=10)
    assert first.status_code == 200 and first.json()["status"] == "success"
    assert again.json() == first.json()
    assert httpx.post(f"{executor}/mcp", json=seed, timeout=10).status_code == 401
    world = json.loads((home / "world" / "checkout.json").read_text())
    assert world["version"] == "v2.1" and len(world["operations"]) == 1

    log = home / "audit.jsonl"
    ok = run_cli("audit", "verify", str(log), home=home)
    assert ok.returncode == 0, ok.stderr
    assert "2 records" in ok.stdout
    lines = log.read_text().splitlines(keepends=True)
    log.write_text(lines[1])
    failed = run_cli("audit", "verify", str(log), home=home)
    assert failed.returncode == 1
    assert failed.stderr.strip().endswith("line 1: seq 2 where 1 was expected")


def test_serve_refuses_to_start_without_a_token(home: Path) -> None:
    result = run_cli("executor", "serve", "--backend", "dry-run", home=home, timeout=30)
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "alertpilot: ALERTPILOT_EXECUTOR_TOKEN: required (the token clients send as X-Auth-Token)"
    )


def test_audit_verify_missing_file_is_usage_error(home: Path) -> None:
    result = run_cli("audit", "verify", str(home / "nope.jsonl"), home=home)
    assert result.returncode == 2 and "FILE: no such file" in result.stderr


def test_the_executor_enforces_its_own_namespaces_operations_and_replica_bounds(home: Path) -> None:
    flags = ("--allowed-namespaces", "payments", "--operations", "scale,restart", "--min-replicas", "2")
    with executor_service(home, TOKEN, *flags) as url:
        headers = {"X-Auth-Token": TOKEN}

        def post(method: str, **params: object) -> httpx.Response:
            body = {"method": method, "params": json.dumps({"service": "checkout", **params})}
            return httpx.post(f"{url}/mcp", json=body, headers=headers, timeout=10)

        outside = post("restart", namespace="shop")
        assert outside.status_code == 403 and outside.json()["field"] == "params.namespace"
        assert post("version_rollback", namespace="payments", target="v2.1").json()["field"] == "method"
    with executor_service(home, TOKEN, "--min-replicas", "2", "--max-replicas", "4") as url:
        body = {"method": "scale", "params": json.dumps({"service": "checkout", "namespace": "shop", "delta": -2})}
        low = httpx.post(f"{url}/mcp", json=body, headers={"X-Auth-Token": TOKEN}, timeout=10)
        assert low.status_code == 403 and "below this executor's floor of 2" in low.json()["error"]
    world = json.loads((home / "world" / "checkout.json").read_text())
    assert world["operations"] == [] and world["workloads"][world["primary"]]["replicas"] == 3  # nothing acted


def test_executor_policy_flags_are_checked(home: Path) -> None:
    result = run_cli("executor", "serve", "--backend", "dry-run", "--operations", "drop_table", home=home,
                     ALERTPILOT_EXECUTOR_TOKEN=TOKEN, timeout=30)  # fmt: skip
    assert (
        result.returncode == 2 and result.stderr.strip() == "alertpilot: --operations: unknown operation 'drop_table'"
    )
