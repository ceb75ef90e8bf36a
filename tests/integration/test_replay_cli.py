"""`alertpilot replay` and `incidents export/import` as a user runs them, in subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.integration

CASE = ROOT / "evals" / "cases" / "payments-memory-leak"


def _json(result: object) -> dict:
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    return json.loads(result.stdout)  # type: ignore[attr-defined]


def test_timeline_rerun_fork_export_and_import_through_the_cli(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "a", tmp_path / "b"
    config = str(CASE / "config.yaml")
    incident = _json(run_cli("run", str(CASE / "alert.json"), "--config", config, "--json", home=home))["id"]
    world = (home / "world" / "payments.json").read_text()

    listing = _json(run_cli("replay", incident, "--json", home=home))
    assert listing["incident"] == incident
    nodes = [c["node"] for c in listing["checkpoints"]]
    assert nodes[:3] == ["start", "ingest", "triage"] and nodes.count("execute") == 2
    triage = listing["checkpoints"][nodes.index("triage")]
    assert triage["changes"]["triage"]["budget"] == 4

    same = _json(run_cli("replay", incident, "--checkpoint", "first", "--json", home=home))
    assert same.keys() >= {"incident", "from_checkpoint", "outcome", "diverged_at"}
    assert same["diverged_at"] is None and same["outcome"]["status"] == "resolved"

    fork = run_cli("replay", incident, "--checkpoint", triage["id"], "--fork", "--set", "triage.budget=1", home=home)
    assert fork.returncode == 0, fork.stderr
    assert "status: resolved → escalated" in fork.stdout
    assert "the original ran plan" in fork.stdout and "the re-run ran escalate" in fork.stdout
    assert (home / "world" / "payments.json").read_text() == world  # nothing reached the executor

    bundle = tmp_path / "incident.json"
    exported = run_cli("incidents", "export", incident, "-o", str(bundle), home=home)
    assert exported.returncode == 0, exported.stderr
    assert _json(run_cli("incidents", "import", str(bundle), "--json", home=elsewhere))["incident"] == incident
    assert [row["id"] for row in _json(run_cli("incidents", "list", "--json", home=elsewhere))] == [incident]
    there = _json(run_cli("replay", incident, "--checkpoint", "first", "--json", home=elsewhere))
    assert there["diverged_at"] is None and there["outcome"] == same["outcome"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "inc-nope"], "no incident inc-nope"),
        (["replay", "inc-nope", "--set", "triage.budget=1"], "--set/--live: only with --fork"),
        (["replay", "inc-nope", "--fork"], "--fork: needs --checkpoint C"),
        (["incidents", "import", "missing.json"], "FILE: no such file missing.json"),
    ],
)
def test_bad_replay_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli(*args, home=tmp_path / "home")
    assert result.returncode == 2
    assert result.stderr.strip() == f"alertpilot: {message}"
