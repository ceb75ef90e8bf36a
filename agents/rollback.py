"""The rollback ladder: plan the next rung, guard it, execute it once, verify it.

Attempt n takes rung n, unless diagnosis implicates a release with enough confidence,
in which case the ladder starts at the version rollback. The attempt is written into
checkpointed state by the guard node *before* the execute node calls the executor, so
a crash never re-spends budget and the idempotency key ``{incident}:{attempt}`` keeps a
re-run execute from acting twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.deps import Deps, recorded
from agents.signal import read_signal
from state.incident import Attempt, Decision, GuardDecision, IncidentState, PlannedAction
from state.policy import Policy
from tools import guard as guard_policy
from tools.registry import ToolSession

VERSION_ROLLBACK_RUNG = 3
WORSE_FACTOR = 1.2


def start_rung(state: IncidentState, policy: Policy) -> int:
    """Rung of the first attempt: 3 when a release is implicated with enough confidence."""
    diagnosis = state.diagnosis
    if diagnosis and diagnosis.suspected_release and diagnosis.release_confidence >= policy.release_confidence:
        return VERSION_ROLLBACK_RUNG
    return 1


def plan_next(state: IncidentState, policy: Policy) -> PlannedAction | None:
    """The next action, or None when the ladder reaches a human or the budget is spent."""
    if state.triage is None or state.budget_left <= 0:
        return None
    rung_level = start_rung(state, policy) + len(state.attempts)
    if rung_level > 6:
        return None
    rung = policy.rung(rung_level)
    if rung.operation is None:
        return None
    alert = state.alert
    params: dict[str, Any] = {"service": alert.workload or alert.service or alert.name}
    if alert.namespace:
        params["namespace"] = alert.namespace
    params.update(rung.params)
    reason = f"attempt {len(state.attempts) + 1}: rung {rung.level} ({rung.name})"
    if rung.operation in ("version_rollback", "full_rollback") and state.diagnosis:
        target = state.diagnosis.known_good_release
        if target:
            params["target"] = target
            reason += f", back to {target}"
    return PlannedAction(
        rung=rung.level,
        rung_name=rung.name,
        operation=rung.operation,
        params=params,
        reversible=rung.reversible,
        reason=reason,
    )


def plan(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Choose the next rung of the ladder, or hand over to a human."""
    deps = runtime.context
    action = plan_next(state, deps.settings.policy)
    if action is None:
        why = "attempt budget spent" if state.budget_left <= 0 else "the ladder reached human intervention"
        return {
            "pending": None,
            "escalation_reason": why,
            "decisions": [*state.decisions, Decision(at=deps.clock(), node="plan", summary=why)],
        }
    deps.on_event("plan", action.model_dump())
    return {
        "pending": action,
        "decisions": [
            *state.decisions,
            Decision(at=deps.clock(), node="plan", summary=action.reason),
        ],
    }


