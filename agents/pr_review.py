"""Release review node: read what shipped before the alert and find the change that could have broken it.

The work is in :mod:`agents.review_core` (offline playbook) and :mod:`agents.review_llm`
(model mode); this node decides whether to run, and records the result and the calls.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents.deps import Deps, NodeUpdate
from agents.review_core import ReviewOutcome, code_findings, incident_context, review_release
from agents.suspects import Evidence, evidence_of
from state.incident import Finding, IncidentState, ReviewResult
from tools.analyzers.correlate import IncidentContext
from tools.registry import ToolBackend, ToolSession


def implicated_release(state: IncidentState) -> str | None:
    """The release the alert or the diagnosis points at, if any."""
    if state.diagnosis and state.diagnosis.suspected_release:
        return state.diagnosis.suspected_release
    return state.alert.version


def review_tag(
    session: ToolSession,
    tools: ToolBackend,
    repo: str,
    tag: str | None,
    model: Any = None,  # a ModelGate (agents/llm_calls.py), None offline
    context: IncidentContext | None = None,
    evidence: Evidence | None = None,
) -> ReviewOutcome:
    """Review release ``tag`` of ``repo``: the playbook, then the model's pass when one is configured.

    The one review orchestration, for this node and for ``alertpilot review``; ``evidence`` (the
    incident's frames, signatures, endpoint...) ranks the release's files by suspicion.
    """
    outcome = review_release(session, repo, tag, context, evidence)
    if outcome.release is not None and model is not None:
        from agents.review_llm import llm_review

        outcome = llm_review(model, tools, session, outcome)
    return outcome


def review(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Review the implicated release when the service's repository is configured."""
    deps = runtime.context
    update = NodeUpdate(state, deps, "review")
    session = update.session("review")  # opened even when skipping: the node always reports its calls
    release = implicated_release(state)
    repo = deps.settings.service(state.alert.service).repo
    if repo is None or release is None:
        reason = (
            f"no repository configured (services.{state.alert.service}.repo)"
            if repo is None
            else "no release or tag named by the alert or the diagnosis"
        )
        return _finish(state, update, ReviewResult(status="skipped", release=release, reason=reason), [])
    context = incident_context(state)
    outcome = review_tag(session, deps.tools, repo, release, update.llm("review"), context, evidence_of(state, context))
    if outcome.release is None:
        result = ReviewResult(status="failed", release=release, reason=outcome.error)
    else:
        top = outcome.findings[0] if outcome.findings else None
        summary = f"top: PR #{top.pr} {top.file}:{top.line} {top.category}" if top else "no findings"
        if outcome.suspects:
            summary += f"; most suspect: PR #{outcome.suspects[0]['pr']} {outcome.suspects[0]['file']}"
        result = ReviewResult(
            status="reviewed",
            release=outcome.release.get("tag"),
            pulls=[p["number"] for p in outcome.pulls],
            findings=[f.as_dict() for f in outcome.findings],
            reason=f"{repo} {outcome.release.get('tag')}: {len(outcome.pulls)} PRs, "
            f"{len(outcome.findings)} findings; {summary}" + ("; " + "; ".join(outcome.notes) if outcome.notes else ""),
        )
    deps.on_event("review", result.model_dump())
    return _finish(state, update, result, code_findings(outcome))


def _finish(state: IncidentState, update: NodeUpdate, result: ReviewResult, findings: list[Finding]) -> dict[str, Any]:
    update.decide(result.reason)
    return update.build(review=result, findings=[*state.findings, *findings])
