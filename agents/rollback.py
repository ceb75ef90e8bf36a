"""The rollback ladder: plan the next rung, guard it, execute it once, verify it (and undo it).

Attempt n takes rung n, unless diagnosis or review implicates a release with enough
confidence, in which case the ladder starts at the version rollback to the last
known-good version. The attempt is written into checkpointed state by the guard node
*before* the execute node calls the executor, so a crash never re-spends budget and the
idempotency key ``{incident}:{attempt}`` keeps a re-run execute from acting twice. When
a model is configured it may propose the action instead of the playbook; either way the
proposal goes through the same guard.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.deps import Deps, NodeUpdate
from agents.signal import read_signal
from state.config import Settings
from state.incident import Attempt, IncidentState, PlannedAction, ToolCall
from state.policy import OPERATIONS, Policy
from tools import guard as guard_policy

VERSION_ROLLBACK_RUNG = OPERATIONS["version_rollback"].rung


# ---------------------------------------------------------------------- planner (pure)


def implicated_release(state: IncidentState, policy: Policy) -> str | None:
    """The release diagnosis or review blames with confidence >= ``policy.release_confidence``."""
    diagnosis = state.diagnosis
    if diagnosis and diagnosis.suspected_release and diagnosis.release_confidence >= policy.release_confidence:
        return diagnosis.suspected_release
    review = state.review
    if review and review.status == "reviewed" and review.release:
        confident = [f for f in review.findings if float(f.get("confidence", 0) or 0) >= policy.release_confidence]
        if confident:
            return review.release
    return None


def start_rung(state: IncidentState, policy: Policy) -> int:
    """Rung of the first attempt: the version rollback when a release is implicated, else 1."""
    return VERSION_ROLLBACK_RUNG if implicated_release(state, policy) else 1


def rung_sequence(state: IncidentState, policy: Policy) -> list[int]:
    """The rungs this incident walks, in order, from :func:`start_rung`.

    A memory leak skips the scale-out rung: every new replica leaks too, so after the
    restart buys time the next step is the version rollback.
    """
    levels = sorted({rung.level for rung in policy.ladder if rung.level >= start_rung(state, policy)})
    if state.diagnosis and state.diagnosis.pattern == "leak":
        levels = [level for level in levels if policy.rung(level).operation != "scale"]
    return levels


def abstention(state: IncidentState) -> str:
    """Why no change may be made in this incident (diagnosis's verdict; empty = the ladder may act)."""
    return state.diagnosis.abstain if state.diagnosis else ""


def known_good(state: IncidentState, settings: Settings | None) -> str | None:
    """The version to roll back to: diagnosis's known-good release, else the service's configured one."""
    if state.diagnosis and state.diagnosis.known_good_release:
        return state.diagnosis.known_good_release
    if settings is not None:
        return settings.service(guard_policy.incident_service(state)).known_good_version
    return None


def plan_next(state: IncidentState, policy: Policy, settings: Settings | None = None) -> PlannedAction | None:
    """The next action, or None when the ladder reaches a human or the budget is spent."""
    if state.triage is None or state.budget_left <= 0 or abstention(state):
        return None
    sequence = rung_sequence(state, policy)
    if len(state.attempts) >= len(sequence):
        return None
    rung = policy.rung(sequence[len(state.attempts)])
    if rung.operation is None:
        return None
    params: dict[str, Any] = {"service": guard_policy.incident_service(state)}
    if state.alert.namespace:
        params["namespace"] = state.alert.namespace
    params.update(rung.params)
    reason = f"attempt {len(state.attempts) + 1}: rung {rung.level} ({rung.name})"
    if rung.operation in ("version_rollback", "full_rollback"):
        target = known_good(state, settings)
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


# ---------------------------------------------------------------------- nodes


def plan(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Choose the next rung of the ladder (or let the model propose one), or hand over to a human."""
    deps = runtime.context
    action = plan_next(state, deps.settings.policy, deps.settings)
    note = ""
    if action is not None and deps.model is not None:
        from agents.rollback_model import propose

        proposed, note = propose(deps.model, state, deps.settings.policy, action)
        action = proposed or action
    update = NodeUpdate(state, deps, "plan")
    if action is None:
        why = (
            f"no change made: {abstention(state)}"
            if abstention(state)
            else "attempt budget spent"
            if state.budget_left <= 0
            else "the ladder reached human intervention"
        )
        update.decide(why)
        return update.build(pending=None, escalation_reason=why)
    deps.on_event("plan", action.model_dump())
    update.decide(action.reason + (f" ({note})" if note else ""))
    return update.build(pending=action)


def guard_context(deps: Deps, state: IncidentState, service: str) -> guard_policy.GuardContext:
    """What the guard needs to know besides the action: who acts, when, and the service's recent actions."""
    now = deps.clock()
    since = now - guard_policy.RATE_WINDOW
    if deps.actions is not None:
        recent = deps.actions.count(service, since)
    else:
        recent = sum(1 for a in state.attempts if a.started_at >= since and a.result is not None)
    return guard_policy.context(deps.settings, now, recent)


def guard(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Check the planned action against policy; ask for approval when policy says so.

    Nothing before ``interrupt()`` has side effects: on resume this node runs again
    from the top and must reach the same decision. A denied action is recorded as a
    denied tool call and never reaches the executor.
    """
    deps = runtime.context
    action = state.pending
    assert action is not None, "guard runs only after plan chose an action"
    policy = deps.settings.policy
    ctx = guard_context(deps, state, str(action.params.get("service")))
    decision = guard_policy.check(action, state, ctx)
    if decision.allowed and decision.needs_approval and not decision.dry_run:
        answer = interrupt(
            {
                "incident_id": state.incident_id,
                "action": action.model_dump(),
                "preview": guard_policy.preview(state, action, policy),
            }
        )
        decision = guard_policy.answered(deps.settings, answer)
    update = NodeUpdate(state, deps, "guard")
    update.decide(decision.reason)
    fields: dict[str, Any] = {"guard": decision, "status": "open"}
    if decision.allowed:
        n = len(state.attempts) + 1
        fields["attempts"] = [
            *state.attempts,
            Attempt(
                n=n,
                rung=action.rung,
                action=action.operation,
                params=action.params,
                idempotency_key=f"{state.incident_id}:{n}",
                started_at=deps.clock(),
                signal_before=_signal_now(state),
            ),
        ]
    else:
        fields["escalation_reason"] = f"guard denied {action.operation}: {decision.reason}"
        update.record(_denied_call("rollback", action, decision.reason))
    deps.on_event("guard", decision.model_dump())
    return update.build(**fields)


def _signal_now(state: IncidentState) -> float | None:
    """The latest known value of the alert's signal (after the last attempt, or at diagnosis)."""
    for attempt in reversed(state.attempts):
        latest = attempt.signal_after_undo if attempt.undone else attempt.signal_after
        if latest is not None:
            return latest
    return state.diagnosis.signal_value if state.diagnosis else None


def _denied_call(agent: str, action: PlannedAction, reason: str) -> ToolCall:
    """A mutating call the guard refused: recorded, never executed (numbered by :class:`NodeUpdate`)."""
    return ToolCall(
        seq=0,
        agent=agent,
        tool=action.operation or "human_intervention",
        args=action.params,
        status="denied",
        error=reason,
        mutating=True,
    )


def execute(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Run the attempt the guard recorded, once, under its idempotency key."""
    deps = runtime.context
    attempt = state.attempts[-1]
    if attempt.result is not None:  # already executed before a crash: never act twice
        return {}
    assert attempt.action is not None
    update = NodeUpdate(state, deps, "execute")
    session = update.session("rollback", allowed=frozenset({attempt.action}))
    dry_run = state.guard.dry_run if state.guard else False
    if dry_run:
        outcome: dict[str, Any] = {
            "status": "success",
            "detail": f"dry-run: would run {attempt.action} {attempt.params}",
            "error": "",
            "execution_time": 0.0,
        }
    else:
        if deps.actions is not None:
            deps.actions.record(
                str(attempt.params.get("service")), attempt.idempotency_key, state.incident_id, deps.clock()
            )
        result = session.call(attempt.action, **attempt.params, idempotency_key=attempt.idempotency_key)
        outcome = _outcome(result)
    done = attempt.model_copy(update={"result": outcome})
    deps.on_event("execute", {"attempt": done.n, "action": done.action, "params": done.params, "result": outcome})
    update.decide(f"{done.action}: {outcome.get('status')} {outcome.get('detail') or outcome.get('error')}")
    return update.build(attempts=[*state.attempts[:-1], done])


def _outcome(result: Any) -> dict[str, Any]:
    if result.ok:
        return dict(result.data)
    return {"status": "error", "detail": "", "error": result.error, "execution_time": 0.0}


def judge(before: float | None, after: float | None, firing: bool | None, factor: float = 1.2) -> tuple[bool, bool]:
    """(cleared, worse) from the signal before and after an action."""
    cleared = firing is False
    worse = before is not None and after is not None and after > before * factor
    return cleared, worse


def verify(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Wait, then re-read the alert's own signal; undo a reversible action that made it worse."""
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

    update = NodeUpdate(state, deps, "verify")
    session = update.session("verify", allowed=frozenset({"execute_query"}))
    worse = False
    if dry_run:
        cleared, after = False, None
        note = "dry-run: nothing changed, signal not re-checked"
    else:
        reading = read_signal(session, state.alert, state.diagnosis)
        after = reading.value
        cleared, worse = judge(attempt.signal_before, after, reading.firing, deps.settings.policy.worse_factor)
        note = reading.error or ("cleared" if cleared else "worse" if worse else "still firing")
        if worse:
            note = f"worse: {attempt.signal_before} → {after}"
    checked = attempt.model_copy(update={"verified": cleared, "signal_after": after, "note": note})
    update.decide(f"attempt {checked.n}: {note}")
    if worse and not cleared:
        checked = _undo(update, checked)
    deps.on_event("verify", {"attempt": checked.n, "verified": cleared, "signal_after": after, "note": checked.note})
    return update.build(attempts=[*state.attempts[:-1], checked])


def _undo(update: NodeUpdate, attempt: Attempt) -> Attempt:
    """Reverse an attempt that made the signal worse, through the guard, once (key ``{key}:undo``)."""
    deps, state = update.deps, update.state
    policy = deps.settings.policy
    rung = next((r for r in policy.ladder if r.level == attempt.rung), None)
    if attempt.action is None or rung is None or not rung.reversible:
        note = f"{attempt.note}; {attempt.action} is not reversible, not undone"
        update.decide(f"attempt {attempt.n}: {note}")
        return attempt.model_copy(update={"note": note})
    action = PlannedAction(
        rung=attempt.rung,
        rung_name=rung.name,
        operation=attempt.action,
        params={**attempt.params, "undo": True},
        reversible=True,
        reason=f"undo attempt {attempt.n}",
    )
    decision = guard_policy.check(
        action, state, guard_context(deps, state, str(attempt.params.get("service"))), undo=True
    )
    if not decision.allowed:
        update.record(_denied_call("rollback", action, decision.reason))
        note = f"{attempt.note}; undo denied: {decision.reason}"
        update.decide(f"attempt {attempt.n}: {note}")
        return attempt.model_copy(update={"note": note})
    session = update.session("rollback", allowed=frozenset({attempt.action}))
    outcome = _outcome(session.call(attempt.action, **action.params, idempotency_key=f"{attempt.idempotency_key}:undo"))
    reader = update.session("verify", allowed=frozenset({"execute_query"}))
    after_undo = read_signal(reader, state.alert, state.diagnosis).value if outcome.get("status") == "success" else None
    undone = outcome.get("status") == "success"
    note = f"{attempt.note}; undo {outcome.get('status')}: {outcome.get('detail') or outcome.get('error')}"
    checked = attempt.model_copy(
        update={"undone": undone, "undo_result": outcome, "signal_after_undo": after_undo, "note": note}
    )
    deps.on_event("undo", {"attempt": attempt.n, "action": attempt.action, "result": outcome})
    update.decide(f"attempt {attempt.n}: undid {attempt.action} ({outcome.get('status')}), signal now {after_undo}")
    return checked
