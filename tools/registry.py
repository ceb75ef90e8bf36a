"""Tool registry and recording sessions: the only way agents reach the world.

A :class:`Tool` is a typed function with a pydantic input model. Agents call tools
through a :class:`ToolSession`, which validates arguments, applies the agent's
allowlist, records every call (for the report, replay and evals), and turns provider
failures into a result a model or a person can act on instead of an exception.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from state.incident import ToolCall, ToolStatus
from tools import tracing


class ToolError(Exception):
    """A provider failure the caller should see as a failed tool result, not a crash."""


class ToolResult(BaseModel):
    """What a tool answered: a status, its data, and an actionable error message."""

    status: ToolStatus
    data: Any = None
    error: str = ""

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == "success"


@dataclass(frozen=True)
class Tool:
    """A named, typed capability; ``mutating`` tools must pass the guard."""

    name: str
    description: str
    input_model: type[BaseModel]
    handler: Callable[..., Any]
    mutating: bool = False

    def input_schema(self) -> dict[str, Any]:
        """JSON schema of the tool's arguments."""
        return self.input_model.model_json_schema()


class ToolBackend(Protocol):
    """Something that answers tool calls: the live registry or a recording."""

    def invoke(self, name: str, args: dict[str, Any]) -> ToolResult:
        """Run tool ``name`` with ``args``."""
        ...

    def has(self, name: str) -> bool:
        """Whether tool ``name`` exists."""
        ...

    def is_mutating(self, name: str) -> bool:
        """Whether tool ``name`` changes the world."""
        ...


class ToolRegistry:
    """Live tools by name."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        """Register ``tool``; a second tool with the same name replaces the first."""
        self._tools[tool.name] = tool

    def get(self, name: str) -> Tool:
        """The tool called ``name``."""
        return self._tools[name]

    def has(self, name: str) -> bool:
        """Whether tool ``name`` exists."""
        return name in self._tools

    def is_mutating(self, name: str) -> bool:
        """Whether tool ``name`` changes the world."""
        return name in self._tools and self._tools[name].mutating

    def names(self) -> list[str]:
        """All tool names, sorted."""
        return sorted(self._tools)

    def tools(self) -> list[Tool]:
        """All tools, sorted by name."""
        return [self._tools[name] for name in self.names()]

    def invoke(self, name: str, args: dict[str, Any]) -> ToolResult:
        """Validate ``args`` and run the tool; failures come back as error results."""
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(status="error", error=f"unknown tool {name!r}; known: {self.names()}")
        try:
            parsed = tool.input_model.model_validate(args)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "args"
            return ToolResult(status="error", error=f"invalid argument {where}: {first['msg']}")
        try:
            data = tool.handler(**parsed.model_dump())
        except ToolError as exc:
            return ToolResult(status="error", error=str(exc))
        return ToolResult(status="success", data=data)


def canonical_args(args: dict[str, Any]) -> str:
    """A stable text form of arguments, for matching recorded calls."""
    return json.dumps(args, sort_keys=True, default=str, ensure_ascii=False)


@dataclass
class ToolSession:
    """One agent's view of the tools during one node run; records every call.

    ``allowed`` is the agent's allowlist (None = every read-only tool). Mutating tools
    are never callable from a session unless explicitly allowed: the rollback path
    reaches them only through the guard node.
    """

    backend: ToolBackend
    agent: str
    allowed: frozenset[str] | None = None
    start_seq: int = 0
    calls: list[ToolCall] = field(default_factory=list)

    def call(self, name: str, **args: Any) -> ToolResult:
        """Call tool ``name`` with keyword ``args`` and record it."""
        mutating = self.backend.is_mutating(name)
        started = time.perf_counter()
        if not self._permitted(name, mutating):
            result = ToolResult(status="denied", error=f"tool {name!r} is not allowed for agent {self.agent}")
        else:
            with tracing.span(f"execute_tool {name}", {"gen_ai.tool.name": name, "alertpilot.agent": self.agent}) as sp:
                result = self.backend.invoke(name, args)
                if sp is not None:
                    sp.set_attribute("alertpilot.tool.status", result.status)
        self.calls.append(
            ToolCall(
                seq=self.start_seq + len(self.calls),
                agent=self.agent,
                tool=name,
                args=args,
                status=result.status,
                result=result.data,
                error=result.error,
                mutating=mutating,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        )
        return result

    def _permitted(self, name: str, mutating: bool) -> bool:
        if self.allowed is not None:
            return name in self.allowed
        return not mutating


class RecordedTools:
    """Answers tool calls from a recording (replay, recorded eval worlds): no side effects.

    Calls are matched by tool name and canonical arguments, in recorded order; a call
    that was never recorded answers ``not_recorded`` instead of reaching the world.
    """

    def __init__(self, calls: Iterable[ToolCall], fallback: ToolBackend | None = None) -> None:
        self._queue: dict[tuple[str, str], list[ToolCall]] = {}
        self._mutating: set[str] = set()
        self._names: set[str] = set()
        for call in calls:
            self._queue.setdefault((call.tool, canonical_args(call.args)), []).append(call)
            self._names.add(call.tool)
            if call.mutating:
                self._mutating.add(call.tool)
        self._fallback = fallback

    def has(self, name: str) -> bool:
        """Whether ``name`` was recorded (or the fallback knows it)."""
        return name in self._names or bool(self._fallback and self._fallback.has(name))

    def is_mutating(self, name: str) -> bool:
        """Whether ``name`` was recorded as mutating (or the fallback says so)."""
        if name in self._mutating:
            return True
        return bool(self._fallback and self._fallback.is_mutating(name))

    def invoke(self, name: str, args: dict[str, Any]) -> ToolResult:
        """The recorded answer to this call, or ``not_recorded``."""
        key = (name, canonical_args(args))
        queue = self._queue.get(key)
        if queue:
            call = queue.pop(0) if len(queue) > 1 else queue[0]
            return ToolResult(status=call.status, data=call.result, error=call.error)
        if self._fallback is not None:
            return self._fallback.invoke(name, args)
        return ToolResult(status="not_recorded", error=f"{name}({key[1]}) was not recorded")
