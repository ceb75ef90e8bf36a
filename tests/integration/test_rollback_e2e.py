"""The ladder end to end with the process backend (the scenario world), through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import DEMO_CASE, ROOT, executor_service, run_cli

pytestmark = pytest.mark.integration
RESTART_CASE = ROOT / "evals" / "cases" / "payments-restart-worsens"
TOKEN = "e2e-token"


def write_config(path: Path, case: Path, **changes: object) -> Path:
    config = yaml.safe_load((case / "config.yaml").read_text())
    config["world"] = str(case)
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            config.setdefault(section, {})[field] = value
        else:
            config[key] = value
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def http_executor(home: Path) -> Iterator[str]:
    """``executor serve --backend process`` on the demo world, sharing ``home`` with the agent."""
    with executor_service(home, TOKEN) as url:
        yield url


def test_bad_release_is_rolled_back_through_the_executor_service_and_resolves(
    home: Path, tmp_path: Path, http_executor: str
) -> None:
    config = write_config(tmp_path / "a.yaml", DEMO_CASE, executor={"backend": "http", "url": http_executor})
    result = run_cli("run", str(DEMO_CASE / "alert.json"), "--config", str(config), "--json",
                     home=home, ALERTPILOT_EXECUTOR_TOKEN=TOKEN)  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "resolved"
    (attempt,) = doc["attempts"]
    assert (attempt["rung"], attempt["action"], attempt["params"]["target"]) == (3, "version_rollback", "v2.1")
    assert attempt["result"]["status"] == "success" and attempt["verified"] is True
    world = json.loads((home / "world" / "checkout.json").read_text())
    assert world["version"] == "v2.1"
    audit = [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]
    assert [(r["operation"], r["idempotency_key"]) for r in audit] == [("version_rollback", f"{doc['id']}:1")]
    assert run_cli("audit", "verify", str(home / "audit.jsonl"), home=home).returncode == 0


def test_restart_that_makes_it_worse_is_undone_then_the_next_rung_clears(home: Path) -> None:
    result = run_cli("run", str(RESTART_CASE / "alert.json"), "--config", str(RESTART_CASE / "config.yaml"), "--json",
                     home=home)  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "resolved"
    restart, scale = doc["attempts"]
    assert restart["action"] == "restart" and restart["verified"] is False
    assert (restart["signal_before"], restart["signal_after"]) == (0.12, 0.3)
    assert restart["undone"] is True and restart["undo_result"]["status"] == "success"
    assert restart["signal_after_undo"] == 0.12
    assert scale["action"] == "scale" and scale["verified"] is True
    world = json.loads((home / "world" / "payments.json").read_text())
    assert [(op["method"], op["params"].get("undo", False), op["key"]) for op in world["operations"]] == [
        ("restart", False, f"{doc['id']}:1"),
        ("restart", True, f"{doc['id']}:1:undo"),
        ("scale", False, f"{doc['id']}:2"),
    ]
    summaries = [d["summary"] for d in doc["decisions"] if d["node"] == "verify"]
    assert any("worse: 0.12 → 0.3" in s for s in summaries)
    assert any(s.startswith("attempt 1: undid restart (success)") for s in summaries)


def test_approval_interrupts_and_only_a_permitted_user_can_approve(home: Path, tmp_path: Path) -> None:
    users = [{"name": "alertpilot", "rollback_permission": True}, {"name": "alice", "rollback_permission": True},
             {"name": "bob"}]  # fmt: skip
    config = write_config(tmp_path / "c.yaml", DEMO_CASE, policy__approval_from_rung=3, users=users)
    started = run_cli("run", str(DEMO_CASE / "alert.json"), "--config", str(config), "--json", home=home)
    doc = json.loads(started.stdout)
    assert doc["status"] == "awaiting_approval" and doc["attempts"] == []
    assert doc["pending"]["operation"] == "version_rollback"

    bob = run_cli("approve", doc["id"], "--user", "bob", "--config", str(config), home=home)
    assert bob.returncode == 2
    assert bob.stderr.strip() == "alertpilot: --user: 'bob' has no rollback_permission (users: in config)"

    approved = run_cli("approve", doc["id"], "--user", "alice", "--config", str(config), "--json", home=home)
    assert approved.returncode == 0, approved.stderr
    after = json.loads(approved.stdout)
    assert after["status"] == "resolved"
    assert any(d["summary"] == "approved by alice" for d in after["decisions"])
