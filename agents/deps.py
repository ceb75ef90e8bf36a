"""The collaborators every node receives (LangGraph runtime context), built at the entry point."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from state.config import Settings
from state.incident import IncidentState, ToolCall
from tools.guard import ActionLog
from tools.registry import ToolBackend, ToolSession

# Read-only tools each agent may call; mutating tools are reached only via the guard.
AGENT_TOOLS: dict[str, frozenset[str] | None] = {
    "diagnosis": None,
    "review": None,
    "verify": frozenset({"execute_query", "execute_range_query"}),
}


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


@dataclass
class Deps:
    """What a node may use: settings, the tools, a clock, a sleeper and (optionally) a model."""

    settings: Settings
    tools: ToolBackend
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep
    model: Any = None
    durable_timers: bool = False  # under `serve`/`worker`: waits become interrupts a worker resumes later
    on_event: Callable[[str, dict[str, Any]], None] = field(default=lambda _kind, _data: None)
    actions: ActionLog | None = None  # executed actions per service (rate limit); None = this incident's only

    def session(self, agent: str, state: IncidentState) -> ToolSession:
        """A recording tool session for ``agent`` continuing the state's call sequence."""
        return ToolSession(
            backend=self.tools,
            agent=agent,
            allowed=AGENT_TOOLS.get(agent),
            start_seq=len(state.tool_calls),
        )


def recorded(state: IncidentState, calls: list[ToolCall]) -> list[ToolCall]:
    """The state's tool calls with ``calls`` appended (nodes return whole lists)."""
    return [*state.tool_calls, *calls]
