"""The LLM brain: bounded models, the shared agent loop, its structured-output strategies and its faults."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from agents.brain import ModelConfigError, make_model
from agents.llm_calls import ModelGate, repeated_line
from agents.llm_loop import run_agent
from agents.llm_scope import Scope
from state.config import Settings
from tests.fakes import ScriptedModel, ToolRecorder, answer, tool_call
from tools.registry import ToolSession


class Lookup(BaseModel):
    key: str


class RepoArgs(BaseModel):
    owner: str
    repo: str
    pullNumber: int  # noqa: N815 - github-mcp-server's name


class Verdict(BaseModel):
    cause: str
    confidence: float


def _tools() -> ToolRecorder:
    return (
        ToolRecorder()
        .add("lookup", Lookup, lambda key: {"key": key, "value": "v2.2 shipped"}, description="Look a key up.")
        .add("pull_request_read", RepoArgs, lambda **a: {"title": "fix"}, description="Read a PR.")
        .add("delete_everything", Lookup, lambda key: "deleted", mutating=True, description="Mutating.")
    )


def _run(model: ScriptedModel, settings: Settings | None = None, scope: Scope | None = None) -> Any:
    tools = _tools()
    catalog = tools.registry()
    session = ToolSession(catalog, agent="diagnosis")
    gate = ModelGate(model, "diagnosis", settings or Settings())
    names = ["lookup", "pull_request_read", "delete_everything"]
    outcome = run_agent(gate, catalog, session, names, "sys", "why?", Verdict, scope=scope)
    return outcome, tools, session, gate


GOOD = {"cause": "v2.2", "confidence": 0.9}


def test_tools_are_bound_with_an_explicit_auto_choice_and_calls_are_recorded() -> None:
    model = ScriptedModel(responses=[tool_call("lookup", key="release"), answer(GOOD)])
    outcome, tools, session, gate = _run(model)
    assert outcome.output == Verdict(**GOOD)
    assert tools.calls == [("lookup", {"key": "release"})]
    assert [(c.tool, c.status) for c in session.calls] == [("lookup", "success")]
    assert model.bound[0] == {"tools": ["lookup", "pull_request_read"], "tool_choice": "auto"}  # no mutating tool
    assert [c.status for c in gate.calls] == ["success", "success"]
    assert gate.calls[0].tool_calls[0]["name"] == "lookup" and gate.calls[1].digest != gate.calls[0].digest


def test_json_object_is_the_default_strategy_and_one_repair_turn_fixes_a_bad_answer() -> None:
    model = ScriptedModel(responses=[AIMessage(content="It is the release."), answer({"cause": "v2.2"}), answer(GOOD)])
    outcome, *_ = _run(model)
    assert outcome.output == Verdict(**GOOD)
    assert {"type": "json_object"} in [o.get("response_format") for o in model.options]
    repair = model.seen[-1][-1].content
    assert "confidence" in repair and "invalid" in repair


def test_an_answer_still_invalid_after_the_repair_falls_back_naming_the_field() -> None:
    model = ScriptedModel(responses=[AIMessage(content="no json"), answer({"cause": "x"}), answer({"cause": "x"})])
    outcome, *_ = _run(model)
    assert outcome.output is None
    assert outcome.error == "answer invalid after one repair turn: confidence: Field required"


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("json_schema", {"type": "json_schema", "json_schema": {"name": "Verdict"}}),
        ("tool_calling", None),
    ],
)
def test_other_structured_output_strategies(strategy: str, expected: dict[str, Any] | None) -> None:
    settings = Settings(llm={"structured_output": strategy})
    final = tool_call("final_answer", **GOOD) if strategy == "tool_calling" else answer(GOOD)
    model = ScriptedModel(responses=[AIMessage(content="thinking"), final])
    outcome, *_ = _run(model, settings)
    assert outcome.output == Verdict(**GOOD)
    formats = [o.get("response_format") for o in model.options if o.get("response_format")]
    if expected is None:
        assert formats == [] and model.bound[-1] == {"tools": ["final_answer"], "tool_choice": "auto"}
    else:
        assert formats[0]["type"] == "json_schema" and formats[0]["json_schema"]["name"] == "Verdict"


def test_an_identical_call_is_not_run_twice_and_repeating_ends_the_investigation() -> None:
    model = ScriptedModel(
        responses=[
            tool_call("lookup", key="a"),
            tool_call("lookup", key="a"),
            tool_call("lookup", key="a"),
            answer(GOOD),
        ]
    )
    outcome, tools, session, _ = _run(model)
    assert tools.calls == [("lookup", {"key": "a"})]  # run once
    assert outcome.output == Verdict(**GOOD)
    told = [m.content for m in model.seen[2] if m.type == "tool"][-1]
    assert "already called lookup" in told


def test_a_cut_answer_is_refused_with_the_limit_named() -> None:
    model = ScriptedModel(responses=[answer(GOOD, finish_reason="length")])
    outcome, _, _, gate = _run(model, Settings(llm={"max_output_tokens": 64}))
    assert outcome.output is None
    assert outcome.error == "answer cut by the length limit (finish_reason length, llm.max_output_tokens 64)"
    assert gate.calls[0].finish_reason == "length"


def test_a_repeating_answer_is_refused() -> None:
    line = '{"cause": "&#34;v2.2&#34;", "confidence": 0.9}'
    model = ScriptedModel(responses=[AIMessage(content="\n".join([line] * 15))])
    outcome, *_ = _run(model)
    assert outcome.output is None and outcome.error.startswith("answer repeats itself")
    assert repeated_line("ok\nfine\nok") is None


def test_the_token_budget_stops_requests_before_they_are_sent() -> None:
    reply = AIMessage(content="", tool_calls=[{"name": "lookup", "args": {"key": "a"}, "id": "1"}],
                      usage_metadata={"input_tokens": 900, "output_tokens": 200, "total_tokens": 1100})  # fmt: skip
    model = ScriptedModel(responses=[reply, tool_call("lookup", key="b")])
    outcome, _, _, gate = _run(model, Settings(policy={"max_llm_tokens": 1000}))
    assert outcome.output is None
    assert outcome.error == "token budget spent: 1100 of policy.max_llm_tokens 1000"
    assert len(gate.calls) == 1


def test_a_tool_not_offered_and_another_repository_are_refused_and_recorded() -> None:
    model = ScriptedModel(
        responses=[
            tool_call("delete_everything", key="prod"),
            tool_call("pull_request_read", call_id="2", owner="john-doe", repo="x", pullNumber=1),
            tool_call("pull_request_read", call_id="3", owner="acme", repo="checkout", pullNumber=1),
            answer(GOOD),
        ]
    )
    outcome, tools, session, _ = _run(model, scope=Scope(repo="acme/checkout"))
    assert outcome.output == Verdict(**GOOD)
    assert [name for name, _ in tools.calls] == ["pull_request_read"]  # only the in-scope read ran
    denied = [(c.tool, c.error, c.mutating) for c in session.calls if c.status == "denied"]
    assert denied[0][0] == "delete_everything" and "not one of the tools offered" in denied[0][1] and denied[0][2]
    assert denied[1] == (
        "pull_request_read",
        "only this incident's repository acme/checkout may be read (asked for john-doe/x)",
        False,
    )


def test_offline_is_no_model_and_bad_specs_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_model(Settings()) is None
    with pytest.raises(ModelConfigError, match="llm.model"):
        make_model(Settings(llm={"model": "anthropic"}))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelConfigError, match="llm.api_key_env"):
        make_model(Settings(llm={"model": "openai:gpt-4o-mini"}))


def test_an_unknown_provider_names_the_field() -> None:
    with pytest.raises(ModelConfigError, match="llm.model"):
        make_model(Settings(llm={"model": "nosuchprovider:model-x"}))


def test_models_are_built_bounded_and_a_local_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    llm = {"model": "openai:smollm2", "base_url": "http://127.0.0.1:8080/v1", "timeout_s": 7, "max_retries": 1,
           "max_output_tokens": 256}  # fmt: skip
    model = make_model(Settings(llm=llm))
    assert model.request_timeout == 7 and model.max_retries == 1 and model.max_tokens == 256
    payload = model._get_request_payload(
        [AIMessage(content="", tool_calls=[{"name": "lookup", "args": {}, "id": "1"}])]
    )
    assert payload["messages"][0]["content"] == ""  # never null: some servers answer 500 to it
    assert payload["max_tokens"] == 256 and "max_completion_tokens" not in payload


def test_a_tool_loop_is_recorded_turn_by_turn_not_whole_each_time() -> None:
    model = ScriptedModel(
        responses=[tool_call("lookup", key="a"), tool_call("lookup", call_id="2", key="b"), answer(GOOD)]
    )
    _, _, _, gate = _run(model)
    first, second, third = gate.calls
    assert "continues" not in first.request and len(first.request["messages"]) == 2  # system + task
    assert second.request["continues"] == first.seq and [m["role"] for m in second.request["messages"]] == [
        "ai",
        "tool",
    ]
    assert third.request["continues"] == second.seq
    assert len({first.digest, second.digest, third.digest}) == 3
