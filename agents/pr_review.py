"""Release review: read what shipped before the alert (the release and its pull requests)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents.deps import Deps
from state.incident import Decision, IncidentState, ReviewResult


def implicated_release(state: IncidentState) -> str | None:
    """The release the alert or the diagnosis points at, if any."""
    if state.diagnosis and state.diagnosis.suspected_release:
        return state.diagnosis.suspected_release
    return state.alert.version


def review(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Review the implicated release when the service's repository is configured."""
    deps = runtime.context
    release = implicated_release(state)
    repo = deps.settings.service(state.alert.service).repo
    if repo is None:
        result = ReviewResult(
            status="skipped",
            release=release,
            reason=f"no repository configured (services.{state.alert.service}.repo)",
        )
    else:
        result = ReviewResult(status="skipped", release=release, reason=f"review of {repo} is not available yet")
    return {
        "review": result,
        "decisions": [
            *state.decisions,
            Decision(at=deps.clock(), node="review", summary=result.reason),
        ],
    }
