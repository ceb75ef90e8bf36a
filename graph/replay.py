"""Step back through an incident: its checkpoint timeline, a deterministic re-run, a "what if" fork.

A re-run copies one checkpoint of the incident's thread into a NEW thread and runs it
from there with the recording (graph/recording.py): recorded tool answers, the
original's clock, no sleeping, the original's approvals and settings. The original
thread and the store are never written. The outcome (see :func:`outcome`) is compared
with the original's, and the first step where the two runs part is named.

A fork is the same re-run with ``--set key=value`` edits: ``policy.*`` and ``settings.*``
keys edit the settings of the re-run, any other key edits the copied state.
"""

from __future__ import annotations

import difflib
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any

import yaml
from langgraph.types import Command, StateSnapshot
from pydantic import BaseModel, TypeAdapter, ValidationError

from agents.deps import Deps
from graph.recording import (
    NearTimeTools,
    RecordedClock,
    StepTime,
    recorded_answers,
    recorded_settings,
    step_time,
)
from graph.runner import RUN_SETTINGS_KEY, IncidentRunner
from state.config import Settings
from state.incident import IncidentState
from tools.registry import RecordedTools, ToolBackend

# State fields whose changes the timeline shows and the divergence check compares.
TRACKED = ("status", "triage", "diagnosis", "findings", "review", "report", "pending", "guard", "attempts")


class ReplayError(ValueError):
    """Bad replay input (unknown checkpoint, bad --set); the message names the field."""


@dataclass
class Checkpoint:
    """One checkpoint of a thread, as the timeline shows it."""

    id: str
    step: int
    node: str
    time: str
    changes: dict[str, Any]
    state: IncidentState = field(repr=False)
    metadata: dict[str, Any] = field(repr=False, default_factory=dict)
    answers: list[Any] = field(repr=False, default_factory=list)
    waiting: bool = False

    def public(self) -> dict[str, Any]:
        """The ``--json`` shape: id, step, node, time, changes."""
        return {"id": self.id, "step": self.step, "node": self.node, "time": self.time, "changes": self.changes}


# ---------------------------------------------------------------------- timeline


def _state(values: Any) -> IncidentState:
    return values if isinstance(values, IncidentState) else IncidentState.model_validate(values)


def _node(snapshot: StateSnapshot, previous: StateSnapshot | None) -> str:
    source = (snapshot.metadata or {}).get("source")
    if source in ("update", "fork"):
        return source
    if previous is None or (previous.metadata or {}).get("step", -1) < 0:
        return "start"
    return ",".join(previous.next) or "?"


def timeline(runner: IncidentRunner, thread_id: str) -> list[Checkpoint]:
    """The thread's checkpoints that hold a state (step ≥ 0), oldest first, with what each changed."""
    snapshots = runner.history(thread_id)
    if not snapshots:
        raise KeyError(thread_id)
    saver = runner.graph.checkpointer
    entries: list[Checkpoint] = []
    previous: StateSnapshot | None = None
    before: IncidentState | None = None
    for snapshot in snapshots:
        metadata = dict(snapshot.metadata or {})
        step = int(str(metadata.get("step", -1)))
        if step < 0 or not snapshot.values:
            previous = snapshot
            continue
        state = _state(snapshot.values)
        node = _node(snapshot, previous)
        writes = saver.get_tuple(snapshot.config).pending_writes if saver is not None else None  # type: ignore[union-attr]
        entries.append(
            Checkpoint(
                id=str(snapshot.config["configurable"]["checkpoint_id"]),
                step=step,
                node=node,
                time=snapshot.created_at or "",
                changes=changes(before, state, waiting=bool(snapshot.interrupts)),
                state=state,
                metadata=metadata,
                answers=recorded_answers(writes or []),
                waiting=bool(snapshot.interrupts),
            )
        )
        previous, before = snapshot, state
    return entries


