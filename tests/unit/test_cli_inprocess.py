"""The CLI in-process through typer's CliRunner, beside the subprocess tests (tests/integration/test_cli.py).

Same app object the console script runs (``cli:app``), so these cover the command
registration, the shared plumbing (exit codes, one-line errors, ``--json``) and the
approval path through ``server.decisions.decide`` without starting a process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from tests.conftest import DEMO_CASE

COMMANDS = ("run", "resume", "approve", "reject", "demo", "review", "replay", "briefing", "serve", "worker")
GROUPS = ("incidents", "mcp", "logs", "eval", "executor", "audit")


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def _config(tmp_path: Path, **policy: object) -> Path:
    users = "[{name: alertpilot, rollback_permission: true}, {name: alice, rollback_permission: true}, {name: bob}]"
    lines = [
        f"world: {DEMO_CASE}",
        "language: en",
        "executor: {backend: process}",
        "services: {checkout: {criticality: 90}}",
        f"users: {users}",
        "policy:",
        *[f"  {k}: {v}" for k, v in ({"verify_after_s": 0, "approval_from_rung": 7} | policy).items()],
    ]
    path = tmp_path / "alertpilot.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_help_lists_every_command_and_group_in_order(cli: CliRunner) -> None:
    result = cli.invoke(app, ["--help"], prog_name="alertpilot")
    assert result.exit_code == 0
    names = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("│ ") and line.split()[1:]]
    listed = [n for n in names if n in COMMANDS + GROUPS]
    assert listed == [*COMMANDS, *GROUPS]


def test_run_json_prints_one_document_and_incidents_show_reads_it(cli: CliRunner, home: Path, tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = cli.invoke(app, ["run", str(DEMO_CASE / "alert.json"), "--config", str(config), "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "resolved" and doc["attempts"][0]["action"] == "version_rollback"
    shown = cli.invoke(app, ["incidents", "show", doc["id"], "--json"])
    assert json.loads(shown.stdout)["attempts"] == doc["attempts"]


def test_approval_goes_through_the_one_decide_rule(cli: CliRunner, home: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, approval_from_rung=3)
    started = cli.invoke(app, ["run", str(DEMO_CASE / "alert.json"), "--config", str(config), "--json"])
    doc = json.loads(started.stdout)
    assert doc["status"] == "awaiting_approval"

    refused = cli.invoke(app, ["approve", doc["id"], "--user", "bob", "--config", str(config)])
    assert refused.exit_code == 2
    assert refused.stderr.strip() == "alertpilot: --user: 'bob' has no rollback_permission (users: in config)"
    rejected = cli.invoke(app, ["reject", doc["id"], "--user", "bob", "--reason", "", "--config", str(config)])
    assert rejected.exit_code == 2 and rejected.stderr.strip() == "alertpilot: reason: required when rejecting"

    approved = cli.invoke(app, ["approve", doc["id"], "--user", "alice", "--config", str(config), "--json"])
    assert approved.exit_code == 0, approved.stderr
    assert json.loads(approved.stdout)["status"] == "resolved"
    again = cli.invoke(app, ["approve", doc["id"], "--user", "alice", "--config", str(config)])
    assert again.exit_code == 2 and "is not waiting for approval (status resolved)" in again.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["incidents", "show", "inc-nope"], "alertpilot: no incident inc-nope"),
        (["approve", "inc-nope"], "alertpilot: no incident inc-nope"),
        (["replay", "inc-x", "--set", "policy.dry_run=true"], "alertpilot: --set/--live: only with --fork"),
        (["mcp", "serve", "nope"], "alertpilot: NAME: unknown MCP server 'nope' (one of assistant, devops, github, "
                                   "observability)"),
        (["eval", "--world", "moon"], "alertpilot: --world: expected live, recorded or prometheus, got 'moon'"),
    ],
)  # fmt: skip
def test_bad_usage_in_each_group_is_exit_2_with_one_line(
    cli: CliRunner, home: Path, args: list[str], line: str
) -> None:
    result = cli.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.strip() == line
    assert result.exception is None or isinstance(result.exception, SystemExit)
