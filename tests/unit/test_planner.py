"""The ladder as policy data: which rung, which operation, which target."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agents.rollback import judge, plan_next, start_rung
from state.alert import parse_alerts
from state.config import ServiceConfig, Settings, load_settings
from state.incident import Attempt, Diagnosis, IncidentState, ReviewResult, TriageResult
from state.policy import Policy
from tests.conftest import DEMO_CASE

NOW_ATTEMPT = dict(idempotency_key="k", started_at="2026-11-20T03:15:00Z")


def state(budget: int = 4, attempts: int = 0, **extra) -> IncidentState:
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    s = IncidentState(
        incident_id="inc-1",
        alert=alert,
        triage=TriageResult(score=80, tier="P1", budget=budget, dimensions={}),
        **extra,
    )
    s.attempts = [Attempt(n=i + 1, rung=i + 1, action="restart", **NOW_ATTEMPT) for i in range(attempts)]
    return s


def test_attempt_n_takes_rung_n_without_an_implicated_release() -> None:
    assert [plan_next(state(attempts=n), Policy()).operation for n in range(4)] == [
        "restart", "scale", "version_rollback", "isolate"
    ]  # fmt: skip
    assert plan_next(state(attempts=1), Policy()).params == {"service": "checkout", "namespace": "shop", "delta": 2}


def test_confident_diagnosis_starts_at_the_version_rollback_to_known_good() -> None:
    diag = Diagnosis(summary="s", suspected_release="v2.2", known_good_release="v2.1", release_confidence=0.9)
    action = plan_next(state(diagnosis=diag), Policy())
    assert (action.rung, action.operation, action.params["target"]) == (3, "version_rollback", "v2.1")
    assert start_rung(state(diagnosis=diag), Policy(release_confidence=0.95)) == 1


def test_confident_review_implicates_the_release_and_config_names_known_good() -> None:
    review = ReviewResult(status="reviewed", release="v2.2", findings=[{"problem": "NPE", "confidence": 0.8}])
    settings = Settings(services={"checkout": ServiceConfig(known_good_version="v2.0")})
    action = plan_next(state(review=review), settings.policy, settings)
    assert (action.operation, action.params["target"]) == ("version_rollback", "v2.0")
    weak = ReviewResult(status="reviewed", release="v2.2", findings=[{"confidence": 0.3}])
    assert start_rung(state(review=weak), Policy()) == 1


def test_never_more_attempts_than_the_budget_and_rung_6_is_a_human() -> None:
    assert plan_next(state(budget=2, attempts=2), Policy()) is None
    diag = Diagnosis(summary="s", suspected_release="v2.2", release_confidence=0.9)
    assert plan_next(state(budget=6, attempts=3, diagnosis=diag), Policy()) is None  # 3 + 3 = rung 6


def test_judge() -> None:
    assert judge(0.12, None, False) == (True, False)
    assert judge(0.12, 0.3, True) == (False, True)
    assert judge(0.12, 0.13, True) == (False, False)
    assert judge(0.12, 0.13, True, factor=1.05) == (False, True)


def test_devops_mcp_server_exposes_the_operations_and_acts_on_the_world(home: Path) -> None:
    from tools.mcp import build_server

    server = build_server("devops", load_settings(DEMO_CASE / "config.yaml", home=home))
    names = sorted(t.name for t in asyncio.run(server.list_tools()))
    assert names == sorted(["restart", "config_refresh", "scale", "version_rollback", "isolate", "full_rollback"])
    result = asyncio.run(server.call_tool("version_rollback", {"service": "checkout", "target": "v2.1"}))
    text = result[0][0].text if isinstance(result, tuple) else result[0].text
    assert json.loads(text)["data"]["detail"] == "Rollback to v2.1 completed"
