"""Replay: every bundled case re-runs to the same outcome, forks explain themselves, nothing is touched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from agents.deps import Deps
from graph.archive import ArchiveError, export_incident, import_incident
from graph.replay import Checkpoint, ReplayError, replay, timeline
from graph.runner import IncidentRunner, open_runner
from state.alert import parse_alerts
from state.config import Settings, UserConfig, load_settings
from tools.catalog import build_registry, open_world
from tools.registry import ToolRegistry

CASES = sorted(p for p in (Path(__file__).resolve().parents[2] / "evals" / "cases").iterdir() if p.is_dir())
CASE = {p.name: p for p in CASES}


def run_case(case: Path, home: Path, **policy: object) -> str:
    """Run a bundled case live (its world, the process executor); returns the incident id."""
    settings = load_settings(case / "config.yaml", home=home)
    if policy:
        settings = settings.model_copy(update={"policy": settings.policy.model_copy(update=policy)})
    deps = Deps(settings=settings, tools=build_registry(settings, open_world(settings)), sleep=lambda _s: None)
    alert = parse_alerts((case / "alert.json").read_bytes())[0]
    with open_runner(settings, deps) as runner:
        return runner.start(alert).incident_id


@contextmanager
def plain_runner(home: Path) -> Iterator[tuple[IncidentRunner, Settings]]:
    """A runner on ``home`` with default settings and no tools at all (replay needs none)."""
    settings = load_settings(None, home=home)
    with open_runner(settings, Deps(settings=settings, tools=ToolRegistry())) as runner:
        yield runner, settings


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The demo case run once for the tests that only read it (forks write side threads only)."""
    home = tmp_path_factory.mktemp("demo")
    return run_case(CASE["checkout-bad-release"], home), home


def world_files(home: Path) -> dict[str, str]:
    """The executor's world state files (their `operations` are the executor's audit)."""
    return {p.name: p.read_text() for p in sorted((home / "world").glob("*.json"))}


def after(entries: list[Checkpoint], node: str) -> str:
    """Id of the first checkpoint written by ``node``."""
    return next(e.id for e in entries if e.node == node)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_bundled_case_replays_exactly_from_its_first_checkpoint(case: Path, tmp_path: Path) -> None:
    incident = run_case(case, tmp_path)
    world_before = world_files(tmp_path)
    with plain_runner(tmp_path) as (runner, settings):
        original_ids = [e.id for e in timeline(runner, incident)]
        doc = runner.store.get(incident)
        result = replay(runner, incident, "first", base=settings)
        assert [e.id for e in timeline(runner, incident)] == original_ids  # original thread untouched
        assert runner.store.get(incident) == doc  # store untouched
    assert result.diverged_at is None, result.diff
    assert result.outcome == result.original
    assert result.outcome["report"]["content"] == doc["report"]["content"]
    assert result.outcome["status"] == doc["status"]
    assert [(a["n"], a["rung"], a["action"], a["params"], a["result"], a["verified"]) for a in doc["attempts"]] == [
        (a["n"], a["rung"], a["action"], a["params"], a["result"], a["verified"]) for a in result.outcome["attempts"]
    ]
    assert world_files(tmp_path) == world_before  # the executor never ran


def test_timeline_names_each_step_and_what_it_changed(demo: tuple[str, Path]) -> None:
    incident, tmp_path = demo
    with plain_runner(tmp_path) as (runner, _):
        entries = timeline(runner, incident)
    assert [e.node for e in entries] == [
        "start", "ingest", "triage", "diagnose", "review", "report", "plan", "guard", "execute", "verify",
        "hold", "resolve", "notify",
    ]  # fmt: skip
    assert [e.step for e in entries] == list(range(13))
    by_node = {e.node: e.changes for e in entries}
    assert by_node["triage"]["triage"]["budget"] == 4
    assert "release v2.2 deployed at 02:58Z" in by_node["diagnose"]["findings"]
    assert by_node["report"]["report"]["status"] == "completed"
    assert by_node["verify"]["attempts"][0] == {
        "n": 1, "rung": 3, "action": "version_rollback", "result": "success", "verified": False
    }  # fmt: skip
    assert by_node["hold"]["attempts"][0]["verified"] is True  # cleared, and still clear after the hold
    assert by_node["resolve"]["status"] == "resolved"
    assert all(e.public().keys() == {"id", "step", "node", "time", "changes"} for e in entries)


