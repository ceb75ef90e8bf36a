"""Comparing a re-run with the original: the outcome, its diff, and the first divergence."""

from __future__ import annotations

import difflib
from itertools import zip_longest
from typing import Any

from pydantic import BaseModel

from graph.edits import ReplayError, apply_state_edits
from graph.timeline import Checkpoint
from state.incident import IncidentState

# State fields whose changes the timeline shows and the divergence check compares.
TRACKED = ("status", "triage", "diagnosis", "findings", "review", "report", "pending", "guard", "attempts")


OUTCOME_ATTEMPT_FIELDS = {"n", "rung", "action", "params", "result", "verified"}
OUTCOME_FINDING_FIELDS = {"kind", "title", "detail", "severity", "query"}


def outcome(state: IncidentState, interrupted: bool) -> dict[str, Any]:
    """What a run came to, the fields replay equality is defined on (docs/replay.md)."""
    report = state.report
    return {
        "status": "awaiting_approval" if interrupted else state.status,
        "report": {"status": report.status, "content": report.content, "promQL": list(report.prom_ql)}
        if report
        else None,
        "attempts": [a.model_dump(mode="json", include=OUTCOME_ATTEMPT_FIELDS) for a in state.attempts],
        "escalation_reason": state.escalation_reason,
        "findings": [f.model_dump(mode="json", include=OUTCOME_FINDING_FIELDS) for f in state.findings],
        "decisions": [f"{d.node}: {d.summary}" for d in state.decisions],  # what was decided, not when
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
    lines.extend(_list_diff("finding", [_finding_text(f) for f in old.get("findings", [])],
                            [_finding_text(f) for f in new.get("findings", [])]))  # fmt: skip
    lines.extend(_list_diff("decision", old.get("decisions", []), new.get("decisions", [])))
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


def _finding_text(finding: dict[str, Any]) -> str:
    return f"[{finding.get('kind')}] {finding.get('title')}: {str(finding.get('detail', ''))[:160]}"


def _list_diff(what: str, old: list[str], new: list[str]) -> list[str]:
    """Lines for entries only one run has (``- ``: only the original, ``+ ``: only the re-run)."""
    if old == new:
        return []
    only_old = [x for x in old if x not in new]
    only_new = [x for x in new if x not in old]
    if not only_old and not only_new:
        return [f"{what}s: same entries in another order"]
    return [f"{what} - {x}" for x in only_old[:8]] + [f"{what} + {x}" for x in only_new[:8]]


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
