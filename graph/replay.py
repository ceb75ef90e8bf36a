"""Step back through an incident: its checkpoint timeline, a deterministic re-run, a "what if" fork.

A re-run copies one checkpoint of the incident's thread into a NEW thread and runs it
from there with the recording (graph/recording.py): recorded tool answers, the
original's clock, no sleeping, the original's approvals and settings. The original
thread and the store are never written. The outcome (see :func:`outcome`) is compared
with the original's, and the first step where the two runs part is named.

A fork is the same re-run with ``--set key=value`` edits: ``policy.*`` and ``settings.*``
keys edit the settings of the re-run, any other key edits the copied state. Model answers
are served from the recording like tool answers; a fork with ``--live`` or ``--set llm.*``
asks a model anew.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import Checkpoint as LGCheckpoint
from langgraph.checkpoint.base import CheckpointMetadata
from langgraph.types import Command

from agents.deps import Deps
from agents.llm_calls import RecordedModel
from graph.compare import divergence, first_difference, outcome, outcome_diff, path_difference
from graph.edits import ReplayError, apply_settings_edits, apply_state_edits, parse_sets, split_edits
from graph.recording import NearTimeTools, RecordedClock, StepTime, recorded_settings, step_time
from graph.runner import RUN_SETTINGS_KEY, IncidentRunner
from graph.timeline import Checkpoint, timeline
from state.config import Settings
from state.incident import IncidentState, ModelCall
from tools.history import RecordedHistory
from tools.registry import RecordedTools, ToolBackend

__all__ = ["Checkpoint", "ReplayError", "ReplayResult", "find_checkpoint", "outcome", "replay", "timeline"]


@dataclass
class ReplayResult:
    """A re-run or fork and how it compares with the original."""

    incident: str
    from_checkpoint: str
    thread: str
    outcome: dict[str, Any]
    original: dict[str, Any]
    diverged_at: dict[str, Any] | None
    diff: list[str]
    edits: list[str] = field(default_factory=list)
    live: bool = False

    def public(self) -> dict[str, Any]:
        """The ``--json`` document."""
        doc: dict[str, Any] = {
            "incident": self.incident,
            "from_checkpoint": self.from_checkpoint,
            "outcome": self.outcome,
            "diverged_at": self.diverged_at,
            "thread": self.thread,
            "original": self.original,
            "diff": self.diff,
        }
        if self.edits or self.live:
            doc["fork"] = {"set": self.edits, "live": self.live}
        return doc


def find_checkpoint(entries: list[Checkpoint], selector: str) -> Checkpoint:
    """A checkpoint by id, unique id prefix, step number, or ``first``."""
    if selector == "first":
        return entries[0]
    exact = [c for c in entries if c.id == selector]
    if exact:
        return exact[0]
    if selector.isdigit() and len(selector) <= 4:
        by_step = [c for c in entries if c.step == int(selector)]
        if by_step:
            return by_step[-1]
    prefixed = [c for c in entries if c.id.startswith(selector)]
    if len(prefixed) == 1:
        return prefixed[0]
    raise ReplayError(f"--checkpoint: no checkpoint {selector!r} (see `alertpilot replay ID`)")


def _clock(entries: list[Checkpoint], start: Checkpoint) -> RecordedClock:
    times: list[StepTime] = []
    before: IncidentState | None = None
    for entry in entries:
        fallback = datetime.fromisoformat(entry.time) if entry.time else datetime.now(UTC)
        if entry.step > start.step:
            times.append(StepTime(entry.step, entry.node, step_time(before, entry.state, fallback)))
        before = entry.state
    default = step_time(None, start.state, datetime.fromisoformat(start.time) if start.time else datetime.now(UTC))
    return RecordedClock(times, default)


def _copy(runner: IncidentRunner, incident_id: str, start: Checkpoint, thread: str, values: dict[str, Any]) -> None:
    """Copy checkpoint ``start`` into a new thread, with edited channel values (no pending writes)."""
    saver = runner.graph.checkpointer
    assert saver is not None and not isinstance(saver, bool)
    source = RunnableConfig(configurable={"thread_id": incident_id, "checkpoint_ns": "", "checkpoint_id": start.id})
    found = saver.get_tuple(source)
    assert found is not None
    checkpoint: LGCheckpoint = {**found.checkpoint, "channel_values": {**found.checkpoint["channel_values"], **values}}
    # Checkpoint metadata carries extra keys (langgraph merges the run config's metadata in too).
    metadata = cast(
        CheckpointMetadata, {**found.metadata, "source": "fork", "forked_from": f"{incident_id}:{start.id}"}
    )
    target = RunnableConfig(configurable={"thread_id": thread, "checkpoint_ns": ""})
    saver.put(target, checkpoint, metadata, dict(checkpoint["channel_versions"]))


def _answers(entries: list[Checkpoint], start: Checkpoint) -> list[tuple[Any, str | None]]:
    """The approvals the original received from ``start`` on, each with the settings stamped after it."""
    found = []
    for index, entry in enumerate(entries):
        if entry.step < start.step:
            continue
        later = entries[index + 1] if index + 1 < len(entries) else entry
        for answer in entry.answers:
            found.append((answer, later.metadata.get(RUN_SETTINGS_KEY) or entry.metadata.get(RUN_SETTINGS_KEY)))
    return found


def replay_model(settings: Settings, answers: list[ModelCall], fresh: bool) -> Any:
    """The model of a re-run: the recorded answers, or (a fork with ``--live`` or ``--set llm.*``) a real one.

    A re-run of an incident that ran offline has no model; one that ran with a model is
    answered from its recorded calls, so it calls no model and reproduces the original.
    """
    if settings.llm.model.strip() == "offline":
        return None
    if not fresh:
        return RecordedModel(list(answers))
    from agents.brain import ModelConfigError, make_model

    try:
        return make_model(settings)
    except ModelConfigError as exc:
        raise ReplayError(f"--set: {exc}") from None


def replay(
    runner: IncidentRunner,
    incident_id: str,
    checkpoint: str,
    *,
    base: Settings,
    sets: list[str] | None = None,
    live_tools: ToolBackend | None = None,
    on_event: Any = None,
) -> ReplayResult:
    """Re-run ``incident_id`` from ``checkpoint`` in a new thread and compare it with the original."""
    entries = timeline(runner, incident_id)
    start = find_checkpoint(entries, checkpoint)
    pairs = parse_sets(sets or [])
    settings_edits, state_edits = split_edits(pairs)
    after = [c for c in entries if c.step > start.step]
    stamped = (after[0] if after else start).metadata.get(RUN_SETTINGS_KEY) or start.metadata.get(RUN_SETTINGS_KEY)
    settings = apply_settings_edits(recorded_settings(base, stamped), settings_edits)
    state = apply_state_edits(start.state, state_edits)
    thread = f"{incident_id}~{'fork' if pairs or live_tools else 'replay'}-{uuid.uuid4().hex[:8]}"
    calls = entries[-1].state.tool_calls[len(start.state.tool_calls) :]  # the ones made after the checkpoint
    if live_tools is not None:
        tools: ToolBackend = live_tools
        state = state.model_copy(update={"incident_id": thread})  # fresh idempotency keys for a live fork
    else:
        tools = RecordedTools(calls, fallback=NearTimeTools(calls))
    values = {name: getattr(state, name) for name in type(state).model_fields}
    _copy(runner, incident_id, start, thread, values)
    answers = entries[-1].state.model_calls[len(start.state.model_calls) :]
    fresh = live_tools is not None or any(key.split(".")[0] == "llm" for key, _ in settings_edits)
    model = replay_model(settings, answers, fresh)
    deps = Deps(
        settings=settings, tools=tools, model=model, on_event=on_event or (lambda _kind, _data: None),
        history=RecordedHistory(entries[-1].state.recall),  # the history the original read, not today's
    )  # fmt: skip
    if live_tools is None:  # recorded world: recorded time, no waiting; a live fork lives in real time
        deps = replace(deps, clock=_clock(entries, start), sleep=lambda _seconds: None)
    final, waiting = runner.run_side(thread, None, deps)
    for answer, stamp in _answers(entries, start):  # each resume under the settings the original resumed with
        if not waiting:
            break
        resumed = replace(deps, settings=apply_settings_edits(recorded_settings(base, stamp), settings_edits))
        final, waiting = runner.run_side(thread, Command(resume=answer), resumed)
    original = outcome(entries[-1].state, entries[-1].waiting)
    result = outcome(final, waiting)
    diff = outcome_diff(original, result)
    diverged = None
    if result != original:
        rerun = timeline(runner, thread)
        diverged = divergence(entries, rerun, state_edits)
        diff.extend(path_difference(entries, rerun))
        if diverged is None:
            path, old, new = first_difference(original, result) or ("outcome", original, result)
            diverged = {"step": None, "node": None, "field": path, "original": old, "replay": new, "because": {}}
    return ReplayResult(
        incident=incident_id,
        from_checkpoint=start.id,
        thread=thread,
        outcome=result,
        original=original,
        diverged_at=diverged,
        diff=diff,
        edits=[f"{k}={v}" for k, v in pairs],
        live=live_tools is not None,
    )
