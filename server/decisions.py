"""Answering a pending approval: one service behind the CLI, the API, the page and the voice assistant.

:func:`decide` checks an answer before anything acts on it: the incident exists and waits
for a person, a rejection says why, and the guard's rule on who may approve
(:func:`tools.guard.approval_problem`). It then hands the answer to ``apply``: the CLI and
the voice assistant continue the incident at once through a runner (:func:`run_now`); the
API and the page queue it for a worker (:func:`queue_for_worker`). The guard node checks
the approver again when the answer reaches the graph, so a queued answer whose approver
lost the permission meanwhile is still refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from state.config import Settings
from state.store import Store
from tools.guard import approval_problem

if TYPE_CHECKING:
    from graph.runner import IncidentRunner
    from state.queue import Queue


@dataclass(frozen=True)
class Verdict:
    """A person's answer to the approval an incident waits on."""

    incident_id: str
    approved: bool
    by: str
    reason: str = ""


Apply = Callable[[Verdict, dict[str, Any]], dict[str, Any]]


def decide(settings: Settings, store: Store, verdict: Verdict, apply: Apply) -> dict[str, Any]:
    """Check ``verdict`` and hand it to ``apply``; returns what ``apply`` returns.

    Raises KeyError (no incident), LookupError (not waiting for approval), ValueError (a
    rejection without a reason) and PermissionError (the approver may not roll back; the
    message names them) before anything is applied.
    """
    doc = store.get(verdict.incident_id)
    if doc is None:
        raise KeyError(verdict.incident_id)
    if doc["status"] != "awaiting_approval":
        raise LookupError(f"incident {verdict.incident_id} is not waiting for approval (status {doc['status']})")
    if not verdict.approved and not verdict.reason.strip():
        raise ValueError("reason: required when rejecting")
    problem = approval_problem(settings, verdict.by, approved=verdict.approved)
    if problem:
        raise PermissionError(problem)
    return apply(verdict, doc)


def run_now(runner: IncidentRunner) -> Apply:
    """Apply an answer at once: the runner resumes the incident and returns its document."""

    def apply(verdict: Verdict, _doc: dict[str, Any]) -> dict[str, Any]:
        return runner.decide(verdict.incident_id, approved=verdict.approved, by=verdict.by, reason=verdict.reason)

    return apply


def queue_for_worker(queue: Queue, store: Store) -> Apply:
    """Apply an answer later: queue it on the incident's lane (once per attempt) for a worker."""

    def apply(verdict: Verdict, doc: dict[str, Any]) -> dict[str, Any]:
        row = store.incident_row(verdict.incident_id)  # the lane is the incident's own key (Alert.dedup_key)
        lane = row["dedup_key"] if row else doc["alert"].get("group_key") or doc["alert"]["fingerprint"]
        queued = queue.enqueue(
            lane,
            "decide",
            {"incident_id": verdict.incident_id, "approved": verdict.approved, "by": verdict.by,
             "reason": verdict.reason},
            key=f"decide:{verdict.incident_id}:{len(doc.get('attempts') or [])}",
        )  # fmt: skip
        store.audit(
            verdict.incident_id, verdict.by, "approval_requested",
            {"approved": verdict.approved, "reason": verdict.reason, "queued": queued},
        )  # fmt: skip
        return {"incident_id": verdict.incident_id, "approved": verdict.approved, "queued": queued}

    return apply
