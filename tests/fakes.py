"""Test doubles shared by the suite: a scripted chat model and a tool recorder.

Both are real implementations of the interfaces the code takes (a LangChain chat model,
a :class:`tools.registry.ToolRegistry` of :class:`~tools.registry.Tool`), passed in as
collaborators; nothing of ours is patched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, Field

from tools.registry import Tool, ToolRegistry


class ScriptedModel(FakeMessagesListChatModel):
    """Replays scripted messages in order (cycling); remembers what it was shown and how it was bound.

    ``bound`` keeps each ``bind_tools`` call's tool names and ``tool_choice``; ``options``
    keeps each request's keyword options (``response_format``...).
    """

    seen: list[list[BaseMessage]] = Field(default_factory=list)
    bound: list[dict[str, Any]] = Field(default_factory=list)
    options: list[dict[str, Any]] = Field(default_factory=list)
    accepts_response_format: bool = True  # like an OpenAI-compatible client (agents/llm_calls.py)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        names = [t["function"]["name"] if isinstance(t, dict) else getattr(t, "name", str(t)) for t in tools]
        self.bound.append({"tools": names, "tool_choice": kwargs.get("tool_choice")})
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
        self.seen.append(messages)
        self.options.append(dict(kwargs))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def answer(data: dict[str, Any], **metadata: Any) -> Any:
    """An AIMessage whose content is ``data`` as JSON (a json_object answer), with response metadata."""
    import json

    from langchain_core.messages import AIMessage

    return AIMessage(content=json.dumps(data), response_metadata=metadata)


def tool_call(name: str, call_id: str = "call-1", **args: Any) -> Any:
    """An AIMessage that calls tool ``name`` with ``args``."""
    from langchain_core.messages import AIMessage

    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


class ToolRecorder:
    """Tools whose answers a test scripts; every call is kept in :attr:`calls` as (tool, args)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._tools: list[Tool] = []

    def add(
        self, name: str, input_model: type[BaseModel], answer: Callable[..., Any], *, mutating: bool = False,
        description: str = "",
    ) -> ToolRecorder:  # fmt: skip
        """Add tool ``name`` answering ``answer(**args)``; returns self to chain."""

        def handler(**args: Any) -> Any:
            self.calls.append((name, args))
            return answer(**args)

        self._tools.append(Tool(name, description or name, input_model, handler, mutating=mutating))
        return self

    def registry(self) -> ToolRegistry:
        """A registry of the tools added so far."""
        return ToolRegistry(list(self._tools))