def test_lower_budget_fork_escalates_and_the_diff_says_why(tmp_path: Path) -> None:
    incident = run_case(CASE["payments-memory-leak"], tmp_path)
    world_before = world_files(tmp_path)
    with plain_runner(tmp_path) as (runner, settings):
        entries = timeline(runner, incident)
        result = replay(runner, incident, after(entries, "triage"), base=settings, sets=["triage.budget=1"])
    assert result.original["status"] == "resolved" and len(result.original["attempts"]) == 2
    assert result.outcome["status"] == "escalated"
    assert [a["action"] for a in result.outcome["attempts"]] == ["restart"]
    assert "status: resolved → escalated" in result.diff
    assert "attempts: 2 → 1" in result.diff
    assert any(
        line.startswith("path: at step 10 the original ran plan") and "ran escalate" in line for line in result.diff
    )
    assert result.diverged_at is not None and result.diverged_at["field"] != "triage.budget"  # not the edit itself
    assert result.public()["fork"] == {"set": ["triage.budget=1"], "live": False}
    assert world_files(tmp_path) == world_before


def test_policy_fork_answers_unrecorded_calls_not_recorded(demo: tuple[str, Path]) -> None:
    incident, tmp_path = demo
    world_before = world_files(tmp_path)
    with plain_runner(tmp_path) as (runner, settings):
        start = after(timeline(runner, incident), "report")
        result = replay(runner, incident, start, base=settings, sets=['policy.pattern_rungs={"release": [1, 3]}'])
    first = result.outcome["attempts"][0]
    assert (first["rung"], first["action"]) == (1, "restart")
    assert "not recorded" in first["result"]["error"]
    assert result.diverged_at == {**result.diverged_at, "step": 6, "node": "plan", "field": "pending.rung"}
    assert world_files(tmp_path) == world_before


def test_live_fork_acts_on_the_world_under_its_own_idempotency_keys(tmp_path: Path) -> None:
    incident = run_case(CASE["checkout-bad-release"], tmp_path)
    settings = load_settings(CASE["checkout-bad-release"] / "config.yaml", home=tmp_path)
    for state_file in (tmp_path / "world").glob("*.json"):
        state_file.unlink()  # back to the bad release
    live = build_registry(settings, open_world(settings))
    with plain_runner(tmp_path) as (runner, base):
        start = after(timeline(runner, incident), "report")
        edits = ['policy.pattern_rungs={"release": [1, 2, 3]}', "policy.verify_after_s=0"]
        result = replay(runner, incident, start, base=base, sets=edits, live_tools=live)
    assert [a["action"] for a in result.outcome["attempts"]] == ["restart", "scale", "version_rollback"]
    assert result.outcome["status"] == "resolved"
    operations = json.loads(next((tmp_path / "world").glob("*.json")).read_text())["operations"]
    assert [op["key"] for op in operations] == [f"{result.thread}:{n}" for n in (1, 2, 3)]


def test_approval_fork_stops_where_no_recorded_answer_exists(demo: tuple[str, Path]) -> None:
    incident, tmp_path = demo
    with plain_runner(tmp_path) as (runner, settings):
        result = replay(runner, incident, "first", base=settings, sets=["policy.approval_from_rung=1"])
    assert result.outcome["status"] == "awaiting_approval"
    assert result.diverged_at is not None
    assert result.diverged_at["replay"] == "(waiting for approval of version_rollback, rung 3)"


def test_replay_answers_approvals_the_way_the_original_was_answered(tmp_path: Path) -> None:
    incident = run_case(CASE["checkout-bad-release"], tmp_path, approval_from_rung=3)
    settings = load_settings(CASE["checkout-bad-release"] / "config.yaml", home=tmp_path)
    settings = settings.model_copy(update={"policy": settings.policy.model_copy(update={"approval_from_rung": 3})})
    settings.users.append(UserConfig(name="alice", rollback_permission=True))
    deps = Deps(settings=settings, tools=build_registry(settings, open_world(settings)))
    with open_runner(settings, deps) as live:
        assert live.interrupted(incident)
        live.decide(incident, approved=True, by="alice")
    with plain_runner(tmp_path) as (runner, base):
        entries = timeline(runner, incident)
        assert any("approved by alice" in note for e in entries for note in e.changes.get("approvals", []))
        result = replay(runner, incident, "first", base=base)
    assert result.diverged_at is None
    assert result.outcome["status"] == "resolved"


