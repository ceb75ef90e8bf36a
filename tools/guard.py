"""The guard: code, not a prompt, between a proposed mutating call and the executor.

Every mutating call passes :func:`check`, whether the offline playbook planned it or a
model asked for it. Its inputs are the proposed action, the incident state, policy and
facts the caller gathered (who acts, the clock, how many actions the service already
had this hour). Nothing a model read (logs, PR text) reaches it, so nothing a model read
can widen what it allows: the target must be the incident's own service in the
incident's own namespace and cluster, the operation must be on the agent's allowlist
and in the ladder, and approval follows the operation's ladder rung, not the rung a
model claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from state.incident import GuardDecision, IncidentState, PlannedAction
from state.policy import MUTATING_OPERATIONS, Policy

if TYPE_CHECKING:
    from state.config import Settings
    from state.store import Store

# The strict params schema of every mutating operation: common fields, each operation's own, and types.
PARAM_TYPES: dict[str, type] = {
    "service": str, "namespace": str, "cluster": str, "undo": bool,
    "target": str, "revision": int, "replicas": int, "delta": int,
}  # fmt: skip
COMMON_PARAMS = frozenset({"service", "namespace", "cluster", "undo"})
OPERATION_PARAMS: dict[str, frozenset[str]] = {
    "scale": frozenset({"replicas", "delta"}),
    "version_rollback": frozenset({"target", "revision"}),
    "full_rollback": frozenset({"target", "revision"}),
}
RATE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class GuardContext:
    """Facts the guard needs beyond the action and the incident, gathered by the caller."""

    policy: Policy
    actor: str
    actor_can_rollback: bool
    now: datetime
    recent_actions: int = 0


class ActionLog(Protocol):
    """Executed actions per service, for the per-service rate limit (shared by all incidents)."""

    def count(self, service: str, since: datetime) -> int:
        """Actions on ``service`` executed at or after ``since``."""
        ...

    def record(self, service: str, key: str, incident_id: str, at: datetime) -> None:
        """Remember one executed action (idempotent per ``key``)."""
        ...


def can_roll_back(settings: Settings, name: str | None) -> bool:
    """Whether the configured user ``name`` holds ``rollback_permission`` (deny by default)."""
    user = settings.user(name) if name else None
    return bool(user and user.rollback_permission)


def context(settings: Settings, now: datetime, recent_actions: int = 0) -> GuardContext:
    """The guard's facts for the configured acting user at ``now`` (every entry point builds them here)."""
    return GuardContext(
        policy=settings.policy,
        actor=settings.acting_user,
        actor_can_rollback=can_roll_back(settings, settings.acting_user),
        now=now,
        recent_actions=recent_actions,
    )


def approval_problem(settings: Settings, by: str | None, *, approved: bool) -> str | None:
    """Why ``by`` may not give this answer to a pending approval (None: they may).

    Approving an action needs ``rollback_permission``; rejecting one never does (stopping
    a change is always safe). Every approval entry point asks this, and so does the guard
    node when the answer arrives.
    """
    if approved and not can_roll_back(settings, by):
        return f"{by!r} has no rollback_permission (users: in config)"
    return None


def answered(settings: Settings, answer: Any) -> GuardDecision:
    """The decision once a person answered an approval request (``{"approved", "by", "reason"}``)."""
    answer = answer if isinstance(answer, dict) else {}
    by = str(answer.get("by") or "")
    approved = bool(answer.get("approved"))
    if approval_problem(settings, by, approved=approved):
        return GuardDecision(
            allowed=False, needs_approval=True, reason=f"approval by {by!r} refused: no rollback_permission"
        )
    reason = f"approved by {by}" if approved else f"rejected by {by}: {answer.get('reason', '')}"
    return GuardDecision(allowed=approved, needs_approval=True, approved_by=by or None, reason=reason)


def incident_service(state: IncidentState) -> str:
    """The workload an incident is about (its subject): the only one its actions may touch."""
    alert = state.alert
    return alert.subject.workload or alert.workload or alert.service or alert.name


def deny(reason: str) -> GuardDecision:
    """A denial with its reason."""
    return GuardDecision(allowed=False, reason=reason)


