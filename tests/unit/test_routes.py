"""Graph routes are pure functions of state: checked by table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph import routes
from state.alert import Alert
from state.incident import Attempt, Diagnosis, GuardDecision, IncidentState, PlannedAction, TriageResult

NOW = datetime(2026, 11, 24, tzinfo=UTC)
ALERT = Alert(source="generic", status="firing", name="A", starts_at=NOW, fingerprint="f")


def _state(**fields: object) -> IncidentState:
    return IncidentState.model_validate({"incident_id": "i", "alert": ALERT, **fields})


def _triage(budget: int = 2, actionable: bool = True) -> TriageResult:
    return TriageResult(score=50, tier="P2", budget=budget, dimensions={}, actionable=actionable)


def _attempt(n: int, verified: bool | None) -> Attempt:
    return Attempt(n=n, rung=n, action="restart", idempotency_key=f"i:{n}", started_at=NOW, verified=verified)


ACTION = PlannedAction(rung=1, rung_name="restart", operation="restart")


@pytest.mark.parametrize(
    ("route", "state", "expected"),
    [
        (routes.after_triage, _state(triage=_triage()), "diagnose"),
        (routes.after_triage, _state(triage=_triage(actionable=False)), "report"),
        (routes.after_diagnose, _state(diagnosis=Diagnosis(summary="s", suspected_release="v2")), "review"),
        (routes.after_diagnose, _state(diagnosis=Diagnosis(summary="s")), "report"),
        (routes.after_diagnose, _state(alert=ALERT.model_copy(update={"version": "v9"})), "review"),
        (routes.after_report, _state(triage=_triage()), "plan"),
        (routes.after_report, _state(triage=_triage(actionable=False)), "notify"),
        (routes.after_plan, _state(pending=ACTION), "guard"),
        (routes.after_plan, _state(pending=None), "escalate"),
        (routes.after_guard, _state(guard=GuardDecision(allowed=True)), "execute"),
        (routes.after_guard, _state(guard=GuardDecision(allowed=False, reason="no")), "escalate"),
        (routes.after_verify, _state(triage=_triage(2), attempts=[_attempt(1, True)]), "resolve"),
        (routes.after_verify, _state(triage=_triage(2), attempts=[_attempt(1, False)]), "plan"),
        (routes.after_verify, _state(triage=_triage(2), attempts=[_attempt(1, False), _attempt(2, False)]), "escalate"),
        (routes.after_verify, _state(triage=_triage(1), attempts=[_attempt(1, False)]), "escalate"),
    ],
)
def test_route_table(route: object, state: IncidentState, expected: str) -> None:
    assert route(state) == expected  # type: ignore[operator]
