"""The budget survives a crash: SIGKILL between execute and verify, then resume.

Attempts never decrease, never exceed the budget, and the executor applies each
idempotency key once. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DEMO_CASE, ROOT, cli_env, run_cli

pytestmark = pytest.mark.integration


def _config(tmp_path: Path) -> Path:
    # a policy that restarts and scales before the rollback (neither helps here), so the
    # incident needs several attempts and the kill lands in the middle of the ladder.
    path = tmp_path / "alertpilot.yaml"
    path.write_text(
        f"world: {DEMO_CASE}\n"
        "executor: {backend: process}\n"
        "services: {checkout: {criticality: 90}}\n"
        "policy: {verify_after_s: 60, approval_from_rung: 7, pattern_rungs: {release: [1, 2, 3]}}\n"
        "users: [{name: alertpilot, rollback_permission: true}]\n"  # the guard needs the acting user's permission
    )
    return path


def _world(home: Path) -> dict:
    path = home / "world" / "checkout.json"
    return json.loads(path.read_text()) if path.exists() else {"operations": []}


def _kill_during_first_verify(home: Path, config: Path, extra_env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "run", str(DEMO_CASE / "alert.json"), "--config", str(config)],
        cwd=ROOT,
        env=cli_env(home, **extra_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _world(home)["operations"]:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the first action never reached the executor"
            time.sleep(0.05)
        time.sleep(1.0)  # now inside verify's 60 s wait
        assert process.poll() is None
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    url = request.getfixturevalue("pg_database")
    return {"ALERTPILOT_DATABASE__URL": url}


def test_sigkill_between_execute_and_verify_then_resume(tmp_path: Path, database_env: dict[str, str]) -> None:
    home = tmp_path / "home"
    config = _config(tmp_path)
    _kill_during_first_verify(home, config, database_env)

    [row] = json.loads(run_cli("incidents", "list", "--json", home=home, **database_env).stdout)
    before = json.loads(run_cli("incidents", "show", row["id"], "--json", home=home, **database_env).stdout)
    assert [a["n"] for a in before["attempts"]] == [1]
    assert before["attempts"][0]["verified"] is None

    fast = {"ALERTPILOT_POLICY__VERIFY_AFTER_S": "0", **database_env}
    resumed = run_cli("resume", row["id"], "--config", str(config), "--json", home=home, **fast)
    assert resumed.returncode == 0, resumed.stderr
    after = json.loads(resumed.stdout)

    budget = after["triage"]["budget"]
    attempts = after["attempts"]
    assert [a["n"] for a in attempts][: len(before["attempts"])] == [1]  # never decreases
    assert len(attempts) <= budget
    assert after["status"] == "resolved"
    assert [a["action"] for a in attempts] == ["restart", "scale", "version_rollback"]

    keys = [op["key"] for op in _world(home)["operations"]]
    assert sorted(keys) == sorted(a["idempotency_key"] for a in attempts)
    assert len(keys) == len(set(keys))  # each key applied once

    again = run_cli("resume", row["id"], "--config", str(config), "--json", home=home, **fast)
    assert json.loads(again.stdout)["attempts"] == attempts  # a finished thread does nothing more
    assert len(_world(home)["operations"]) == len(keys)