def check(
    action: PlannedAction,
    state: IncidentState,
    ctx: GuardContext,
    *,
    agent: str = "rollback",
    undo: bool = False,
) -> GuardDecision:
    """Allow, deny (with the reason) or ask for approval of ``action``.

    ``undo`` marks the reversal of an action the guard already allowed: it is checked
    for tool, scope and permission, but spends no budget, ignores the rate limit and
    freeze windows (leaving a change that made things worse in place is never safer),
    and needs no second approval.
    """
    policy = ctx.policy
    dry_run = state.dry_run or policy.dry_run
    for problem in (
        _operation_problem(action, policy, agent),
        _scope_problem(action, state, policy),
        _params_problem(action, policy),
        None if dry_run else _permission_problem(ctx),  # a dry run changes nothing: anyone may rehearse
        None if undo else _limits_problem(action, state, ctx),
    ):
        if problem:
            return deny(problem)
    rung = max(action.rung, policy.rung_of(action.operation or "") or 0)
    return GuardDecision(
        allowed=True,
        dry_run=dry_run,
        needs_approval=not undo and rung >= policy.approval_from_rung,
        reason="dry-run: no change will be made" if dry_run else ("undo within policy" if undo else "within policy"),
    )


def _operation_problem(action: PlannedAction, policy: Policy, agent: str) -> str | None:
    operation = action.operation
    if operation is None:
        return f"rung {action.rung} is human intervention"
    if operation not in policy.agent_tools.get(agent, []):
        return f"tool {operation!r} is not allowed for agent {agent!r}"
    if operation not in MUTATING_OPERATIONS or policy.rung_of(operation) is None:
        return f"operation {operation!r} is not in the ladder"
    return None


def _scope_problem(action: PlannedAction, state: IncidentState, policy: Policy) -> str | None:
    params = action.params
    subject = state.alert.subject
    if subject.kind != "workload":
        return f"the incident is about {subject.describe()}: no operation acts on it"
    service = incident_service(state)
    if params.get("service") != service:
        return f"target service {params.get('service')!r} is not the incident's service {service!r}"
    home = subject.namespace or state.alert.namespace
    namespace = params.get("namespace", home)
    if namespace != home:
        return f"namespace {namespace!r} is not the incident's namespace {home!r}"
    if policy.allowed_namespaces and namespace not in policy.allowed_namespaces:
        return f"namespace {namespace!r} is outside policy scope"
    cluster = params.get("cluster", state.alert.cluster)
    if cluster != state.alert.cluster:
        return f"cluster {cluster!r} is not the incident's cluster {state.alert.cluster!r}"
    if policy.allowed_clusters and cluster not in policy.allowed_clusters:
        return f"cluster {cluster!r} is outside policy scope"
    return None


def _params_problem(action: PlannedAction, policy: Policy) -> str | None:
    """Params against the operation's strict schema, then the scale's resulting replica count."""
    params: dict[str, Any] = action.params
    accepted = COMMON_PARAMS | OPERATION_PARAMS.get(action.operation or "", frozenset())
    unknown = sorted(set(params) - accepted)
    if unknown:
        return f"parameter {unknown[0]!r} is not accepted by {action.operation}"
    for name, value in params.items():
        kind = PARAM_TYPES[name]
        if value is None:  # absent
            continue
        # bool is an int to Python: a `true` replica count is refused like a string one
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f"parameter {name!r}: expected {kind.__name__}, got {type(value).__name__} {value!r}"
    if params.get("revision") is not None and params["revision"] < 1:
        return f"revision {params['revision']!r}: revisions start at 1"
    if action.operation == "scale" and not params.get("undo"):
        return _scale_problem(params.get("replicas"), params.get("delta"), policy)
    return None


def _scale_problem(replicas: int | None, delta: int | None, policy: Policy) -> str | None:
    """Where a scale leaves the service; the guard cannot see the current count, so it only scales out by delta."""
    floor, ceiling = policy.min_replicas, policy.max_replicas
    if replicas is not None and delta is not None:
        return "scale: give replicas or delta, not both"
    if replicas is not None and replicas < floor:
        return f"replicas {replicas!r}: scaling below {floor} replica{'' if floor == 1 else 's'} takes the service down"
    if replicas is not None and replicas > ceiling:
        return f"replicas {replicas!r}: more than policy.max_replicas ({ceiling})"
    if delta is not None and delta < 1:
        # the resulting count is unknown here: scaling in may leave fewer than policy.min_replicas
        return (
            f"delta {delta!r}: scaling in can leave fewer than policy.min_replicas ({floor}); "
            "the ladder only scales out (undo restores the count before)"
        )
    if delta is not None and delta > policy.max_scale_delta:
        return f"delta {delta!r}: more than policy.max_scale_delta ({policy.max_scale_delta}) replicas at once"
    if delta is not None and delta > ceiling:
        return f"delta {delta!r}: more than policy.max_replicas ({ceiling}) replicas"
    return None


