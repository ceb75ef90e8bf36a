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


def test_the_agent_keeps_the_executors_audit_head_and_audit_verify_checks_it(home: Path, tmp_path: Path) -> None:
    """A log cut at its end together with its head passes alone; against alertpilot's store it fails."""
    import yaml

    from tests.conftest import DEMO_CASE

    with executor_service(home, TOKEN) as url:
        seed = {"method": "restart", "params": '{"service":"checkout","namespace":"shop"}'}
        assert httpx.post(f"{url}/mcp", json=seed, headers={"X-Auth-Token": TOKEN}, timeout=10).status_code == 200
        config = tmp_path / "agent.yaml"
        base = yaml.safe_load((DEMO_CASE / "config.yaml").read_text())
        base.update(world=str(DEMO_CASE), executor={"backend": "http", "url": url})
        config.write_text(yaml.safe_dump(base))
        ran = run_cli("run", str(DEMO_CASE / "alert.json"), "--config", str(config), "--json", home=home,
                      ALERTPILOT_EXECUTOR_TOKEN=TOKEN)  # fmt: skip
        assert ran.returncode == 0, ran.stderr[-2000:]
    doc = json.loads(ran.stdout)
    heads = [a["result"]["audit"] for a in doc["attempts"]]
    assert heads and all(h["seq"] >= 1 and len(h["hash"]) == 64 for h in heads)
    log = home / "audit.jsonl"
    ok = run_cli("audit", "verify", str(log), "--store", "--config", str(config), home=home)
    assert ok.returncode == 0, ok.stderr
    lines = log.read_text().splitlines(keepends=True)
    assert len(lines) == 1 + len(heads)
    log.write_text(lines[0])  # the agent's actions cut off, and the head rewritten to match
    first = json.loads(lines[0])
    (home / "audit.jsonl.head").write_text(json.dumps({"seq": first["seq"], "hash": first["hash"]}))
    alone = run_cli("audit", "verify", str(log), home=home)
    assert alone.returncode == 0  # the log and its head alone cannot tell
    checked = run_cli("audit", "verify", str(log), "--store", "--config", str(config), home=home)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "records removed" in checked.stderr and "Traceback" not in checked.stderr


def test_audit_verify_exit_codes_and_no_tracebacks(home: Path) -> None:
    log = home / "audit.jsonl"
    log.write_bytes(b"\xff\xfe\n")
    bad = run_cli("audit", "verify", str(log), home=home)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1
    log.write_text("")
    empty = run_cli("audit", "verify", str(log), "--json", home=home)
    assert empty.returncode == 1 and json.loads(empty.stdout)["problem"] == "the log is empty: no record to verify"
