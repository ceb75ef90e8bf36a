"""The guard on the ladder's actions: budget, dry-run, human rungs, scope and the approval rung."""

from __future__ import annotations

from datetime import UTC, datetime

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
