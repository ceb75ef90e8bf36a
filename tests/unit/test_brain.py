"""The LLM agent loop with a scripted chat model: tool calls are recorded, answers typed."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from agents.brain import ModelConfigError, make_model, run_agent
from state.config import Settings
from tools.registry import Tool, ToolRegistry, ToolSession


class ScriptedModel(FakeMessagesListChatModel):
    """Replays scripted messages; tool binding is a no-op."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self


class Lookup(BaseModel):
    key: str


class Verdict(BaseModel):
    cause: str
    confidence: float


def _catalog(log: list[str]) -> ToolRegistry:
    def lookup(key: str) -> dict[str, str]:
        log.append(key)
        return {"key": key, "value": "v2.2 shipped"}

    def delete_everything(key: str) -> str:
        log.append(f"DELETE {key}")
        return "deleted"

    return ToolRegistry(
        [
            Tool("lookup", "Look a key up.", Lookup, lookup),
            Tool("delete_everything", "Mutating.", Lookup, delete_everything, mutating=True),
        ]
    )


def test_agent_calls_tools_through_the_session_and_returns_typed_output() -> None:
    log: list[str] = []
    catalog = _catalog(log)
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
    assert log == ["release"]
    assert [(c.tool, c.args, c.status) for c in session.calls] == [("lookup", {"key": "release"}, "success")]


def test_mutating_tools_are_never_offered_to_a_model() -> None:
    log: list[str] = []
    catalog = _catalog(log)
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
    assert "DELETE prod" not in log


def test_offline_is_no_model_and_bad_specs_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_model(Settings()) is None
    with pytest.raises(ModelConfigError, match="llm.model"):
        make_model(Settings(llm={"model": "anthropic"}))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelConfigError, match="llm.api_key_env"):
        make_model(Settings(llm={"model": "openai:gpt-4o-mini"}))
