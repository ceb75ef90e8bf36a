"""Replay and export/import on a real PostgreSQL checkpointer (blobs per channel version)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.deps import Deps
from graph.archive import export_incident, import_incident
from graph.replay import replay, timeline
from graph.runner import open_runner
from state.alert import parse_alerts
from state.config import load_settings
from tests.conftest import ROOT
from tools.catalog import build_registry, open_world
from tools.registry import ToolRegistry

pytestmark = pytest.mark.integration

CASE = ROOT / "evals" / "cases" / "payments-memory-leak"


def test_replay_fork_and_move_to_sqlite_from_postgres(pg_database: str, tmp_path: Path) -> None:
    settings = load_settings(CASE / "config.yaml", home=tmp_path / "pg", database={"url": pg_database})
    deps = Deps(settings=settings, tools=build_registry(settings, open_world(settings)), sleep=lambda _s: None)
    with open_runner(settings, deps) as runner:
        incident = runner.start(parse_alerts((CASE / "alert.json").read_bytes())[0]).incident_id

    base = load_settings(None, home=tmp_path / "pg", database={"url": pg_database})
    with open_runner(base, Deps(settings=base, tools=ToolRegistry())) as runner:
        entries = timeline(runner, incident)
        same = replay(runner, incident, "first", base=base)
        after_triage = next(e.id for e in entries if e.node == "triage")
        fork = replay(runner, incident, after_triage, base=base, sets=["triage.budget=1"])
        assert [e.id for e in timeline(runner, incident)] == [e.id for e in entries]
        exported = export_incident(runner.store, runner.graph.checkpointer, incident)  # type: ignore[arg-type]
    assert same.diverged_at is None and same.outcome["status"] == "resolved"
    assert fork.outcome["status"] == "escalated" and "attempts: 2 → 1" in fork.diff

    local = load_settings(None, home=tmp_path / "sqlite")
    with open_runner(local, Deps(settings=local, tools=ToolRegistry())) as runner:
        import_incident(runner.store, runner.graph.checkpointer, exported)  # type: ignore[arg-type]
        moved = replay(runner, incident, "first", base=local)
    assert moved.diverged_at is None and moved.outcome == same.outcome
