"""Edge functions of the incident graph: pure functions of state, tested by table."""

from __future__ import annotations

from typing import Literal

from state.incident import IncidentState


def after_triage(state: IncidentState) -> Literal["diagnose", "report"]:
    """Investigate actionable alerts; info-only and resolved alerts go straight to the report."""
    return "diagnose" if state.triage and state.triage.actionable else "report"


def after_diagnose(state: IncidentState) -> Literal["review", "report"]:
    """Review the release when the alert or the diagnosis names one."""
    implicated = (state.diagnosis and state.diagnosis.suspected_release) or state.alert.version
    return "review" if implicated else "report"


def after_report(state: IncidentState) -> Literal["plan", "notify"]:
    """Start the ladder only for actionable alerts."""
    return "plan" if state.triage and state.triage.actionable else "notify"


def after_plan(state: IncidentState) -> Literal["guard", "escalate"]:
    """A planned action goes to the guard; no action means a human takes over."""
    return "guard" if state.pending is not None else "escalate"


def after_guard(state: IncidentState) -> Literal["execute", "escalate"]:
    """Only an allowed action is executed; a denial escalates with its reason."""
    return "execute" if state.guard and state.guard.allowed else "escalate"


def after_execute(state: IncidentState) -> Literal["verify", "execute", "escalate"]:
    """An executor that could not be reached is tried again (after a wait) until it gives up; else verify."""
    last = state.attempts[-1] if state.attempts else None
    result = (last.result if last else None) or {}
    if result.get("status") == "unreachable":
        return "escalate" if result.get("gave_up") else "execute"
    return "verify"


def after_verify(state: IncidentState) -> Literal["resolve", "hold", "plan", "escalate"]:
    """Cleared and held → resolve; cleared → hold; unreadable → escalate; else the next rung while budget lasts."""
    last = state.attempts[-1] if state.attempts else None
    if last is not None and last.verified:
        return "resolve"
    if last is not None and last.outcome == "holding":
        return "hold"
    if last is not None and last.outcome == "unverified":
        return "escalate"  # never a more drastic rung on missing data
    return "plan" if state.budget_left > 0 else "escalate"


def after_hold(state: IncidentState) -> Literal["resolve", "plan", "escalate"]:
    """Held → resolve; unreadable → escalate; came back → the next rung while budget lasts."""
    last = state.attempts[-1] if state.attempts else None
    if last is not None and last.verified:
        return "resolve"
    if last is None or last.outcome == "unverified":
        return "escalate"
    return "plan" if state.budget_left > 0 else "escalate"