def _permission_problem(ctx: GuardContext) -> str | None:
    if not ctx.actor_can_rollback:
        return f"acting user {ctx.actor!r} has no rollback_permission (users: in config)"
    return None


def _limits_problem(action: PlannedAction, state: IncidentState, ctx: GuardContext) -> str | None:
    policy = ctx.policy
    if state.budget_left <= 0:
        budget = state.triage.budget if state.triage else 0
        return f"attempt budget of {budget} is spent"
    if ctx.recent_actions >= policy.max_actions_per_hour:
        return (
            f"rate limit: {ctx.recent_actions} actions on {action.params.get('service')!r} in the last hour "
            f"(policy.max_actions_per_hour={policy.max_actions_per_hour})"
        )
    window = frozen_by(policy, ctx.now)
    if window:
        return f"change freeze: window {window!r} ({policy.freeze_duration_min} min) is in force"
    return None


def frozen_by(policy: Policy, now: datetime) -> str | None:
    """The freeze window (cron expression) in force at ``now``, if any.

    A window starts at each time its cron expression matches (in ``policy.freeze_timezone``)
    and lasts ``policy.freeze_duration_min`` minutes.
    """
    from croniter import croniter

    local = now.astimezone(ZoneInfo(policy.freeze_timezone))
    length = timedelta(minutes=policy.freeze_duration_min)
    for expr in policy.freeze_windows:
        started: datetime = croniter(expr, local + timedelta(seconds=1)).get_prev(datetime)
        if local - started < length:
            return expr
    return None


def preview(state: IncidentState, action: PlannedAction, policy: Policy) -> dict[str, Any]:
    """What an approver is asked to allow: operation, scope, from/to and the replica change."""
    diagnosis = state.diagnosis
    params = action.params
    operation = action.operation
    current = state.alert.version or (diagnosis.suspected_release if diagnosis else None)
    change: dict[str, Any] = {}
    if operation in ("version_rollback", "full_rollback"):
        change = {"from": current, "to": params.get("target") or params.get("revision") or "previous revision"}
    elif operation == "scale":
        change = {"replicas": params.get("replicas"), "delta": params.get("delta")}
    elif operation == "isolate":
        change = {"traffic": "restored" if params.get("undo") else "cut off from the service"}
    elif operation in ("restart", "config_refresh"):
        change = {"pods": "rolling restart, one at a time"}
    return {
        "operation": operation,
        "rung": max(action.rung, policy.rung_of(operation or "") or 0),
        "scope": {
            "service": params.get("service"),
            "namespace": params.get("namespace", state.alert.namespace),
            "cluster": params.get("cluster", state.alert.cluster),
        },
        "change": change,
        "reversible": action.reversible,
        "signal_now": diagnosis.signal_value if diagnosis else None,
        "params": params,
        "reason": action.reason,
    }


class MemoryActionLog:
    """An in-process action log (tests, single runs)."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, datetime]] = {}

    def count(self, service: str, since: datetime) -> int:
        """Actions on ``service`` at or after ``since``."""
        return sum(1 for svc, at in self._rows.values() if svc == service and at >= since)

    def record(self, service: str, key: str, incident_id: str, at: datetime) -> None:
        """Remember one executed action."""
        self._rows.setdefault(key, (service, at))


class StoreActionLog:
    """The action log in the incident store's audit table (shared by every worker)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def count(self, service: str, since: datetime) -> int:
        """Actions on ``service`` at or after ``since``, across incidents."""
        return self.store.count_audit("action", since, service=service)

    def record(self, service: str, key: str, incident_id: str, at: datetime) -> None:
        """Append an ``action`` audit record (counted once per key)."""
        detail = {"service": service, "key": key, "at": at.isoformat()}
        self.store.audit(incident_id, "alertpilot", "action", detail, at=at)  # on the runner's clock, as counted
