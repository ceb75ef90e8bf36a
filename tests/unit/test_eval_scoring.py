"""The scorer, checked with scripted chat models whose scores are worked out by hand.

Each scripted model plays the demo case (checkout v2.2 is bad; v2.1 is good) or a noisy
informational case through the eval agent loop, against the live simulated world.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from evals.case import load_case
from evals.harness import run_eval
from evals.scoring import diagnosis_score, match_value, normalize_text, pass_hat_k
from tests.fakes import ScriptedModel

CASES = Path(__file__).resolve().parents[2] / "evals" / "cases"
DEMO = CASES / "checkout-bad-release"
NOOP = CASES / "am-cart-info-latency"
EXPR = (
    'sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m])) / '
    'sum(rate(http_requests_total{service="checkout"}[5m]))'
)
WINDOW = {"start": "2026-11-20T02:12:45Z", "end": "2026-11-20T03:22:45Z", "step": "60s"}


def call(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"c-{name}-{len(json.dumps(args))}"}


def turn(*calls: dict[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=list(calls))


def answer(*entities: str) -> AIMessage:
    return AIMessage(content=json.dumps({"summary": "done", "root_cause_entities": list(entities)}))


INVESTIGATE = turn(
    call("execute_query", query=f"{EXPR} > 0.05"),
    call("execute_range_query", query=EXPR, **WINDOW),
    call("execute_range_query", query='build_info{service="checkout"}', **WINDOW),
)
ROLLBACK = turn(call("version_rollback", service="checkout", namespace="shop", target="v2.1"))
VERIFY = turn(call("execute_query", query=f"{EXPR} > 0.05"))
# the demo's true root cause: the service, the bad release, and who shipped it (its audit log)
ROOT_CAUSE = ("checkout", "v2.2", "deploy-bot@ci")


def run(case_dir: Path, *responses: AIMessage) -> dict[str, Any]:
    result = run_eval([load_case(case_dir)], model=ScriptedModel(responses=list(responses)), model_name="scripted")
    return result.document()


def test_perfect_model_scores_one_everywhere() -> None:
    # 3 expected reads made exactly + the expected rollback + 1 valid extra read (verify) = 5/5.
    doc = run(DEMO, INVESTIGATE, ROLLBACK, VERIFY, answer(*ROOT_CAUSE))
    assert doc["mcp_call_accuracy"] == 1.0
    assert doc["valid_tool_name_rate"] == 1.0 and doc["schema_validity"] == 1.0
    assert doc["diagnosis_score"] == 1.0
    assert doc["mitigation_success"] == 1.0
    assert doc["action_when_needed"] == 1.0 and doc["abstention"] is None
    assert doc["pass_k"] == {"1": 1.0}


def test_a_tool_that_does_not_exist_is_one_incorrect_call_not_a_crash() -> None:
    # 6 made calls, 5 of them correct; the union has 6 elements → 5/6. Names: 5 of 6 valid.
    doc = run(DEMO, turn(call("get_pod_logs", pod="checkout-0")), INVESTIGATE, ROLLBACK, VERIFY, answer(*ROOT_CAUSE))
    assert doc["mcp_call_accuracy"] == pytest.approx(5 / 6)
    assert doc["valid_tool_name_rate"] == pytest.approx(5 / 6)
    assert doc["schema_validity"] == 1.0  # measured over calls to tools that exist
    assert doc["cases"][0]["notes"] == ["get_pod_logs: no such tool"]


def test_a_wrong_rollback_target_fails_the_strict_match_and_the_oracle() -> None:
    # The rollback to v2.0 is paired with the expected one but its target is wrong: 4/5 correct.
    # v2.0 also has a healthy signal, but the oracle wants v2.1 running → mitigation fails.
    wrong = turn(call("version_rollback", service="checkout", namespace="shop", target="v2.0"))
    doc = run(DEMO, INVESTIGATE, wrong, VERIFY, answer(*ROOT_CAUSE))
    assert doc["mcp_call_accuracy"] == pytest.approx(4 / 5)
    assert doc["argument_accuracy"] == pytest.approx(4 / 5)
    assert doc["mutation_strict_match"] == 0.0
    assert doc["mitigation_success"] == 0.0
    assert doc["episode_success"] == 0.0
    assert doc["diagnosis_score"] == 1.0


def test_acting_on_a_noop_alert_breaks_abstention() -> None:
    # Nothing is expected. One valid extra read (correct) and one restart (incorrect): 1/2.
    look = turn(call("execute_query", query='build_info{service="cart"}'))
    act = turn(call("restart", service="cart", namespace="shop"))
    doc = run(NOOP, look, act, answer("cart"))
    assert doc["mcp_call_accuracy"] == pytest.approx(1 / 2)
    assert doc["abstention"] == 0.0
    assert doc["action_when_needed"] is None
    assert doc["diagnosis_score"] is None  # no root cause to name for a Noop
    assert doc["episode_success"] == 0.0


def test_a_repeated_mutating_call_is_an_extra_call() -> None:
    # 6 made calls: the second rollback has no expected partner → 5/6, strict match fails.
    doc = run(DEMO, INVESTIGATE, ROLLBACK, ROLLBACK, VERIFY, answer(*ROOT_CAUSE))
    assert doc["mcp_call_accuracy"] == pytest.approx(5 / 6)
    assert doc["mutation_strict_match"] == 0.0
    assert doc["mitigation_success"] == 1.0  # the world is fine; the agent still acted twice
    assert doc["episode_success"] == 0.0


def test_offline_playbook_solves_the_demo_case() -> None:
    doc = run_eval([load_case(DEMO)]).document()
    assert doc["mcp_call_accuracy"] == 1.0
    assert doc["episode_success"] == 1.0
    assert doc["cases"][0]["status"] == "resolved"


def test_matchers_follow_the_documented_rules() -> None:
    assert match_value({"time": "2026-11-20T03:00:00Z"}, "2026-11-20T03:00:59+00:00")
    assert not match_value({"time": "2026-11-20T03:00:00Z"}, "2026-11-20T03:01:01Z")
    assert match_value({"time": "2026-11-20T03:00:00Z"}, 1795143630)  # Unix seconds, 30 s off
    assert match_value({"text": "Checkout is DOWN!"}, "checkout is down")
    assert match_value(2, 2.0) and not match_value(2, "3")
    assert match_value("v2.1", "v2.1") and not match_value("v2.1", "V2.1")  # identifiers exact
    assert match_value({"promql": "up{job='a'} > 0"}, "up{job='a'}>0")
    assert normalize_text("Payments-DB, down.") == "payments-db down"


def test_diagnosis_score_and_pass_hat_k_by_hand() -> None:
    assert diagnosis_score(["checkout", "v2.2"], ["checkout", "v2.2"]) == 1.0
    assert diagnosis_score(["checkout", "v2.2", "redis", "node-3"], ["checkout", "v2.2"]) == 0.5
    assert diagnosis_score(["checkout"], ["checkout", "v2.2"]) == 0.0
    # one case with 2 successes in 3 trials: pass^1 = 2/3, pass^2 = C(2,2)/C(3,2) = 1/3, pass^3 = 0
    assert pass_hat_k({"a": [True, False, True]}) == pytest.approx({1: 2 / 3, 2: 1 / 3, 3: 0.0})


APPROVED = CASES / "am-checkout-approval-approved"
REJECTED = CASES / "gen-billing-approval-rejected"


def test_a_model_rollback_needing_approval_follows_the_cases_human() -> None:
    # approved by lead-oncall (who has rollback_permission): the rollback reaches the world.
    rollback = turn(call("version_rollback", service="checkout", namespace="shop", target="v7.2.0"))
    doc = run(APPROVED, rollback, answer("checkout", "v7.3.0"))
    assert doc["denied_calls"] == 0 and doc["mitigation_success"] == 1.0
    # rejected: the guard records the call as denied, nothing was made, abstention holds.
    rollback = turn(call("version_rollback", service="billing", namespace="finance", target="v7.2.0"))
    doc = run(REJECTED, rollback, answer("billing", "v7.3.0"))
    assert doc["denied_calls"] == 1 and doc["abstention"] == 1.0
