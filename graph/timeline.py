"""The checkpoint timeline of an incident thread: step, node, time and what each step changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import StateSnapshot

from graph.recording import recorded_answers
from graph.runner import IncidentRunner
from state.incident import IncidentState


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
        saved = saver.get_tuple(snapshot.config) if isinstance(saver, BaseCheckpointSaver) else None
        writes = saved.pending_writes if saved is not None else None
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
