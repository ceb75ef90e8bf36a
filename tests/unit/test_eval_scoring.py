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
# the demo's true root cause: the service and the bad release
ROOT_CAUSE = ("checkout", "v2.2")


def run(case_dir: Path, *responses: AIMessage) -> dict[str, Any]:
    model = ScriptedModel(responses=list(responses))
    result = run_eval([load_case(case_dir)], model=model, model_name="scripted", agent="react")
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


def test_rates_over_zero_calls_are_not_applicable() -> None:
    # The model answers at once: nothing made on a Noop case where nothing was expected.
    doc = run(NOOP, answer("cart"))
    assert doc["valid_tool_name_rate"] is None and doc["schema_validity"] is None
    assert doc["argument_accuracy"] is None and doc["mcp_call_accuracy"] == 1.0  # nothing to get wrong
    assert doc["abstention"] == 1.0


def test_a_model_looping_one_successful_read_is_not_credited_for_the_repeats() -> None:
    # 20 identical reads: the first pairs with the expected execute_query (wrong arguments), the 19
    # repeats add nothing (counted as correct extra reads they made it 19/23); 2 reads and the
    # rollback missed → 0 correct of 20 made + 3 missed.
    loop = turn(call("execute_query", query='build_info{service="checkout"}'))
    doc = run(DEMO, *([loop] * 20), answer("checkout"))
    assert doc["mcp_call_accuracy"] == 0.0
    assert doc["read_recall"] == 0.0
    assert "execute_query: repeated identical read" in doc["cases"][0]["notes"]


def test_reading_again_after_an_action_is_verifying_not_repeating() -> None:
    doc = run(DEMO, INVESTIGATE, VERIFY, ROLLBACK, VERIFY, answer(*ROOT_CAUSE))
    # the pre-action re-read repeats INVESTIGATE's first query (incorrect); the post-action one is credited: 5/6
    assert doc["mcp_call_accuracy"] == pytest.approx(5 / 6)


def test_the_graph_with_a_model_is_what_eval_scores_by_default() -> None:
    from tests.fakes import answer as json_answer

    diagnosis = {"summary": "v2.2 broke checkout", "root_cause": "release v2.2", "suspected_release": "v2.2",
                 "known_good_release": "v2.1", "release_confidence": 0.9, "evidence": ["version change"]}  # fmt: skip
    model = ScriptedModel(responses=[json_answer(diagnosis), ROLLBACK])
    doc = run_eval([load_case(DEMO)], model=model, model_name="scripted").document()
    assert doc["agent"] == "graph" and doc["cases"][0]["status"] == "resolved"
    episode = doc["cases"][0]["episodes"][0]
    assert episode["model_calls"] == 2 and {c["agent"] for c in episode["calls"]} >= {"diagnosis", "rollback"}
    assert doc["model_calls_per_episode"] == 2.0 and doc["mitigation_success"] == 1.0


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


def test_the_json_says_which_call_paired_with_which_expectation_and_why_not() -> None:
    wrong = turn(call("version_rollback", service="checkout", namespace="shop", target="v2.0"))
    skip_versions = turn(*INVESTIGATE.tool_calls[:2])  # the build_info read is never made
    doc = run(DEMO, skip_versions, wrong, VERIFY, answer(*ROOT_CAUSE))
    (episode,) = doc["cases"][0]["episodes"]
    assert [(c["seq"], c["tool"], c["agent"], c["status"]) for c in episode["calls"]][:2] == [
        (0, "execute_query", "model", "success"),
        (1, "execute_range_query", "model", "success"),
    ]
    assert episode["calls"][2]["args"] == {"service": "checkout", "namespace": "shop", "target": "v2.0"}
    assert [m["tool"] for m in episode["expected"]["mutations"]] == ["version_rollback"]
    pairing = {p["expected"]: p for p in episode["pairing"] if p["expected"]}
    assert pairing["reads[0]"]["call"] == 0 and pairing["reads[0]"]["correct"]
    rollback = pairing["mutations[0]"]
    assert rollback["call"] == 2 and not rollback["correct"]
    assert rollback["why"] == 'target: "v2.0" does not match "v2.1"'
    missed = pairing["reads[2]"]
    assert missed["kind"] == "missed" and missed["call"] is None
    assert missed["why"] == "#1 paired with reads[1]"  # the only range query made answered another expectation
    extra = [p for p in episode["pairing"] if p["expected"] is None]
    assert [(p["tool"], p["correct"]) for p in extra] == [("execute_query", True)]  # verify's read: a valid extra


def test_an_offline_episode_carries_the_incidents_decisions() -> None:
    doc = run_eval([load_case(DEMO)]).document()
    (episode,) = doc["cases"][0]["episodes"]
    nodes = [d["node"] for d in episode["decisions"]]
    assert nodes[:3] == ["ingest", "triage", "diagnose"] and "execute" in nodes and "verify" in nodes
    assert episode["incident"].startswith("inc-") and episode["status"] == "resolved"
    assert {c["agent"] for c in episode["calls"]} >= {"diagnosis", "rollback"}


def test_a_model_client_that_raises_is_a_failed_episode_not_a_crashed_run() -> None:
    class Broken(ScriptedModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
            raise ConnectionError("connection refused")

    result = run_eval(
        [load_case(DEMO), load_case(NOOP)], model=Broken(responses=[]), model_name="broken", agent="react"
    )
    assert len(result.scores) == 2 and not any(s.success for s in result.scores)
    assert result.scores[0].error.startswith("episode failed at test_eval_scoring.py:")
    assert result.scores[0].error.endswith("ConnectionError: connection refused")


def test_a_read_with_the_wrong_arguments_says_which_matcher_failed() -> None:
    wrong_versions = turn(
        *INVESTIGATE.tool_calls[:2], call("execute_range_query", query='build_info{service="cart"}', **WINDOW)
    )
    doc = run(DEMO, wrong_versions, ROLLBACK, VERIFY, answer(*ROOT_CAUSE))
    pairing = {p["expected"]: p for p in doc["cases"][0]["episodes"][0]["pairing"] if p["expected"]}
    versions = pairing["reads[2]"]
    assert (versions["call"], versions["kind"], versions["note"]) == (2, "read", "wrong arguments")
    assert (
        versions["why"]
        == 'query: "build_info{service=\\"cart\\"}" does not match {"promql": "build_info{service=\\"checkout\\"}"}'
    )
