"""The CLI as a user runs it: demo, run --json, incidents, and bad input (exit 2, one line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DEMO_CASE, REFERENCE, run_cli

pytestmark = pytest.mark.integration


def test_demo_resolves_the_bad_release_end_to_end(tmp_path: Path) -> None:
    result = run_cli("demo", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "resolved"
    assert doc["triage"]["budget"] >= 1
    assert doc["diagnosis"]["suspected_release"] == "v2.2"
    [attempt] = doc["attempts"]
    assert (attempt["action"], attempt["params"]["target"], attempt["verified"]) == ("version_rollback", "v2.1", True)
    assert "【问题概述】" in doc["report"]["content"] and "【解决方案】" in doc["report"]["content"]
    assert doc["report"]["promQL"]
    world = json.loads((tmp_path / "demo" / "world" / "checkout.json").read_text())
    assert world["version"] == "v2.1"


def test_demo_prints_the_report_and_each_action(tmp_path: Path) -> None:
    result = run_cli("demo", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "【根因分析】" in result.stdout
    assert "execute #1 version_rollback" in result.stderr
    assert "verify  #1 cleared" in result.stderr


def _config(tmp_path: Path, **policy: object) -> Path:
    lines = [
        f"world: {DEMO_CASE}",
        "language: en",
        "executor: {backend: process}",
        "services: {checkout: {criticality: 90}}",
        "users: [{name: alertpilot, rollback_permission: true}]",  # the guard needs the acting user's permission
        "policy:",
        *[f"  {k}: {v}" for k, v in ({"verify_after_s": 0, "approval_from_rung": 7} | policy).items()],
    ]
    path = tmp_path / "alertpilot.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_run_json_then_incidents_show_exposes_triage(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = _config(tmp_path)
    result = run_cli("run", str(DEMO_CASE / "alert.json"), "--config", str(config), "--json", home=home)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["status"] == "resolved" and doc["report"]["content"].startswith("[Overview]")
    shown = run_cli("incidents", "show", doc["id"], "--json", home=home)
    incident = json.loads(shown.stdout)
    assert set(incident["triage"]) >= {"score", "tier", "budget", "dimensions"}
    assert incident["triage"] == doc["triage"]
    assert [a["n"] for a in incident["attempts"]] == [1]
    assert {"id", "status", "alert", "triage", "attempts", "report"} <= set(incident)
    listed = json.loads(run_cli("incidents", "list", "--json", home=home).stdout)
    assert [row["id"] for row in listed] == [doc["id"]]


def test_dry_run_changes_nothing_and_walks_the_ladder_to_a_human(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = _config(tmp_path, pattern_rungs={"release": [1, 2, 3]})
    result = run_cli("run", str(DEMO_CASE / "alert.json"), "--config", str(config), "--json", "--dry-run", home=home)
    doc = json.loads(result.stdout)
    assert doc["status"] == "escalated"
    assert [a["action"] for a in doc["attempts"]] == ["restart", "scale", "version_rollback"]
    assert all(a["result"]["detail"].startswith("dry-run") for a in doc["attempts"])
    world = json.loads((home / "world" / "checkout.json").read_text())
    assert world["operations"] == [] and world["version"] == "v2.2"


def test_tencent_reference_alarm_runs_with_source_flag(tmp_path: Path) -> None:
    result = run_cli(
        "run", str(REFERENCE / "tencent-metric-alarm.json"), "--source", "tencent", "--json", home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["alert"]["source"] == "tencent"
    # No Prometheus or world configured: diagnosis says the signal is unavailable instead of failing.
    assert any(f["kind"] == "data" for f in doc["findings"])


@pytest.mark.parametrize(
    ("payload", "args", "needle"),
    [
        ("not json at all", [], "body: not JSON"),
        ('{"version": "4", "groupKey": "g", "alerts": []}', [], "alerts: empty group"),
        ('{"alarmStatus": "1", "alarmObjInfo": "x"}', [], "alarmObjInfo"),
        ('{"name": "x"}', ["--source", "nagios"], "source: unknown source"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, payload: str, args: list[str], needle: str) -> None:
    path = tmp_path / "alert.json"
    path.write_text(payload)
    result = run_cli("run", str(path), *args, home=tmp_path / "home")
    assert result.returncode == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert (
        not (tmp_path / "home" / "alertpilot.db").exists()
        or "inc-" not in run_cli("incidents", "list", "--json", home=tmp_path / "home").stdout
    )


def test_oversized_payload_and_missing_file_and_bad_config(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_bytes(b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}')
    result = run_cli("run", str(big), home=tmp_path)
    assert result.returncode == 2 and "1 MiB" in result.stderr
    missing = run_cli("run", str(tmp_path / "nope.json"), home=tmp_path)
    assert missing.returncode == 2 and "FILE" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy:\n  verify_after_s: soon\n")
    broken = run_cli("run", str(DEMO_CASE / "alert.json"), "--config", str(bad), home=tmp_path)
    assert broken.returncode == 2 and "policy.verify_after_s" in broken.stderr
    unknown = run_cli("incidents", "show", "inc-nope", home=tmp_path)
    assert unknown.returncode == 2 and "inc-nope" in unknown.stderr
