"""The rollback ladder: plan the next rung, guard it and execute it once (verify: agents/verify.py).

The ladder acts only on a hypothesis: the cause diagnosis found (its ``pattern``) picks the
rungs that address it (``policy.rungs_for``: a bad release → the version rollback to the last
version whose signal was healthy; a leak → restart, then the rollback), and only those with
a concrete target (a workload; a version to return to). Everything else escalates with the
evidence. The attempt is written into checkpointed state by the guard node *before* the
execute node calls the executor, so a crash never re-spends budget and the idempotency key
``{incident}:{attempt}`` keeps a re-run execute from acting twice. When a model is
configured it may propose the action instead of the playbook; either way the proposal
goes through the same guard.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents import informed_ladder
from agents.deps import Deps, NodeUpdate
from state.config import Settings
from state.incident import Attempt, GuardDecision, IncidentState, PlannedAction, ToolCall
from state.policy import OPERATIONS, Policy
from tools import guard as guard_policy

VERSION_ROLLBACK_RUNG = OPERATIONS["version_rollback"].rung
ROLLBACK_OPERATIONS = frozenset({"version_rollback", "full_rollback"})
# causes no change can be verified against, whatever a policy maps
NEVER_ACT = frozenset({"healthy", "no_data", "unverifiable"})


# ---------------------------------------------------------------------- planner (pure)


def review_implicates(state: IncidentState, policy: Policy) -> bool:
    """Whether the release review found a bug in the release with confidence >= ``policy.release_confidence``."""
    review = state.review
    if not (review and review.status == "reviewed" and review.release):
        return False
    return any(float(f.get("confidence", 0) or 0) >= policy.release_confidence for f in review.findings)


def hypothesis(state: IncidentState, policy: Policy) -> str | None:
    """The diagnosed cause the ladder acts on, or None (the incident escalates).

    Diagnosis's pattern when it does not abstain, or when policy maps that pattern to rungs
    explicitly; a nothing-found diagnosis becomes "release" when the review confidently blames
    the release that shipped before the alert.
    """
    diagnosis = state.diagnosis
    if diagnosis is None or diagnosis.pattern in NEVER_ACT:
        return None
    if diagnosis.pattern in policy.pattern_rungs or not diagnosis.abstain:
        return diagnosis.pattern or None
    if diagnosis.pattern == "undetermined" and review_implicates(state, policy):
        return "release"
    return None


def known_good(state: IncidentState, settings: Settings | None) -> str | None:
    """The version to roll back to: diagnosis's last healthy version, else the service's configured one."""
    if state.diagnosis and state.diagnosis.known_good_release:
        return state.diagnosis.known_good_release
    if settings is not None:
        return settings.service(guard_policy.incident_service(state)).known_good_version
    return None


def rung_sequence(state: IncidentState, policy: Policy, settings: Settings | None = None) -> list[int]:
    """The rungs this incident walks: those that address its cause and have a target, history's best first."""
    return ladder_order(state, policy, settings).levels


def ladder_order(state: IncidentState, policy: Policy, settings: Settings | None = None) -> informed_ladder.LadderOrder:
    """The allowed rungs and the order the subject's history puts them in (agents/informed_ladder.py)."""
    subject = state.alert.subject.describe()
    allowed = allowed_rungs(state, policy, settings)
    return informed_ladder.order(allowed, state.recall, hypothesis(state, policy), policy, subject)


def allowed_rungs(state: IncidentState, policy: Policy, settings: Settings | None = None) -> list[int]:
    """The rungs that address the incident's cause and have a target, in ladder order."""
    pattern = hypothesis(state, policy)
    if pattern is None or not state.alert.subject.workload:
        return []
    target = known_good(state, settings)
    # A restart only resets a leak: skip it when one was already seen to (it climbed back), or when
    # the per-version history shows the climb began with a release (the version before held flat):
    # then the cause is known and the rollback removes it.
    cause = state.diagnosis.cause if state.diagnosis else {}
    reset_seen = bool(cause.get("reset_seen") or cause.get("leak_tied_to_release"))
    levels = []
    for level in policy.rungs_for(pattern):
        rung = policy.rung(level)
        if rung.operation is None or (rung.operation in ROLLBACK_OPERATIONS and not target):
            continue
        if reset_seen and rung.operation == "restart":
            continue
        levels.append(level)
    return levels


def why_no_action(state: IncidentState, policy: Policy, settings: Settings | None = None) -> str:
    """The sentence the incident escalates with when the planner has nothing (left) to do."""
    diagnosis = state.diagnosis
    if state.budget_left <= 0 and state.attempts:
        return "attempt budget spent"
    last = state.attempts[-1] if state.attempts else None
    if last is not None and last.outcome == "unverified":
        return f"attempt {last.n} ({last.action}) could not be verified: {last.note}; a person must check"
    if last is not None:
        return f"the rungs that address the diagnosed cause were tried; last: {last.action} ({last.note})"
    if diagnosis is not None and diagnosis.abstain and hypothesis(state, policy) is None:
        return f"no change made: {diagnosis.abstain}"
    pattern = hypothesis(state, policy) or (diagnosis.pattern if diagnosis else "")
    if pattern and policy.rungs_for(pattern) and not known_good(state, settings):
        return f"no change made: no version known to be healthy to roll back to ({pattern})"
    return f"no change made: no rung addresses the diagnosed cause ({pattern or 'none'})"