def test_a_resume_under_other_settings_is_replayed_under_those_settings(tmp_path: Path) -> None:
    # Started when approval was needed from rung 3, resumed after config moved it to rung 4.
    incident = run_case(CASE["checkout-bad-release"], tmp_path, approval_from_rung=3)
    settings = load_settings(CASE["checkout-bad-release"] / "config.yaml", home=tmp_path)
    settings.users.append(UserConfig(name="alice", rollback_permission=True))
    deps = Deps(settings=settings, tools=build_registry(settings, open_world(settings)), sleep=lambda _s: None)
    with open_runner(settings, deps) as live:
        live.decide(incident, approved=True, by="alice")
    with plain_runner(tmp_path) as (runner, base):
        result = replay(runner, incident, "first", base=base)
    assert result.diverged_at is None
    assert result.outcome["status"] == "resolved"


def test_replay_uses_the_settings_the_incident_ran_under(demo: tuple[str, Path]) -> None:
    incident, tmp_path = demo
    # The case config gives checkout criticality 90 (score 88); defaults would give a lower score.
    with plain_runner(tmp_path) as (runner, base):
        assert base.service("checkout").criticality == 50
        result = replay(runner, incident, "first", base=base)
    assert result.diverged_at is None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("triage.budgetx=1", "--set triage.budgetx: unknown field 'budgetx'"),
        ("triage.budget=9", "--set triage.budget: Input should be less than or equal to 6"),
        ("policy.approval_from_rung=x", "--set policy.approval_from_rung: Input should be a valid integer"),
        ("nonsense", "--set 'nonsense': expected key=value"),
    ],
)
def test_bad_edits_name_the_field(demo: tuple[str, Path], edit: str, message: str) -> None:
    incident, tmp_path = demo
    with plain_runner(tmp_path) as (runner, settings):
        start = after(timeline(runner, incident), "triage")
        with pytest.raises(ReplayError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
            replay(runner, incident, start, base=settings, sets=[edit])


def test_unknown_checkpoint_is_a_usage_error(demo: tuple[str, Path]) -> None:
    incident, tmp_path = demo
    with plain_runner(tmp_path) as (runner, settings), pytest.raises(ReplayError, match="--checkpoint"):
        replay(runner, incident, "no-such-checkpoint", base=settings)


def test_export_then_import_elsewhere_replays_to_the_same_outcome(tmp_path: Path) -> None:
    source, target = tmp_path / "a", tmp_path / "b"
    incident = run_case(CASE["payments-memory-leak"], source)
    with plain_runner(source) as (runner, _):
        exported = export_incident(runner.store, runner.graph.checkpointer, incident)  # type: ignore[arg-type]
        there = replay(runner, incident, "first", base=runner.deps.settings)
    assert {"alert", "checkpoints", "tool_calls", "report", "audit"} <= exported.keys()
    with plain_runner(target) as (runner, settings):
        assert import_incident(runner.store, runner.graph.checkpointer, exported) == incident  # type: ignore[arg-type]
        assert [row["id"] for row in runner.store.list()] == [incident]
        assert runner.store.audit_trail(incident) == exported["audit"]
        here = replay(runner, incident, "first", base=settings)
        with pytest.raises(ArchiveError, match="already exists"):
            import_incident(runner.store, runner.graph.checkpointer, exported)  # type: ignore[arg-type]
    assert not (target / "world").exists()
    assert here.diverged_at is None
    assert here.outcome == there.outcome == here.original


def test_the_demo_incident_states_each_finding_once(demo: tuple[str, Path]) -> None:
    # two error signatures that lead to the same cluster events and audit record cite them once
    incident, tmp_path = demo
    with plain_runner(tmp_path) as (runner, _):
        findings = runner.state(incident).findings
    said = [(f.kind, f.title, f.detail) for f in findings]
    assert len(said) == len(set(said)) and any(f.kind == "event" for f in findings)
