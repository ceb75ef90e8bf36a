"""The LLM agent loop with a scripted chat model: tool calls are recorded, answers typed."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from agents.brain import ModelConfigError, make_model, run_agent
from state.config import Settings
from tests.fakes import ScriptedModel, ToolRecorder
from tools.registry import ToolSession


class Lookup(BaseModel):
    key: str


class Verdict(BaseModel):
    cause: str
    confidence: float


def _tools() -> ToolRecorder:
    return (
        ToolRecorder()
        .add("lookup", Lookup, lambda key: {"key": key, "value": "v2.2 shipped"}, description="Look a key up.")
        .add("delete_everything", Lookup, lambda key: "deleted", mutating=True, description="Mutating.")
    )


def test_agent_calls_tools_through_the_session_and_returns_typed_output() -> None:
    tools = _tools()
    catalog = tools.registry()
    session = ToolSession(catalog, agent="diagnosis")
    model = ScriptedModel(
        responses=[
            AIMessage(content="", tool_calls=[{"name": "lookup", "args": {"key": "release"}, "id": "c1"}]),
            AIMessage(
                content="", tool_calls=[{"name": "Verdict", "args": {"cause": "v2.2", "confidence": 0.9}, "id": "c2"}]
            ),
        ]
    )
    outcome = run_agent(model, catalog, session, ["lookup", "delete_everything"], "sys", "why?", Verdict)
    assert outcome.output == Verdict(cause="v2.2", confidence=0.9)
    assert tools.calls == [("lookup", {"key": "release"})]
    assert [(c.tool, c.args, c.status) for c in session.calls] == [("lookup", {"key": "release"}, "success")]


def test_mutating_tools_are_never_offered_to_a_model() -> None:
    tools = _tools()
    catalog = tools.registry()
    session = ToolSession(catalog, agent="diagnosis")
    model = ScriptedModel(
        responses=[
            AIMessage(content="", tool_calls=[{"name": "delete_everything", "args": {"key": "prod"}, "id": "c1"}]),
            AIMessage(
                content="", tool_calls=[{"name": "Verdict", "args": {"cause": "x", "confidence": 0.1}, "id": "c2"}]
            ),
        ]
    )
    run_agent(model, catalog, session, ["lookup", "delete_everything"], "sys", "go", Verdict)
    assert [name for name, _ in tools.calls] == []  # the mutating tool never ran


def test_offline_is_no_model_and_bad_specs_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_model(Settings()) is None
    with pytest.raises(ModelConfigError, match="llm.model"):
        make_model(Settings(llm={"model": "anthropic"}))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelConfigError, match="llm.api_key_env"):
        make_model(Settings(llm={"model": "openai:gpt-4o-mini"}))
