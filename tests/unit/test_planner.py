"""The ladder acts on a hypothesis: the diagnosed cause picks the rungs that address it, with a target."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agents.rollback import plan_next, rung_sequence, why_no_action
from state.alert import parse_alerts
from state.config import ServiceConfig, Settings, load_settings
from state.incident import Attempt, Diagnosis, IncidentState, ReviewResult, TriageResult
from state.policy import Policy
from tests.conftest import DEMO_CASE

NOW_ATTEMPT = dict(idempotency_key="k", started_at="2026-11-20T03:15:00Z")
RELEASE = Diagnosis(
    summary="s", pattern="release", suspected_release="v2.2", known_good_release="v2.1", release_confidence=0.9
)


def state(budget: int = 4, attempts: int = 0, outcome: str = "still_firing", **extra) -> IncidentState:
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    s = IncidentState(
        incident_id="inc-1",
        alert=alert,
        triage=TriageResult(score=80, tier="P1", budget=budget, dimensions={}),
        **extra,
    )
    s.attempts = [
        Attempt(n=i + 1, rung=i + 1, action="restart", outcome=outcome, **NOW_ATTEMPT) for i in range(attempts)
    ]
    return s


@pytest.mark.parametrize(
    ("pattern", "abstain"),
    [("undetermined", "nothing explains it"), ("capacity", "load"), ("dependency", "db down"), ("node", "a node"),
     ("config_edit", "alice edited"), ("healthy", "already healthy"), ("no_data", "no data")],
)  # fmt: skip
def test_no_rung_without_a_cause_one_can_address(pattern: str, abstain: str) -> None:
    diagnosis = Diagnosis(summary="s", pattern=pattern, abstain=abstain)
    assert plan_next(state(diagnosis=diagnosis), Policy()) is None
    assert abstain in why_no_action(state(diagnosis=diagnosis), Policy())


def test_a_bad_release_is_rolled_back_to_the_last_healthy_version_only() -> None:
    action = plan_next(state(diagnosis=RELEASE), Policy())
    assert (action.rung, action.operation) == (3, "version_rollback")
    assert action.params == {"service": "checkout", "namespace": "shop", "target": "v2.1"}
    assert plan_next(state(diagnosis=RELEASE, attempts=1), Policy()) is None  # no isolate/full rollback on a hunch
    moderate = RELEASE.model_copy(update={"release_confidence": 0.55})
    assert "moderate confidence 55%" in plan_next(state(diagnosis=moderate), Policy()).reason


def test_a_release_without_a_version_to_return_to_escalates_saying_so() -> None:
    nowhere = RELEASE.model_copy(update={"known_good_release": None})
    assert plan_next(state(diagnosis=nowhere), Policy()) is None
    assert "no version known to be healthy" in why_no_action(state(diagnosis=nowhere), Policy())
    settings = Settings(services={"checkout": ServiceConfig(known_good_version="v2.0")})
    action = plan_next(state(diagnosis=nowhere), settings.policy, settings)
    assert action.params["target"] == "v2.0"  # configured known-good


def test_a_confident_review_turns_nothing_found_into_a_release() -> None:
    found = ReviewResult(status="reviewed", release="v2.2", findings=[{"problem": "NPE", "confidence": 0.8}])
    undetermined = Diagnosis(summary="s", pattern="undetermined", abstain="nothing", known_good_release="v2.1")
    action = plan_next(state(diagnosis=undetermined, review=found), Policy())
    assert (action.operation, action.params["target"]) == ("version_rollback", "v2.1")
    weak = ReviewResult(status="reviewed", release="v2.2", findings=[{"confidence": 0.3}])
    assert plan_next(state(diagnosis=undetermined, review=weak), Policy()) is None


def test_a_leak_restarts_then_rolls_back_and_without_a_release_only_restarts() -> None:
    leak = Diagnosis(summary="s", pattern="leak", suspected_release="v2.2", known_good_release="v2.1")
    first, second = plan_next(state(diagnosis=leak), Policy()), plan_next(state(diagnosis=leak, attempts=1), Policy())
    assert first.operation == "restart" and (second.operation, second.params["target"]) == ("version_rollback", "v2.1")
    old_leak = Diagnosis(summary="s", pattern="leak")
    assert plan_next(state(diagnosis=old_leak), Policy()).operation == "restart"
    assert plan_next(state(diagnosis=old_leak, attempts=1), Policy()) is None


def test_policy_may_map_a_pattern_to_rungs() -> None:
    capacity = Diagnosis(summary="s", pattern="capacity", abstain="load beyond capacity")
    action = plan_next(state(diagnosis=capacity), Policy(pattern_rungs={"capacity": [2]}))
    assert action.params == {"service": "checkout", "namespace": "shop", "delta": 2}
    assert rung_sequence(state(diagnosis=capacity), Policy()) == []
    # a signal nothing can verify stays untouched whatever the mapping
    assert (
        plan_next(state(diagnosis=Diagnosis(summary="s", pattern="no_data")), Policy(pattern_rungs={"no_data": [1]}))
        is None
    )


def test_never_more_attempts_than_the_budget_nor_a_climb_on_missing_data() -> None:
    leak = Diagnosis(summary="s", pattern="leak", suspected_release="v2.2", known_good_release="v2.1")
    assert plan_next(state(budget=1, attempts=1, diagnosis=leak), Policy()) is None
    assert why_no_action(state(budget=1, attempts=1, diagnosis=leak), Policy()) == "attempt budget spent"
    blind = state(attempts=1, outcome="unverified", diagnosis=leak)
    assert plan_next(blind, Policy()) is None and "could not be verified" in why_no_action(blind, Policy())


def test_devops_mcp_server_exposes_the_operations_and_acts_on_the_world(home: Path) -> None:
    from tools.mcp import build_server

    server = build_server("devops", load_settings(DEMO_CASE / "config.yaml", home=home))
    names = sorted(t.name for t in asyncio.run(server.list_tools()))
    assert names == sorted(["restart", "config_refresh", "scale", "version_rollback", "isolate", "full_rollback"])
    result = asyncio.run(server.call_tool("version_rollback", {"service": "checkout", "target": "v2.1"}))
    text = result[0][0].text if isinstance(result, tuple) else result[0].text
    assert json.loads(text)["data"]["detail"] == "Rollback to v2.1 completed"