def guard(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Check the planned action against policy; ask for approval when policy says so.

    Nothing before ``interrupt()`` has side effects: on resume this node runs again
    from the top and must reach the same decision.
    """
    deps = runtime.context
    action = state.pending
    assert action is not None, "guard runs only after plan chose an action"
    decision = guard_policy.check(action, state, deps.settings.policy)
    if decision.allowed and decision.needs_approval and not decision.dry_run:
        answer = interrupt(
            {
                "incident_id": state.incident_id,
                "action": action.model_dump(),
                "preview": _preview(state, action),
            }
        )
        approved = bool(answer.get("approved"))
        decision = GuardDecision(
            allowed=approved,
            needs_approval=True,
            approved_by=answer.get("by"),
            reason=(
                f"approved by {answer.get('by')}"
                if approved
                else f"rejected by {answer.get('by')}: {answer.get('reason', '')}"
            ),
        )
    update: dict[str, Any] = {
        "guard": decision,
        "status": "open",
        "decisions": [
            *state.decisions,
            Decision(at=deps.clock(), node="guard", summary=decision.reason),
        ],
    }
    if decision.allowed:
        n = len(state.attempts) + 1
        update["attempts"] = [
            *state.attempts,
            Attempt(
                n=n,
                rung=action.rung,
                action=action.operation,
                params=action.params,
                idempotency_key=f"{state.incident_id}:{n}",
                started_at=deps.clock(),
                signal_before=state.diagnosis.signal_value if state.diagnosis else None,
            ),
        ]
    else:
        update["escalation_reason"] = f"guard denied {action.operation}: {decision.reason}"
    deps.on_event("guard", decision.model_dump())
    return update


def _preview(state: IncidentState, action: PlannedAction) -> dict[str, Any]:
    diagnosis = state.diagnosis
    return {
        "operation": action.operation,
        "scope": {
            "namespace": state.alert.namespace,
            "cluster": state.alert.cluster,
            "service": action.params.get("service"),
        },
        "from": diagnosis.suspected_release if diagnosis else None,
        "to": action.params.get("target"),
        "params": action.params,
    }


def execute(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Run the attempt the guard recorded, once, under its idempotency key."""
    deps = runtime.context
    attempt = state.attempts[-1]
    if attempt.result is not None:  # already executed before a crash: never act twice
        return {}
    assert attempt.action is not None
    session = ToolSession(
        deps.tools,
        agent="rollback",
        allowed=frozenset({attempt.action}),
        start_seq=len(state.tool_calls),
    )
    dry_run = state.guard.dry_run if state.guard else False
    if dry_run:
        outcome: dict[str, Any] = {
            "status": "success",
            "detail": f"dry-run: would run {attempt.action} {attempt.params}",
            "error": "",
            "execution_time": 0.0,
        }
    else:
        result = session.call(attempt.action, **attempt.params, idempotency_key=attempt.idempotency_key)
        outcome = (
            result.data
            if result.ok
            else {"status": "error", "detail": "", "error": result.error, "execution_time": 0.0}
        )
    done = attempt.model_copy(update={"result": outcome})
    deps.on_event(
        "execute",
        {"attempt": done.n, "action": done.action, "params": done.params, "result": outcome},
    )
    return {
        "attempts": [*state.attempts[:-1], done],
        "tool_calls": recorded(state, session.calls),
        "decisions": [
            *state.decisions,
            Decision(
                at=deps.clock(),
                node="execute",
                summary=f"{done.action}: {outcome.get('status')} {outcome.get('detail') or outcome.get('error')}",
            ),
        ],
    }


def judge(before: float | None, after: float | None, firing: bool | None) -> tuple[bool, bool]:
    """(cleared, worse) from the signal before and after an action."""
    cleared = firing is False
    worse = before is not None and after is not None and after > before * WORSE_FACTOR
    return cleared, worse


def verify(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Wait, then re-read the alert's own signal to see whether the action worked."""
    deps = runtime.context
    attempt = state.attempts[-1]
    if attempt.verified is not None:
        return {}
    if attempt.result and attempt.result.get("status") != "success":
        checked = attempt.model_copy(update={"verified": False, "note": "action failed; not verified"})
        return {"attempts": [*state.attempts[:-1], checked]}
    dry_run = bool(state.guard and state.guard.dry_run)
    wait_s = deps.settings.policy.verify_after_s
    if dry_run:
        pass  # a dry run changed nothing: there is nothing to wait for
    elif deps.durable_timers:  # a worker releases the incident; any worker resumes it after the wait
        # Counted from the execute decision, so a re-run of this node re-arms the same timer.
        executed_at = next((d.at for d in reversed(state.decisions) if d.node == "execute"), deps.clock())
        interrupt({"kind": "timer", "not_before": (executed_at + timedelta(seconds=wait_s)).isoformat()})
    else:
        deps.sleep(wait_s)
    session = ToolSession(
        deps.tools,
        agent="verify",
        allowed=frozenset({"execute_query"}),
        start_seq=len(state.tool_calls),
    )
    if dry_run:
        cleared, worse, after = False, False, None
        note = "dry-run: nothing changed, signal not re-checked"
    else:
        reading = read_signal(session, state.alert)
        after = reading.value
        cleared, worse = judge(attempt.signal_before, after, reading.firing)
        note = reading.error or ("cleared" if cleared else "worse" if worse else "still firing")
    checked = attempt.model_copy(update={"verified": cleared, "signal_after": after, "note": note})
    deps.on_event("verify", {"attempt": checked.n, "verified": cleared, "signal_after": after, "note": note})
    return {
        "attempts": [*state.attempts[:-1], checked],
        "tool_calls": recorded(state, session.calls),
        "decisions": [
            *state.decisions,
            Decision(at=deps.clock(), node="verify", summary=f"attempt {checked.n}: {note}"),
        ],
    }