def changes(before: IncidentState | None, after: IncidentState, *, waiting: bool = False) -> dict[str, Any]:
    """What a step changed: triage, findings, report, attempts, decisions, approvals (and status)."""
    out: dict[str, Any] = {}
    old = before or IncidentState(incident_id=after.incident_id, alert=after.alert, status=after.status)
    if before is None or old.status != after.status:
        out["status"] = after.status
    if after.triage and old.triage != after.triage:
        t = after.triage
        out["triage"] = {"score": t.score, "tier": t.tier, "budget": t.budget, "actionable": t.actionable}
    if after.diagnosis and old.diagnosis != after.diagnosis:
        out["diagnosis"] = after.diagnosis.summary
    if len(after.findings) > len(old.findings):
        out["findings"] = [f.title for f in after.findings[len(old.findings) :]]
    if after.review and old.review != after.review:
        out["review"] = f"{after.review.status} {after.review.reason}".strip()
    if after.report and old.report != after.report:
        out["report"] = {"status": after.report.status, "promQL": len(after.report.prom_ql)}
    if after.pending and old.pending != after.pending:
        out["plan"] = after.pending.reason
    if after.attempts != old.attempts:
        out["attempts"] = [_attempt_line(a) for a in after.attempts if a not in old.attempts]
    if len(after.decisions) > len(old.decisions):
        out["decisions"] = [f"{d.node}: {d.summary}" for d in after.decisions[len(old.decisions) :]]
    approvals = _approvals(old, after, waiting)
    if approvals:
        out["approvals"] = approvals
    if len(after.tool_calls) > len(old.tool_calls):
        out["tool_calls"] = [f"{c.tool} → {c.status}" for c in after.tool_calls[len(old.tool_calls) :]]
    if after.escalation_reason and after.escalation_reason != old.escalation_reason:
        out["escalation"] = after.escalation_reason
    if len(after.notifications) > len(old.notifications):
        out["notifications"] = [str(n.get("message", ""))[:120] for n in after.notifications[len(old.notifications) :]]
    return out


def _attempt_line(attempt: Any) -> dict[str, Any]:
    result = attempt.result or {}
    return {
        "n": attempt.n,
        "rung": attempt.rung,
        "action": attempt.action,
        "result": result.get("status"),
        "verified": attempt.verified,
    }


def _approvals(old: IncidentState, after: IncidentState, waiting: bool) -> list[str]:
    notes = []
    guard = after.guard
    if guard and guard != old.guard and guard.needs_approval:
        notes.append(guard.reason)
    if waiting and after.pending:
        notes.append(f"waiting for approval of {after.pending.operation} (rung {after.pending.rung})")
    return notes


# ---------------------------------------------------------------------- outcome


def outcome(state: IncidentState, interrupted: bool) -> dict[str, Any]:
    """What a run came to, the fields replay equality is defined on (docs/replay.md)."""
    report = state.report
    return {
        "status": "awaiting_approval" if interrupted else state.status,
        "report": {"status": report.status, "content": report.content, "promQL": list(report.prom_ql)}
        if report
        else None,
        "attempts": [
            {
                "n": a.n,
                "rung": a.rung,
                "action": a.action,
                "params": a.params,
                "result": a.result,
                "verified": a.verified,
            }
            for a in state.attempts
        ],
        "escalation_reason": state.escalation_reason,
    }


