"""The guard: code, not a prompt, between a planned action and the executor.

Every mutating call passes :func:`check`. Its inputs are the planned action, the
incident state and policy; nothing a model read (logs, PR text) reaches it, so nothing
a model read can widen what it allows.
"""

from __future__ import annotations

from state.incident import GuardDecision, IncidentState, PlannedAction
from state.policy import MUTATING_OPERATIONS, Policy


def check(action: PlannedAction, state: IncidentState, policy: Policy) -> GuardDecision:
    """Allow, deny (with the reason) or ask for approval of ``action``."""
    if action.operation is None:
        return GuardDecision(allowed=False, reason=f"rung {action.rung} is human intervention")
    if action.operation not in MUTATING_OPERATIONS:
        return GuardDecision(allowed=False, reason=f"operation {action.operation!r} is not in the ladder")
    if state.budget_left <= 0:
        budget = state.triage.budget if state.triage else 0
        return GuardDecision(allowed=False, reason=f"attempt budget of {budget} is spent")
    namespace = state.alert.namespace
    if policy.allowed_namespaces and namespace not in policy.allowed_namespaces:
        return GuardDecision(allowed=False, reason=f"namespace {namespace!r} is outside policy scope")
    cluster = state.alert.cluster
    if policy.allowed_clusters and cluster not in policy.allowed_clusters:
        return GuardDecision(allowed=False, reason=f"cluster {cluster!r} is outside policy scope")
    dry_run = state.dry_run or policy.dry_run
    return GuardDecision(
        allowed=True,
        dry_run=dry_run,
        needs_approval=action.rung >= policy.approval_from_rung,
        reason="dry-run: no change will be made" if dry_run else "within policy",
    )
