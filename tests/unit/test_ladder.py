"""The ladder's simplest real form: rung n for attempt n, never beyond the budget; the guard."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.rollback import judge, plan_next
from state.alert import Alert
from state.incident import Attempt, Diagnosis, IncidentState, PlannedAction, TriageResult
from state.policy import Policy
from tools.guard import GuardContext, check

NOW = datetime(2026, 11, 24, tzinfo=UTC)
ALERT = Alert(
    source="generic", status="firing", name="A", service="checkout", namespace="shop", starts_at=NOW, fingerprint="f"
)
POLICY = Policy()


def _ctx(policy: Policy = POLICY) -> GuardContext:
    return GuardContext(policy=policy, actor="alertpilot", actor_can_rollback=True, now=NOW)


def _state(budget: int, attempts: int = 0, diagnosis: Diagnosis | None = None, dry_run: bool = False) -> IncidentState:
    return IncidentState(
        incident_id="i",
        alert=ALERT,
        dry_run=dry_run,
        triage=TriageResult(score=90, tier="P0", budget=budget, dimensions={}),
        diagnosis=diagnosis,
        attempts=[
            Attempt(n=n, rung=n, action="restart", idempotency_key=f"i:{n}", started_at=NOW, verified=False)
            for n in range(1, attempts + 1)
        ],
    )


def test_attempt_n_takes_rung_n_until_the_budget_is_spent() -> None:
    rungs = []
    for done in range(6):
        action = plan_next(_state(budget=4, attempts=done), POLICY)
        rungs.append(action.rung if action else None)
    assert rungs == [1, 2, 3, 4, None, None]


def test_rung_six_is_a_human_not_an_action() -> None:
    assert plan_next(_state(budget=6, attempts=5), POLICY) is None


def test_confident_release_starts_at_version_rollback_to_known_good() -> None:
    diagnosis = Diagnosis(summary="s", suspected_release="v2.2", known_good_release="v2.1", release_confidence=0.9)
    action = plan_next(_state(budget=3, diagnosis=diagnosis), POLICY)
    assert action is not None
    assert (action.rung, action.operation, action.params["target"]) == (3, "version_rollback", "v2.1")
    weak = diagnosis.model_copy(update={"release_confidence": 0.5})
    assert plan_next(_state(budget=3, diagnosis=weak), POLICY).rung == 1  # type: ignore[union-attr]


def test_guard_enforces_budget_and_dry_run() -> None:
    action = PlannedAction(rung=1, rung_name="restart", operation="restart", params={"service": "checkout"})
    assert check(action, _state(budget=1), _ctx()).allowed
    spent = check(action, _state(budget=1, attempts=1), _ctx())
    assert not spent.allowed and "budget" in spent.reason
    dry = check(action, _state(budget=2, dry_run=True), _ctx())
    assert dry.allowed and dry.dry_run
    human = check(PlannedAction(rung=6, rung_name="human", operation=None), _state(budget=6), _ctx())
    assert not human.allowed


def test_guard_scope_and_approval_rung() -> None:
    action = PlannedAction(rung=3, rung_name="rollback", operation="version_rollback", params={"service": "checkout"})
    assert check(action, _state(budget=3), _ctx()).needs_approval
    scoped = Policy(allowed_namespaces=["payments"])
    denied = check(action, _state(budget=3), _ctx(scoped))
    assert not denied.allowed and "namespace" in denied.reason


def test_verify_judgement() -> None:
    assert judge(0.2, None, False) == (True, False)
    assert judge(0.2, 0.21, True) == (False, False)
    assert judge(0.2, 0.5, True) == (False, True)