def first_difference(old: Any, new: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first path at which two JSON-like values differ, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            found = first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            a = old[index] if index < len(old) else None
            b = new[index] if index < len(new) else None
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if old == new else (path or "value", old, new)


def outcome_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human lines explaining how two outcomes differ (empty when equal)."""
    lines: list[str] = []
    if old["status"] != new["status"]:
        lines.append(f"status: {old['status']} → {new['status']}")
    a_old, a_new = old["attempts"], new["attempts"]
    if len(a_old) != len(a_new):
        lines.append(f"attempts: {len(a_old)} → {len(a_new)}")
    for index in range(max(len(a_old), len(a_new))):
        one = a_old[index] if index < len(a_old) else None
        two = a_new[index] if index < len(a_new) else None
        if one != two:
            lines.append(f"attempt {index + 1}: {_attempt_text(one)} → {_attempt_text(two)}")
    if old["escalation_reason"] != new["escalation_reason"]:
        lines.append(f"escalation: {old['escalation_reason'] or '-'!r} → {new['escalation_reason'] or '-'!r}")
    r_old, r_new = old["report"] or {}, new["report"] or {}
    if r_old != r_new:
        text = difflib.unified_diff(
            str(r_old.get("content", "")).splitlines(), str(r_new.get("content", "")).splitlines(), lineterm="", n=0
        )
        body = [line for line in text if line[:1] in "+-" and line[:3] not in ("+++", "---")]
        lines.append("report: " + ("content differs" if body else "status/promQL differ"))
        lines.extend(f"  {line}" for line in body)
    return lines


def _attempt_text(attempt: dict[str, Any] | None) -> str:
    if attempt is None:
        return "(none)"
    outcome = attempt.get("result") or {}
    result = outcome.get("status", "pending")
    if "not recorded" in str(outcome.get("error", "")):
        result = "not recorded"
    verified = {True: "cleared", False: "not cleared", None: "unverified"}[attempt.get("verified")]
    return f"rung {attempt['rung']} {attempt['action']} {result}, {verified}"


def _tracked(state: IncidentState) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in TRACKED:
        value = getattr(state, name)
        if isinstance(value, list):
            value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
        elif isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        data[name] = value
    for attempt in data["attempts"]:
        attempt.pop("started_at", None)  # a clock reading, not a decision
        (attempt.get("result") or {}).pop("execution_time", None)
    return data


def divergence(
    original: list[Checkpoint], rerun: list[Checkpoint], edits: list[tuple[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The first step at which the re-run parted from the original (by node, then by state).

    A fork's own ``edits`` are applied to the original's states first, so the edit
    itself is not reported: what is reported is the first thing the edit changed.
    """
    by_step = {c.step: c for c in original}
    for entry in rerun:
        if entry.node == "fork":
            continue
        theirs = by_step.get(entry.step)
        if theirs is None:
            return _diverged(entry.step, entry.node, "node", "(ended)", entry.node, None, entry)
        if theirs.node != entry.node:
            return _diverged(entry.step, entry.node, "node", theirs.node, entry.node, theirs, entry)
        found = first_difference(_tracked(_edited(theirs.state, edits)), _tracked(entry.state))
        if found:
            return _diverged(entry.step, entry.node, *found, theirs, entry)
    last = rerun[-1] if rerun else None
    missing = [c for c in original if c.step > (last.step if last else -1)]
    if missing:
        ended = "(ended)"
        if last is not None and last.waiting and last.state.pending:
            ended = f"(waiting for approval of {last.state.pending.operation}, rung {last.state.pending.rung})"
        return _diverged(missing[0].step, missing[0].node, "node", missing[0].node, ended, missing[0], None)
    return None


def path_difference(original: list[Checkpoint], rerun: list[Checkpoint]) -> list[str]:
    """One line naming the first step where the two runs took a different node, with each one's reason."""
    by_step = {c.step: c for c in original}
    for entry in rerun:
        theirs = by_step.get(entry.step)
        if entry.node == "fork" or (theirs is not None and theirs.node == entry.node):
            continue
        old = f"{theirs.node} ({_why(theirs)})" if theirs else "(ended)"
        return [f"path: at step {entry.step} the original ran {old}, the re-run ran {entry.node} ({_why(entry)})"]
    return []


def _why(entry: Checkpoint) -> str:
    decisions = entry.changes.get("decisions") or []
    return str(decisions[0]).split(": ", 1)[-1] if decisions else "no decision"


def _edited(state: IncidentState, edits: list[tuple[str, Any]] | None) -> IncidentState:
    if not edits:
        return state
    try:
        return apply_state_edits(state, edits)
    except ReplayError:
        return state


def _diverged(
    step: int, node: str, path: str, old: Any, new: Any, theirs: Checkpoint | None, ours: Checkpoint | None
) -> dict[str, Any]:
    why_old = (theirs.changes.get("decisions") or [None])[0] if theirs else None
    why_new = (ours.changes.get("decisions") or [None])[0] if ours else None
    if isinstance(old, str) and isinstance(new, str) and ("\n" in old or "\n" in new):
        lines = zip_longest(old.splitlines(), new.splitlines(), fillvalue="")
        old, new = next(((a, b) for a, b in lines if a != b), (old, new))
    return {
        "step": step,
        "node": node,
        "field": path,
        "original": old,
        "replay": new,
        "because": {"original": why_old, "replay": why_new},
    }


# ---------------------------------------------------------------------- edits


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _set_path(data: Any, parts: list[str], value: Any, key: str) -> None:
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(data, list):
            if not part.isdigit() or int(part) >= len(data):
                raise ReplayError(f"--set {key}: no item {part}")
            if last:
                data[int(part)] = value
                return
            data = data[int(part)]
        elif isinstance(data, dict):
            if part not in data:
                raise ReplayError(f"--set {key}: unknown field {part!r}")
            if last:
                data[part] = value
                return
            if data[part] is None:
                raise ReplayError(f"--set {key}: {part} is not set at this checkpoint")
            data = data[part]
        else:
            raise ReplayError(f"--set {key}: {part!r} is not a field")


def parse_sets(items: list[str]) -> list[tuple[str, Any]]:
    """``key=value`` pairs; values are YAML scalars (2, 1.0, true, text)."""
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ReplayError(f"--set {item!r}: expected key=value")
        pairs.append((key.strip(), _parse_value(value.strip())))
    return pairs


def apply_settings_edits(settings: Settings, pairs: list[tuple[str, Any]]) -> Settings:
    """Apply ``policy.*`` / ``settings.*`` edits to the settings of the re-run."""
    data = settings.model_dump()
    touched: set[str] = set()
    for key, value in pairs:
        parts = key.split(".")
        parts = parts[1:] if parts[0] == "settings" else parts
        if len(parts) < 2 and parts[0] != "language":
            raise ReplayError(f"--set {key}: name a field, e.g. policy.approval_from_rung")
        _set_path(data, parts, value, key)
        touched.add(parts[0])
    update = {}
    for name in touched:
        annotation = type(settings).model_fields[name].annotation
        try:
            update[name] = TypeAdapter(annotation).validate_python(data[name])  # type: ignore[arg-type]
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in (name, *first["loc"]))
            raise ReplayError(f"--set {where}: {first['msg']}") from None
    return settings.model_copy(update=update)


