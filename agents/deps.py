"""The collaborators every node receives (LangGraph runtime context), built at the entry point."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from state.config import Settings
from state.incident import Decision, IncidentState, ToolCall
from tools.guard import ActionLog
from tools.history import HistoryReader
from tools.registry import ToolBackend, ToolSession

if TYPE_CHECKING:
    from agents.llm_calls import ModelGate

# Read-only tools each agent may call; mutating tools are reached only via the guard.
AGENT_TOOLS: dict[str, frozenset[str] | None] = {
    "diagnosis": None,
    "review": None,
    "verify": frozenset({"execute_query", "execute_range_query", "get_monitor_data"}),
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
    history: HistoryReader | None = None  # past incidents (recall, informed ladder); None = no history

    def session(
        self, agent: str, state: IncidentState, allowed: frozenset[str] | None = None, start_seq: int | None = None
    ) -> ToolSession:
        """A recording tool session for ``agent`` (its ``AGENT_TOOLS`` unless ``allowed``) continuing the calls."""
        return ToolSession(
            backend=self.tools,
            agent=agent,
            allowed=AGENT_TOOLS.get(agent) if allowed is None else allowed,
            start_seq=len(state.tool_calls) if start_seq is None else start_seq,
        )


class NodeUpdate:
    """One node's partial update: the one way a node appends decisions and records tool calls.

    Nodes return whole lists (no reducers), so every node extends ``decisions`` and
    ``tool_calls`` of the state it was given. A session opened here numbers its calls
    after the state's calls and after the calls this node already made; a call that never
    reached a tool (a guard denial) is numbered the same way. :meth:`build` writes
    ``tool_calls`` only when the node opened a session or recorded a call, and
    ``decisions`` only when it decided something.
    """

    def __init__(self, state: IncidentState, deps: Deps, node: str) -> None:
        self.state = state
        self.deps = deps
        self.node = node
        self._decisions: list[Decision] = []
        self._calls: list[ToolSession | ToolCall] = []  # in the order they were opened or recorded
        self._gates: list[ModelGate] = []

    @property
    def next_seq(self) -> int:
        """The sequence number the next recorded call gets."""
        return len(self.state.tool_calls) + len(self.calls())

    def session(self, agent: str, allowed: frozenset[str] | None = None) -> ToolSession:
        """A recording session for ``agent`` whose calls join this update."""
        session = self.deps.session(agent, self.state, allowed, self.next_seq)
        self._calls.append(session)
        return session

    def llm(self, agent: str) -> ModelGate | None:
        """A gate to the configured model for ``agent`` whose calls join this update (None offline)."""
        if self.deps.model is None:
            return None
        from agents.llm_calls import ModelGate

        done = sum(len(g.calls) for g in self._gates)
        gate = ModelGate(
            self.deps.model,
            agent,
            self.deps.settings,
            self.state,
            clock=self.deps.clock,
            on_call=lambda call: self.deps.on_event("model_call", call.model_dump(exclude={"request"})),
            start_seq=len(self.state.model_calls) + done,
        )
        if self._gates:  # a second gate of this node counts the first one's spending
            gate.spent_before(self._gates)
        self._gates.append(gate)
        return gate

    def record(self, call: ToolCall) -> ToolCall:
        """Add a call made without a session (a denial), numbered in sequence."""
        numbered = call.model_copy(update={"seq": self.next_seq})
        self._calls.append(numbered)
        return numbered

    def decide(self, summary: str, at: datetime | None = None) -> None:
        """Append a decision of this node (at ``at``, else the clock's now)."""
        self._decisions.append(Decision(at=at or self.deps.clock(), node=self.node, summary=summary))

    def calls(self) -> list[ToolCall]:
        """The calls this node made so far, in sequence."""
        out: list[ToolCall] = []
        for entry in self._calls:
            out.extend(entry.calls if isinstance(entry, ToolSession) else [entry])
        return out

    def build(self, **fields: Any) -> dict[str, Any]:
        """The update to return: ``fields`` plus the extended ``tool_calls`` and ``decisions``."""
        update = dict(fields)
        if self._calls:
            update["tool_calls"] = [*self.state.tool_calls, *self.calls()]
        if self._decisions:
            update["decisions"] = [*self.state.decisions, *self._decisions]
        if any(g.calls for g in self._gates):
            update["model_calls"] = [*self.state.model_calls, *(c for g in self._gates for c in g.calls)]
        return update
