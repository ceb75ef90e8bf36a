"""Recall at diagnosis: the closest past incidents as evidence and report words; a replay re-reads the same history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from agents.deps import Deps
from agents.recall import sentence
from evals.case import load_case
from evals.history import seed_case
from graph.replay import replay, timeline
from graph.runner import open_runner
from state.config import load_settings
from state.history import HistoryQuery, recall
from state.store import Store
from tests.history_data import NOW, load_history
from tools.catalog import build_registry, open_world
from tools.history import StoreHistory
from tools.registry import ToolRegistry

HISTORY_CASES = Path(__file__).resolve().parents[2] / "evals" / "history"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.from_url(f"sqlite:///{tmp_path / 'alertpilot.db'}")
    load_history(store)
    return store


def query(**changes: object) -> HistoryQuery:
    base = dict(
        subject="workload::shop/checkout", rule="HighErrorRate", pattern="release", change_kind="release",
        signatures=["NullPointerException in Pricer"], since=NOW - timedelta(days=90), before=NOW, exclude="inc-now",
    )  # fmt: skip
    return HistoryQuery.model_validate(base | changes)


def test_the_closest_past_incidents_share_the_cause_the_rule_and_the_error_signature(store: Store) -> None:
    found = recall(store, query())
    assert found.incidents == 5 and found.by_pattern == {"release": 5}
    assert [p.matches for p in found.similar] == [
        ["pattern", "rule", "change", "signatures"], ["pattern", "rule", "change", "signatures"],
        ["pattern", "rule", "change"],
    ]  # fmt: skip
    assert [p.fixed_by for p in found.similar] == ["version_rollback", "version_rollback", None]  # newest after ties
    outcomes = {(o.pattern, o.operation): (o.verified, o.failed, o.tried) for o in found.outcomes}
    assert outcomes == {("release", "version_rollback"): (3, 1, 4)}  # the rejected rollback never ran


def test_recall_reads_only_the_subject_inside_the_window_and_never_the_incident_itself(store: Store) -> None:
    assert recall(store, query(subject="workload::finance/billing")).incidents == 0  # 100 days ago
    old = recall(store, query(subject="workload::finance/billing", since=NOW - timedelta(days=120)))
    assert old.incidents == 2 and old.by_pattern == {"dependency": 2}
    first = recall(store, query()).similar[0].id
    assert first not in [p.id for p in recall(store, query(exclude=first)).similar]
    store.restore_incident("inc-now", "k", NOW - timedelta(minutes=5), {"status": "open", "alert": {
        "source": "alertmanager", "name": "HighErrorRate", "subject": {"kind": "workload", "name": "checkout",
                                                                       "namespace": "shop"}}}, [])  # fmt: skip
    assert recall(store, query()).incidents == 5  # the incident being diagnosed is open: never its own history
    assert recall(store, query(before=NOW - timedelta(days=15))).incidents == 2  # only what had happened by then


def test_the_report_says_what_fixed_it_and_when_history_is_about_another_cause(store: Store) -> None:
    mixed = sentence(recall(store, query()), "en")
    assert mixed.startswith("History: the last 3 times this fired after a release, 2 of them were fixed")
    only_fixed = sentence(recall(store, query(before=NOW - timedelta(days=6))), "en")
    assert "the last 3 times this fired after a release, version rollback fixed it in 1 attempt" in only_fixed
    other = sentence(recall(store, query(pattern="dependency", change_kind="none", signatures=[])), "en")
    assert "a bad release ×5" in other and "this time the diagnosis found a dependency outage" in other
    assert "this time" in other and "does not apply" in other
    assert "这些历史不适用" in sentence(recall(store, query(pattern="dependency")), "zh")


def test_an_unreadable_history_is_an_empty_recall_with_the_reason(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE incident_facts"))
    found = StoreHistory(store).recall(query())
    assert found.incidents == 0 and found.error.startswith("history unavailable:")


def _run(case: Path, home: Path) -> tuple[str, Path]:
    """Run a history case live through the product's runner (its store seeded first); returns the incident id."""
    settings = load_settings(case / "config.yaml", home=home)
    store = Store.from_url(settings.db_url)
    seed_case(load_case(case), store, settings, datetime.now(UTC))
    store.engine.dispose()
    deps = Deps(settings=settings, tools=build_registry(settings, open_world(settings)), sleep=lambda _s: None)
    from state.alert import parse_alerts

    with open_runner(settings, deps) as runner:
        return runner.start(parse_alerts((case / "alert.json").read_bytes())[0]).incident_id, home


def test_an_incident_with_history_cites_it_goes_straight_to_the_rung_that_held_and_replays_exactly(
    tmp_path: Path,
) -> None:
    incident, home = _run(HISTORY_CASES / "hist-am-cart-leak-rollback-first", tmp_path)
    settings = load_settings(None, home=home)
    with open_runner(settings, Deps(settings=settings, tools=ToolRegistry())) as runner:
        doc = runner.store.get(incident)
        assert doc is not None
        assert [a["action"] for a in doc["attempts"]] == ["version_rollback"] and doc["status"] == "resolved"
        assert any(f["kind"] == "history" for f in doc["findings"])
        assert doc["recall"]["outcomes"] and len(doc["recall"]["similar"]) == 3
        assert "History: the last 3 times this fired after a release" in doc["report"]["content"]
        assert "From history: version rollback held 4 of 4 verified times" in doc["report"]["content"]
        plans = [d["summary"] for d in doc["decisions"] if d["node"] == "plan"]
        assert plans[0].startswith("history of Deployment shop/cart (leak)") and "starting at rung 3" in plans[0]
        result = replay(runner, incident, "first", base=settings)
        assert [e.node for e in timeline(runner, incident)][3] == "diagnose"
    assert result.diverged_at is None, result.diff
    assert result.outcome == result.original  # the replay re-planned from the history the original read
