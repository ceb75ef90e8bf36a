"""Answering a pending approval: one service behind the CLI, the API, the page and the voice assistant.

:func:`decide` checks an answer before anything acts on it: the incident exists and waits
for a person, a rejection says why, and the guard's rule on who may approve
(:func:`tools.guard.approval_problem`). It then hands the answer to ``apply``: the CLI and
the voice assistant continue the incident at once through a runner (:func:`run_now`); the
API and the page queue it for a worker (:func:`queue_for_worker`). The guard node checks
the approver again when the answer reaches the graph, so a queued answer whose approver
lost the permission meanwhile is still refused.

Every answer names who gave it (the authenticated principal), with which credential and
through which source (cli, api, page, link, voice), in the incident's audit trail. One
pending approval takes one answer: the first claim of its key wins, and a later answer,
from any path, is refused as :class:`Conflict` (HTTP 409). A page or link that showed an
action passes its :func:`action_hash`; if the incident now waits on another action the
answer is refused too, so nobody approves what they did not see.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from state.config import Settings
from state.identity import Identity
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
    credential: str = "local"  # token:<id> | password | sso | link:<nonce> | speaker:<name> | local (CLI)
    source: str = "cli"  # cli | api | page | link | voice
    action: str | None = None  # the action_hash the person was shown, when they were shown one


class Conflict(LookupError):
    """The approval was already answered, or now waits on another action than the one shown."""


Apply = Callable[[Verdict, dict[str, Any]], dict[str, Any]]


def action_hash(pending: dict[str, Any] | None) -> str:
    """SHA-256 of the pending action's operation and params (canonical JSON): what an answer is bound to."""
    pending = pending or {}
    canonical = json.dumps(
        {"operation": pending.get("operation"), "params": pending.get("params") or {}},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )  # fmt: skip
    return hashlib.sha256(canonical.encode()).hexdigest()


def answer_key(doc: dict[str, Any]) -> str:
    """The key of the approval ``doc`` waits on now: one answer each.

    A wait is the incident's next attempt with its action: an approval appends an attempt
    and a rejection ends the ladder, so a later wait has another key, while a repeat of the
    alert (which re-enters the same wait) keeps it.
    """
    return f"decide:{doc['id']}:{len(doc.get('attempts') or [])}:{action_hash(doc.get('pending'))[:16]}"


def decide(settings: Settings, store: Store, verdict: Verdict, apply: Apply) -> dict[str, Any]:
    """Check ``verdict``, claim the pending approval, audit the answer and hand it to ``apply``.

    Raises KeyError (no incident), LookupError (not waiting for approval; :class:`Conflict`
    when already answered or the action changed), ValueError (a rejection without a reason)
    and PermissionError (the approver may not roll back; the message names them) before
    anything is applied.
    """
    doc = store.get(verdict.incident_id)
    if doc is None:
        raise KeyError(verdict.incident_id)
    if doc["status"] != "awaiting_approval":
        raise LookupError(f"incident {verdict.incident_id} is not waiting for approval (status {doc['status']})")
    if verdict.action is not None and verdict.action != action_hash(doc.get("pending")):
        raise Conflict(f"incident {verdict.incident_id} now waits on another action than the one shown: reload it")
    if not verdict.approved and not verdict.reason.strip():
        raise ValueError("reason: required when rejecting")
    problem = approval_problem(settings, verdict.by, approved=verdict.approved)
    if problem:
        raise PermissionError(problem)
    identity = Identity(store)
    key = answer_key(doc)
    if not identity.claim(key):
        raise Conflict(f"incident {verdict.incident_id}: this approval was already answered")
    store.audit(verdict.incident_id, verdict.by, "answer", {
        "approved": verdict.approved, "reason": verdict.reason, "credential": verdict.credential,
        "source": verdict.source, "action": action_hash(doc.get("pending")),
    })  # fmt: skip
    try:
        return apply(verdict, doc | {"answer_key": key})
    except Exception:
        identity.release(key)  # nothing was applied: the approval is open again
        raise


def run_now(runner: IncidentRunner) -> Apply:
    """Apply an answer at once: the runner resumes the incident and returns its document."""

    def apply(verdict: Verdict, _doc: dict[str, Any]) -> dict[str, Any]:
        return runner.decide(verdict.incident_id, approved=verdict.approved, by=verdict.by, reason=verdict.reason)

    return apply


def queue_for_worker(queue: Queue, store: Store) -> Apply:
    """Apply an answer later: queue it on the incident's lane (once per pending approval) for a worker."""

    def apply(verdict: Verdict, doc: dict[str, Any]) -> dict[str, Any]:
        row = store.incident_row(verdict.incident_id)  # the lane its alerts came in on
        lane = row["dedup_key"] if row else str(doc["alert"]["fingerprint"])
        queued = queue.enqueue(
            lane,
            "decide",
            {"incident_id": verdict.incident_id, "approved": verdict.approved, "by": verdict.by,
             "reason": verdict.reason},
            key=doc.get("answer_key") or answer_key(doc),
        )  # fmt: skip
        if not queued:
            raise Conflict(f"incident {verdict.incident_id}: this approval was already answered")
        return {"incident_id": verdict.incident_id, "approved": verdict.approved, "queued": queued, "by": verdict.by}

    return apply
