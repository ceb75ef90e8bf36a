"""What a replay needs from the original run: its clock, its tool answers, its approvals, its settings.

A re-run from a checkpoint re-executes nodes (DESIGN §7), so everything a node reads
from outside the state must come from the recording for the run to be deterministic:

- tool answers come from the recorded ``tool_calls`` (:class:`tools.registry.RecordedTools`),
  with a second chance for calls whose only difference is a timestamp argument a node
  derived from its clock (:class:`NearTimeTools`);
- the clock answers, for each (step, node) the original ran, the time that node
  recorded (:class:`RecordedClock`); sleeping is a no-op;
- approvals are answered with the answers the original thread received;
- settings are the ones stamped on the original checkpoints (graph.runner.run_settings).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from state.config import Settings
from state.incident import IncidentState, ToolCall
from tools.registry import ToolBackend, ToolResult

TIME_TOLERANCE_S = 120.0
NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"
RESUME = "__resume__"


def _as_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10 or "-" not in value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def near(recorded: dict[str, Any], asked: dict[str, Any], tolerance_s: float = TIME_TOLERANCE_S) -> bool:
    """Same arguments, except timestamps that may differ by up to ``tolerance_s`` seconds."""
    if recorded.keys() != asked.keys():
        return False
    for key, value in recorded.items():
        other = asked[key]
        if value == other:
            continue
        a, b = _as_time(value), _as_time(other)
        if a is None or b is None or a.tzinfo is None or b.tzinfo is None:
            return False
        if abs((a - b).total_seconds()) > tolerance_s:
            return False
    return True


class NearTimeTools:
    """Second-chance matching of recorded calls whose timestamps moved within a tolerance.

    A node that derives a query window from its clock asks for ``end=<now>``; the replay
    clock returns the time the node recorded, a few microseconds after the original
    ``now``. Anything else that differs is answered ``not_recorded`` (or by ``fallback``).
    """

    def __init__(self, calls: Iterable[ToolCall], fallback: ToolBackend | None = None) -> None:
        self._calls = list(calls)
        self._used: set[int] = set()
        self._fallback = fallback

    def has(self, name: str) -> bool:
        """Whether ``name`` was recorded (or the fallback knows it)."""
        return any(c.tool == name for c in self._calls) or bool(self._fallback and self._fallback.has(name))

    def is_mutating(self, name: str) -> bool:
        """Whether ``name`` was recorded as mutating (or the fallback says so)."""
        if any(c.tool == name and c.mutating for c in self._calls):
            return True
        return bool(self._fallback and self._fallback.is_mutating(name))

    def invoke(self, name: str, args: dict[str, Any]) -> ToolResult:
        """The first unused recorded call that matches within tolerance (else the last used one)."""
        matches = [i for i, c in enumerate(self._calls) if c.tool == name and near(c.args, args)]
        fresh = [i for i in matches if i not in self._used]
        if fresh or matches:
            index = fresh[0] if fresh else matches[-1]
            self._used.add(index)
            call = self._calls[index]
            return ToolResult(status=call.status, data=call.result, error=call.error)
        if self._fallback is not None:
            return self._fallback.invoke(name, args)
        return ToolResult(status="not_recorded", error=f"{name}({json.dumps(args, sort_keys=True)}) was not recorded")


@dataclass(frozen=True)
class StepTime:
    """The time the original run's node ``node`` recorded at ``step``."""

    step: int
    node: str
    at: datetime


class RecordedClock:
    """A clock that gives every (step, node) the time the original recorded for it.

    Nodes read the step and node from LangGraph's run config. A step the original never
    ran (a fork that went further) gets the latest original time at or before it, so
    the clock is fixed and never reads the wall clock.
    """

    def __init__(self, times: list[StepTime], default: datetime) -> None:
        self._times = sorted(times, key=lambda t: t.step)
        self._default = default

    def __call__(self) -> datetime:
        """The recorded time of the running node."""
        step, node = _running()
        if step is None:
            return self._times[-1].at if self._times else self._default
        for entry in self._times:
            if entry.step == step and entry.node == node:
                return entry.at
        earlier = [t.at for t in self._times if t.step <= step]
        return max(earlier) if earlier else self._default


def _running() -> tuple[int | None, str | None]:
    from langgraph.config import get_config

    try:
        metadata = get_config().get("metadata") or {}
    except RuntimeError:  # called outside a graph run
        return None, None
    step = metadata.get("langgraph_step")
    return (int(step) if step is not None else None), metadata.get("langgraph_node")


def step_time(before: IncidentState | None, after: IncidentState, fallback: datetime) -> datetime:
    """The first clock reading a node left in the state it wrote (decision, notification, attempt)."""
    seen: list[datetime] = []
    old_decisions = len(before.decisions) if before else 0
    seen.extend(d.at for d in after.decisions[old_decisions:])
    old_notes = len(before.notifications) if before else 0
    for note in after.notifications[old_notes:]:
        at = _as_time(note.get("at"))
        if at is not None:
            seen.append(at)
    old_attempts = len(before.attempts) if before else 0
    seen.extend(a.started_at for a in after.attempts[old_attempts:])
    return min(seen) if seen else fallback


def recorded_answers(pending_writes: Iterable[tuple[str, str, Any]]) -> list[Any]:
    """The approval answers a checkpoint received (``Command(resume=...)``), in order."""
    answers = [value for task, channel, value in pending_writes if channel == RESUME and task == NULL_TASK_ID]
    if answers:
        return answers
    for _task, channel, value in pending_writes:
        if channel == RESUME:
            answers.extend(value if isinstance(value, list) else [value])
    return answers


def recorded_settings(base: Settings, stamped: str | None) -> Settings:
    """``base`` (home, database) with the behaviour-relevant settings the original ran under."""
    if not stamped:
        return base
    data = json.loads(stamped)
    update: dict[str, Any] = {}
    for name, value in data.items():
        field = Settings.model_fields.get(name)
        if field is not None:
            update[name] = TypeAdapter(field.annotation).validate_python(value)  # type: ignore[arg-type]
    return base.model_copy(update=update)