def apply_state_edits(state: IncidentState, pairs: list[tuple[str, Any]]) -> IncidentState:
    """Apply state edits (``triage.budget=2``) and validate the result."""
    data = state.model_dump()
    for key, value in pairs:
        _set_path(data, key.split("."), value, key)
    try:
        return IncidentState.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ReplayError(f"--set {where}: {first['msg']}") from None


def split_edits(pairs: list[tuple[str, Any]]) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """(settings edits, state edits)."""
    settings = [(k, v) for k, v in pairs if k.split(".")[0] in ("policy", "settings")]
    state = [(k, v) for k, v in pairs if k.split(".")[0] not in ("policy", "settings")]
    return settings, state


# ---------------------------------------------------------------------- re-run


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
    source = {"configurable": {"thread_id": incident_id, "checkpoint_ns": "", "checkpoint_id": start.id}}
    found = saver.get_tuple(source)  # type: ignore[arg-type]
    assert found is not None
    checkpoint = {**found.checkpoint, "channel_values": {**found.checkpoint["channel_values"], **values}}
    metadata = {**found.metadata, "source": "fork", "forked_from": f"{incident_id}:{start.id}"}
    target = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    saver.put(target, checkpoint, metadata, dict(checkpoint["channel_versions"]))  # type: ignore[arg-type, call-overload]


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
    deps = Deps(settings=settings, tools=tools, model=None, on_event=on_event or (lambda _kind, _data: None))
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
