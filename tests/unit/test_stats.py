"""Operations stats over the store: counted by hand from tests/history_data.py, on SQLite (PostgreSQL: integration)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from graph.runner import document
from state.alert import parse_alerts
from state.facts import AttemptFacts, IncidentFacts, backfill
from state.incident import IncidentState
from state.stats import OperationsStats, operations_stats, parse_since
from state.store import Store
from tests.conftest import DEMO_CASE
from tests.history_data import NOW, load_history


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.from_url(f"sqlite:///{tmp_path / 'alertpilot.db'}")
    assert load_history(store) == 16
    return store


def check_counts(stats: OperationsStats) -> None:
    """What an SRE counts from the history's description (shared with the PostgreSQL test)."""
    assert stats.incidents == 16
    assert stats.by_status == {"resolved": 14, "escalated": 2}
    assert stats.by_verdict == {"cause_found": 9, "noise": 4, "info": 3}
    assert stats.by_severity == {"critical": 13, "info": 3}
    rungs = {(r.rung, r.operation): (r.attempts, r.verified, r.failed, r.success_rate) for r in stats.rungs}
    assert rungs == {(1, "restart"): (2, 0, 2, 0.0), (3, "version_rollback"): (6, 5, 1, round(5 / 6, 4))}
    assert (stats.ladder.attempts, stats.ladder.verified, stats.ladder.failed) == (8, 5, 3)
    patterns = {p.pattern: (p.incidents, p.fixed, p.escalated) for p in stats.patterns}
    assert patterns == {"release": (5, 3, 2), "leak": (2, 2, 0), "healthy": (4, 0, 4), "none": (3, 0, 0),
                        "dependency": (2, 0, 2)}  # fmt: skip
    escalations = {(e.reason, e.pattern): e.count for e in stats.escalations}
    assert escalations == {("noise", "healthy"): 4, ("abstained", "dependency"): 2,
                           ("rungs_exhausted", "release"): 1, ("approval_rejected", "release"): 1}  # fmt: skip
    assert (stats.approvals.incidents, stats.approvals.approved, stats.approvals.rejected) == (2, 1, 1)
    assert stats.approvals.wait.mean_s == pytest.approx(210.0)
    noisy = {(n.rule, n.service): (n.incidents, n.kinds) for n in stats.noisy}
    assert noisy == {("HighLatencyP99", "search"): (4, {"healthy": 4}), ("CPUNearLimit", "feed"): (3, {"info": 3})}
    assert "raise its `for:` duration or threshold" in next(
        n.suggestion for n in stats.noisy if n.rule.startswith("High")
    )
    assert stats.mtta.n == 16 and stats.mtta.p50_s == 60.0  # triage a minute after the alert started
    assert {b.tier for b in stats.budget} and all(b.incidents for b in stats.budget)
    assert sum(b.incidents for b in stats.budget) == 13  # informational alerts are not on the ladder
    assert sum(b.spent for b in stats.budget) == 8


def test_stats_count_what_happened(store: Store) -> None:
    stats = operations_stats(store)
    check_counts(stats)
    channels = {c.channel: (c.sent, c.delivered, c.failed, c.rate) for c in stats.channels}
    assert channels == {"email": (4, 3, 1, 0.75), "wecom": (1, 1, 0, 1.0)}


def test_since_and_service_narrow_the_window(store: Store) -> None:
    recent = operations_stats(store, since=NOW - timedelta(days=90))
    assert recent.incidents == 14 and "dependency" not in recent.by_pattern  # billing's outages were 100 days ago
    checkout = operations_stats(store, service="checkout")
    assert checkout.incidents == 5 and [s.service for s in checkout.services] == ["checkout"]
    # resolved in one attempt a minute after the alert: 60 s + the 300 s verify; one waited 120 s for approval
    assert checkout.mttr.n == 3 and checkout.mttr.mean_s == pytest.approx((360 + 360 + 480) / 3)
    assert operations_stats(store, service="nobody").incidents == 0


def test_noise_min_decides_which_rules_count_as_always_noise(store: Store) -> None:
    assert {n.rule for n in operations_stats(store, noise_min=4).noisy} == {"HighLatencyP99"}
    assert operations_stats(store, noise_min=5).noisy == []


def test_the_facts_follow_every_write_of_the_document(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'a.db'}")
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    state = IncidentState(incident_id="inc-1", alert=alert)
    store.create_incident("inc-1", alert.dedup_key, document(state, interrupted=False))
    with store.session() as session:
        row = session.get(IncidentFacts, "inc-1")
        assert row is not None and row.status == "open" and row.subject == "workload::shop/checkout"
    store.save_doc("inc-1", document(state.model_copy(update={"status": "escalated"}), interrupted=False))
    with store.session() as session:
        assert session.get(IncidentFacts, "inc-1").status == "escalated"  # type: ignore[union-attr]


def test_a_database_from_before_the_facts_tables_is_filled_in(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(IncidentFacts))
        conn.execute(delete(AttemptFacts))
        assert backfill(conn, batch=5) == 16  # in batches, every incident
        assert conn.scalar(select(func.count()).select_from(AttemptFacts)) == 8
        assert backfill(conn) == 0  # nothing left to do
    check_counts(operations_stats(store))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2026-11-01", NOW.replace(day=1, hour=0)),
        ("2026-11-01T08:00:00Z", NOW.replace(day=1, hour=8)),
        ("", None),
    ],
)
def test_since_reads_dates_times_and_durations(text: str, expected: object) -> None:
    assert parse_since(text, NOW) == expected


def test_a_bad_since_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"^since: expected a date .* got 'yesterday'"):
        parse_since("yesterday", NOW)


def test_a_document_the_facts_cannot_read_is_still_saved_and_the_backfill_goes_past_it(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'a.db'}")
    odd = {"status": "resolved", "alert": {"name": "X", "source": "generic"}, "attempts": [{"action": "restart",
                                                                                           "n": "first"}]}  # fmt: skip
    store.restore_incident("inc-odd", "k", NOW, odd, [])  # an imported document of another shape
    assert store.get("inc-odd") == odd
    load_history(store)
    with store.engine.begin() as conn:
        conn.execute(delete(IncidentFacts))
        assert backfill(conn, batch=4) == 16  # every readable one, in batches, past the odd one
    assert operations_stats(store).incidents == 16
