"""The ladder informed by history: it reorders only the rungs policy allows, with a Beta posterior, and says why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.informed_ladder import Estimate, order, unused
from agents.rollback import plan_next, rung_sequence
from state.alert import parse_alerts
from state.history import Recall, RungOutcomes
from state.incident import Attempt, Diagnosis, IncidentState, TriageResult
from state.policy import HistoryPolicy, Policy
from tests.conftest import DEMO_CASE

T = datetime(2026, 11, 20, tzinfo=UTC)
LEAK = Diagnosis(
    summary="s", pattern="leak", suspected_release="v2.2", known_good_release="v2.1", release_confidence=0.9
)


def recall(*outcomes: tuple[str, int, str, int, int]) -> Recall:
    """(pattern, rung, operation, verified, failed) per rung."""
    rows = [
        RungOutcomes(pattern=p, rung=r, operation=op, verified=v, failed=f, tried=v + f) for p, r, op, v, f in outcomes
    ]
    return Recall(subject="workload::shop/checkout", pattern="leak", since=T, before=T, incidents=9, outcomes=rows)


def incident(diagnosis: Diagnosis, remembered: Recall | None, budget: int = 4, attempts: int = 0) -> IncidentState:
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    state = IncidentState(
        incident_id="inc-1", alert=alert, diagnosis=diagnosis, recall=remembered,
        triage=TriageResult(score=80, tier="P1", budget=budget, dimensions={}),
    )  # fmt: skip
    state.attempts = [
        Attempt(n=i + 1, rung=1, action="restart", outcome="still_firing", idempotency_key="k", started_at=T)
        for i in range(attempts)
    ]
    return state


ROLLBACK_HELD = ("leak", 3, "version_rollback", 4, 0)
RESTART_FAILED = ("leak", 1, "restart", 0, 4)


@pytest.mark.parametrize(
    ("outcomes", "policy", "expected"),
    [
        ((), Policy(), [1, 3]),  # no history: the ladder's order
        ((RESTART_FAILED, ROLLBACK_HELD), Policy(), [3, 1]),  # the rollback held 4/4: it goes first
        ((("leak", 3, "version_rollback", 2, 0),), Policy(), [1, 3]),  # 2 outcomes < min_outcomes 3
        ((("leak", 3, "version_rollback", 2, 0),), Policy(history=HistoryPolicy(min_outcomes=2)), [3, 1]),
        ((("leak", 3, "version_rollback", 2, 2),), Policy(), [1, 3]),  # 50% (Beta(3,3)) < min_success 0.6
        ((("release", 3, "version_rollback", 9, 0),), Policy(), [1, 3]),  # another cause's history is not this one's
        ((("leak", 3, "full_rollback", 9, 0),), Policy(), [1, 3]),  # the rung runs another operation now
        ((ROLLBACK_HELD,), Policy(history=HistoryPolicy(informed_ladder=False)), [1, 3]),  # switched off
        ((ROLLBACK_HELD, ("leak", 1, "restart", 6, 0)), Policy(), [1, 3]),  # both work: the better one (7/8) first
    ],
)
def test_order_moves_only_a_rung_known_to_work_for_this_subject_and_cause(
    outcomes: tuple[tuple[str, int, str, int, int], ...], policy: Policy, expected: list[int]
) -> None:
    assert order([1, 3], recall(*outcomes), "leak", policy).levels == expected


def test_history_never_adds_a_rung_policy_does_not_allow() -> None:
    scale_held = ("leak", 2, "scale", 9, 0)  # scale-out held 9 times, but nothing maps a leak to rung 2
    assert order([1, 3], recall(scale_held), "leak", Policy()).levels == [1, 3]
    assert order([1], recall(ROLLBACK_HELD), "leak", Policy()).levels == [1]  # no target: no rollback


def test_the_estimate_is_the_beta_posterior_mean_and_its_tail() -> None:
    held = Estimate(3, "version_rollback", verified=4, failed=0)
    assert (held.alpha, held.beta) == (5, 1)
    assert held.mean == pytest.approx(5 / 6)
    assert held.chance_above(0.5) == pytest.approx(1 - 0.5**5)  # Beta(5,1): P(p > x) = 1 - x^5
    mixed = Estimate(1, "restart", verified=2, failed=3)  # Beta(3, 4)
    grid = [i / 20000 for i in range(20000)]
    density = [x**2 * (1 - x) ** 3 for x in grid]
    numeric = sum(d for x, d in zip(grid, density, strict=True) if x > 0.4) / sum(density)
    assert mixed.chance_above(0.4) == pytest.approx(numeric, abs=1e-3)


def test_the_reason_names_the_counts_the_estimate_and_the_new_order() -> None:
    result = order([1, 3], recall(RESTART_FAILED, ROLLBACK_HELD), "leak", Policy(), "Deployment shop/checkout")
    assert result.changed and result.first is not None and result.first.operation == "version_rollback"
    assert "version_rollback held 4 of 4 verified times (success estimate 83%, Beta(5, 1)" in result.reason
    assert "restart held 0 of 4" in result.reason and "starting at rung 3" in result.reason
    thin = order([1, 3], recall(("leak", 3, "version_rollback", 1, 0)), "leak", Policy())
    assert not thin.changed and "fewer than 3 verified outcomes" in thin.reason


def test_plan_next_starts_at_the_rung_that_held_and_still_walks_the_rest_within_the_budget() -> None:
    remembered = recall(RESTART_FAILED, ROLLBACK_HELD)
    first = plan_next(incident(LEAK, remembered), Policy())
    assert first is not None and first.operation == "version_rollback" and first.params["target"] == "v2.1"
    assert "order from history" in first.reason
    second = plan_next(incident(LEAK, remembered, attempts=1), Policy())
    assert second is not None and second.operation == "restart"  # then the other allowed rung
    assert plan_next(incident(LEAK, remembered, budget=1, attempts=1), Policy()) is None  # the budget still binds
    assert rung_sequence(incident(LEAK, None), Policy()) == [1, 3]


@pytest.mark.parametrize(
    "diagnosis",
    [
        Diagnosis(summary="s", pattern="dependency", abstain="payments-db is down", verdict="cause_found"),
        Diagnosis(summary="s", pattern="undetermined", abstain="nothing explains it"),
        Diagnosis(summary="s", pattern="healthy", abstain="already healthy", verdict="noise"),
    ],
)
def test_an_abstaining_diagnosis_never_acts_whatever_history_fixed(diagnosis: Diagnosis) -> None:
    fixed_before = recall(("release", 3, "version_rollback", 9, 0), ("undetermined", 2, "scale", 5, 0))
    assert plan_next(incident(diagnosis, fixed_before), Policy()) is None
    note = unused(fixed_before, None, diagnosis.pattern)
    assert note.startswith("history not applied") and "which no rung may act on" in note
    assert "version_rollback fixed 9 release" in note


def test_unused_history_says_nothing_when_there_was_no_fix_for_another_cause() -> None:
    assert unused(None, None, "dependency") == ""
    assert unused(recall(("release", 3, "version_rollback", 0, 3)), None, "dependency") == ""
