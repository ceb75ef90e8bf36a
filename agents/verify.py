"""Verify an attempt: wait, re-read the alert's own signal, and re-read it after a hold.

Two nodes, so each reading is checkpointed before the next wait: ``verify`` waits
``policy.verify_after_s`` and judges the first reading (one still firing but on its way back,
inside the signal's own range window ``rate(x[5m])``, is read again once the window has passed:
agents/signal.py ``settle_s``); when it cleared, ``hold`` waits
``policy.verify_hold_s`` and judges again (agents/verification.py: near the baseline, not
climbing back). Under ``serve`` each wait is a durable timer (an interrupt a worker resumes
after its not-before time), counted from the decision before it, so a re-run re-arms the
same timer. An action that made things worse is undone through the guard, once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.deps import Deps, NodeUpdate
from agents.rollback import _denied_call, _outcome, guard_context
from agents.signal import Check, band_of, check_signal, settle_s, signal_query
from agents.verification import Band, judge, recovering
from state.incident import Attempt, IncidentState, PlannedAction
from tools import guard as guard_policy


def _band(state: IncidentState) -> Band:
    """The healthy band diagnosis measured (a proxy probe's, for an alert without a metric)."""
    diagnosis = state.diagnosis
    if signal_query(state.alert) is None and diagnosis and diagnosis.proxy_baseline is not None:
        from agents.signal import PROXY_RISE

        return Band(diagnosis.proxy_baseline, diagnosis.proxy_baseline * PROXY_RISE)
    band = band_of(
        state.alert,
        (diagnosis.signal_query if diagnosis else None) or signal_query(state.alert),
        diagnosis.signal_baseline if diagnosis else None,
        diagnosis.signal_slope_per_h if diagnosis else None,
    )
    if diagnosis and diagnosis.signal_threshold is not None and band.threshold is None:
        band = Band(band.baseline, diagnosis.signal_threshold, diagnosis.high_is_bad, band.slope_per_h)
    if diagnosis and diagnosis.pattern == "capacity" and band.threshold is not None:
        # the load that caused it is still there: a scale-out is judged by the alert's threshold,
        # not by the pre-surge baseline (only the traffic going away would bring that back)
        band = Band(None, band.threshold, band.high_is_bad, band.slope_per_h)
    return band


def _read_after(update: NodeUpdate, state: IncidentState, band: Band) -> Check:
    """The alert's signal after an action: from Cloud Monitor when diagnosis read it there, else its query."""
    from agents import cloud_signal

    session = update.session("verify", allowed=frozenset({"execute_query", cloud_signal.TOOL}))
    diagnosis = state.diagnosis
    if diagnosis is not None and diagnosis.cloud_signal:
        signal = cloud_signal.CloudSignal.model_validate(diagnosis.cloud_signal)
        return cloud_signal.check(session, signal, band, update.deps.clock())
    return check_signal(session, state.alert, diagnosis, band)


def _wait(deps: Deps, seconds: float, since: datetime) -> None:
    """Let ``seconds`` pass: a durable timer under ``serve``, else the deps' sleep."""
    if deps.durable_timers:  # a worker releases the incident; any worker resumes it after the wait
        interrupt({"kind": "timer", "not_before": (since + timedelta(seconds=seconds)).isoformat()})
    else:
        deps.sleep(seconds)


def _last_decision_at(state: IncidentState, node: str, default: datetime) -> datetime:
    return next((d.at for d in reversed(state.decisions) if d.node == node), default)


def verify(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Wait, then re-read the alert's own signal; undo a reversible action that made it worse."""
    deps = runtime.context
    attempt = state.attempts[-1]
    if attempt.outcome is not None:
        return {}
    update = NodeUpdate(state, deps, "verify")
    if attempt.result and attempt.result.get("status") != "success":
        error = attempt.result.get("error") or attempt.result.get("detail") or "no detail"
        checked = attempt.model_copy(
            update={"verified": False, "outcome": "failed", "note": f"the action failed: {error}"}
        )
        update.decide(f"attempt {checked.n}: {checked.note}")
        return update.build(attempts=[*state.attempts[:-1], checked])
    if state.guard and state.guard.dry_run:
        note = "dry-run: nothing changed, signal not re-checked"
        checked = attempt.model_copy(update={"verified": False, "outcome": "dry_run", "note": note})
        update.decide(f"attempt {checked.n}: {note}")
        return update.build(attempts=[*state.attempts[:-1], checked])
    policy = deps.settings.policy
    acted_at = _last_decision_at(state, "execute", deps.clock())
    _wait(deps, policy.verify_after_s, acted_at)
    band = _band(state)
    reading = _read_after(update, state, band)
    settle = settle_s(state.alert, state.diagnosis)
    if reading.firing and settle > 0 and recovering(band, attempt.signal_before, reading.value):
        # on its way back, but the window still holds samples from before the action: read past it
        shown = f"{reading.value:.4g}" if reading.value is not None else "?"
        update.decide(f"attempt {attempt.n}: still firing ({shown}) inside the signal's {settle:g} s window; "
                      f"re-reading after it")  # fmt: skip
        _wait(deps, settle, acted_at + timedelta(seconds=policy.verify_after_s))
        reading = _read_after(update, state, band)
    verdict = judge(
        band, attempt.signal_before, reading.value, firing_after=reading.firing, hold_s=policy.hold_s,
        worse_factor=policy.worse_factor,
    )  # fmt: skip
    note = verdict.note if not reading.note or reading.value is not None else f"{verdict.note} ({reading.note})"
    checked = attempt.model_copy(
        update={"verified": verdict.fixed, "signal_after": reading.value, "outcome": verdict.outcome, "note": note}
    )
    update.decide(f"attempt {checked.n}: {note}")
    if verdict.outcome == "worse":
        checked = _undo(update, checked)
    deps.on_event(
        "verify",
        {"attempt": checked.n, "outcome": verdict.outcome, "signal_after": reading.value, "note": checked.note},
    )
    return update.build(attempts=[*state.attempts[:-1], checked])


def hold(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Wait ``policy.verify_hold_s`` after a cleared check and check again: a fix must hold."""
    deps = runtime.context
    attempt = state.attempts[-1]
    if attempt.outcome != "holding":
        return {}
    policy = deps.settings.policy
    _wait(deps, policy.hold_s, _last_decision_at(state, "verify", deps.clock()))
    update = NodeUpdate(state, deps, "hold")
    band = _band(state)
    reading = _read_after(update, state, band)
    verdict = judge(
        band, attempt.signal_before, attempt.signal_after, firing_after=False if attempt.signal_after is None else None,
        held=reading.value, firing_held=reading.firing, hold_s=policy.hold_s, worse_factor=policy.worse_factor,
    )  # fmt: skip
    checked = attempt.model_copy(
        update={
            "verified": verdict.fixed,
            "signal_held": reading.value,
            "outcome": verdict.outcome,
            "note": verdict.note,
        }
    )
    update.decide(f"attempt {checked.n}: {verdict.note}")
    deps.on_event(
        "verify",
        {"attempt": checked.n, "outcome": verdict.outcome, "signal_after": reading.value, "note": verdict.note},
    )
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
    undone = outcome.get("status") == "success"
    after_undo = None
    if undone:
        after_undo = _read_after(update, state, _band(state)).value
    note = f"{attempt.note}; undo {outcome.get('status')}: {outcome.get('detail') or outcome.get('error')}"
    checked = attempt.model_copy(
        update={"undone": undone, "undo_result": outcome, "signal_after_undo": after_undo, "note": note}
    )
    deps.on_event("undo", {"attempt": attempt.n, "action": attempt.action, "result": outcome})
    update.decide(f"attempt {attempt.n}: undid {attempt.action} ({outcome.get('status')}), signal now {after_undo}")
    return checked