def plan_next(state: IncidentState, policy: Policy, settings: Settings | None = None) -> PlannedAction | None:
    """The next action, or None when nothing (more) addresses the cause or the budget is spent."""
    if state.triage is None or state.budget_left <= 0:
        return None
    if state.attempts and state.attempts[-1].outcome == "unverified":
        return None  # no reading after the last action: never climb on missing data
    informed = ladder_order(state, policy, settings)
    sequence = informed.levels
    if len(state.attempts) >= len(sequence):
        return None
    rung = policy.rung(sequence[len(state.attempts)])
    assert rung.operation is not None
    subject = state.alert.subject
    params: dict[str, Any] = {"service": guard_policy.incident_service(state)}
    if subject.namespace or state.alert.namespace:
        params["namespace"] = subject.namespace or state.alert.namespace
    params.update(rung.params)
    pattern = hypothesis(state, policy)
    reason = f"attempt {len(state.attempts) + 1}: rung {rung.level} ({rung.name}) for the diagnosed {pattern}"
    if rung.operation in ROLLBACK_OPERATIONS:
        target = known_good(state, settings)
        params["target"] = target
        diagnosis = state.diagnosis
        confidence = diagnosis.release_confidence if diagnosis else 0.0
        strength = "" if confidence >= 0.7 else f", moderate confidence {confidence:.0%}"
        reason += f", back to {target} (the last version whose signal was healthy{strength})"
    if informed.changed:
        reason += f"; order from history: rungs {informed.levels} (ladder {informed.ladder})"
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
    policy = deps.settings.policy
    action = plan_next(state, policy, deps.settings)
    update = NodeUpdate(state, deps, "plan")
    note = ""
    gate = update.llm("plan") if action is not None else None
    if action is not None and gate is not None:
        from agents.rollback_model import propose

        open_rungs = rung_sequence(state, policy, deps.settings)[len(state.attempts) :]

        def would_allow(candidate: PlannedAction) -> GuardDecision:
            ctx = guard_context(deps, state, str(candidate.params.get("service")))
            return guard_policy.check(candidate, state, ctx)

        proposal = propose(gate, state, policy, action, open_rungs, would_allow, known_good(state, deps.settings))
        action, note = proposal.action, proposal.note
        if proposal.refused is not None:
            update.record(proposal.refused)
    if action is None:
        why = why_no_action(state, policy, deps.settings)
        update.decide(why)
        diagnosed = state.diagnosis.pattern if state.diagnosis else ""
        unused = "" if state.attempts else informed_ladder.unused(state.recall, hypothesis(state, policy), diagnosed)
        if unused:  # history fixed other causes of this subject: say why it was not acted on
            update.decide(unused)
        return update.build(pending=None, escalation_reason=why)
    informed = ladder_order(state, policy, deps.settings)
    if not state.attempts and informed.reason:  # what history said about the rungs, before the first of them
        update.decide(informed.reason)
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
    """Run the attempt the guard recorded, once, under its idempotency key.

    An executor that could not be reached did nothing: the attempt keeps its rung and its
    key, waits ``policy.executor_recheck_s`` (a durable timer under ``serve``) and tries
    again, until ``policy.executor_wait_s`` has passed; then the incident escalates as
    "executor unreachable" with no budget spent (``IncidentState.budget_left``).
    """
    deps = runtime.context
    attempt = state.attempts[-1]
    unreachable = attempt.result is not None and attempt.result.get("status") == "unreachable"
    if attempt.result is not None and not unreachable:  # already executed before a crash: never act twice
        return {}
    assert attempt.action is not None
    if unreachable:  # nothing before this wait has side effects: on resume the node starts here again
        from agents.verify import _last_decision_at, _wait

        _wait(deps, deps.settings.policy.executor_recheck_s, _last_decision_at(state, "execute", deps.clock()))
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
    fields: dict[str, Any] = {}
    if outcome.get("status") == "unreachable":
        outcome, fields = _unreachable(attempt, outcome, deps)
    done = attempt.model_copy(update={"result": outcome})
    deps.on_event("execute", {"attempt": done.n, "action": done.action, "params": done.params, "result": outcome})
    update.decide(f"{done.action}: {outcome.get('status')} {outcome.get('detail') or outcome.get('error')}")
    return update.build(attempts=[*state.attempts[:-1], done], **fields)


def _unreachable(attempt: Attempt, outcome: dict[str, Any], deps: Deps) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keep when the executor was first unreachable; give up (escalate) after ``policy.executor_wait_s``."""
    from datetime import datetime

    now = deps.clock()
    previous = attempt.result or {}
    since = datetime.fromisoformat(str(previous.get("unreachable_since") or now.isoformat()))
    waited = (now - since).total_seconds()
    outcome = {**outcome, "unreachable_since": since.isoformat(), "waited_s": round(waited, 3)}
    if waited < deps.settings.policy.executor_wait_s:
        return outcome, {}
    reason = f"executor unreachable for {waited:.0f}s, nothing was changed (no budget spent): {outcome.get('error')}"
    return {**outcome, "gave_up": True}, {"escalation_reason": reason}


def _outcome(result: Any) -> dict[str, Any]:
    if result.ok:
        return dict(result.data)
    return {"status": "error", "detail": "", "error": result.error, "execution_time": 0.0}
