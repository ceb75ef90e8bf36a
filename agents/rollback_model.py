"""The model's turn at planning: propose one mitigation among the rungs still open to this incident.

The playbook plans first (:func:`agents.rollback.plan_next`). The model is then offered
only the operations of the rungs :func:`agents.rollback.rung_sequence` has not yet walked
for this incident, as tools (bound with ``tool_choice: "auto"``), and answers with one
call. The call is *only a proposal*: its arguments are validated (the operation schema,
the incident's own service and namespace, the version to return to), and it is checked
by the guard's pure :func:`tools.guard.check` before it replaces the playbook's action.
A proposal that is invalid, outside the open rungs, or that the guard would deny falls
back to the playbook's planned action and says why (a decision), so a model that obeys
an injected instruction can never escalate, skip or widen the ladder by itself; the guard
node still checks whatever is planned.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from agents.llm_calls import ModelFault, ModelGate
from agents.llm_loop import tool_spec
from prompts import read_prompt
from state.incident import GuardDecision, IncidentState, PlannedAction, ToolCall
from state.policy import OPERATIONS, OperationArgs, Policy, operation_schema

Guard = Callable[[PlannedAction], GuardDecision]


def tool_specs(operations: list[str]) -> list[dict[str, Any]]:
    """The offered operations as OpenAI-style function specs."""
    schema = operation_schema()
    return [tool_spec(op, OPERATIONS[op].description, schema) for op in operations if op in OPERATIONS]


def open_operations(policy: Policy, open_rungs: list[int]) -> dict[str, int]:
    """Operation → the open rung that runs it (the first, in ladder order)."""
    offered: dict[str, int] = {}
    for level in open_rungs:
        operation = policy.rung(level).operation
        if operation is not None and operation not in offered:
            offered[operation] = level
    return offered


def evidence(state: IncidentState) -> str:
    """The incident's evidence as text for the model (alert, findings, review)."""
    alert = state.alert
    lines = [f"alert {alert.name} on {alert.service or alert.workload} ns={alert.namespace} sev={alert.severity}"]
    lines += [f"{k}: {v}" for k, v in alert.annotations.items()]
    for finding in state.findings:
        lines.append(f"[{finding.kind}] {finding.title}: {finding.detail}")
    if state.diagnosis:
        lines.append(f"diagnosis: {state.diagnosis.summary}")
    if state.review:
        lines += [f"review: {json.dumps(f, ensure_ascii=False)}" for f in state.review.findings]
    return "\n".join(lines)


def _messages(state: IncidentState, suggestion: PlannedAction, offered: dict[str, int], limit: int) -> list[Any]:
    from langchain_core.messages import HumanMessage, SystemMessage

    return [
        SystemMessage(read_prompt("rollback_plan.md")),
        HumanMessage(
            f"Incident {state.incident_id}, attempt {len(state.attempts) + 1}.\n"
            f"Operations you may choose (one call): {', '.join(offered)}.\n"
            f"Ladder suggests: {suggestion.operation} {json.dumps(suggestion.params, ensure_ascii=False)}\n\n"
            f"Evidence:\n{evidence(state)[:limit]}"
        ),
    ]


def validated(
    call: dict[str, Any],
    suggestion: PlannedAction,
    offered: dict[str, int],
    policy: Policy,
    target: str | None,
    attempt: int,
) -> tuple[PlannedAction | None, str]:
    """The model's call as a planned action, or why it cannot be one."""
    operation = str(call.get("name"))
    if operation not in offered:
        return None, f"{operation} is not among the open rungs ({', '.join(offered)})"
    given = call.get("args")
    args: dict[str, Any] = given if isinstance(given, dict) else {}
    try:
        parsed = OperationArgs.model_validate({**args, "service": args.get("service") or suggestion.params["service"]})
    except ValidationError as exc:
        first = exc.errors()[0]
        return None, f"{operation} arguments invalid: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    for key in ("service", "namespace"):
        own = suggestion.params.get(key)
        given = getattr(parsed, key)
        if given is not None and own is not None and given != own:
            return None, f"{key} {given!r} is not this incident's {own!r}"
    rung = policy.rung(offered[operation])
    params = {k: v for k, v in parsed.model_dump(exclude_none=True).items() if k != "undo" or v}
    params = {**params, **{k: v for k, v in suggestion.params.items() if k in ("service", "namespace")}}
    params = {**rung.params, **params}
    if operation in ("version_rollback", "full_rollback"):
        if params.get("target") not in (None, target):
            return None, f"target {params.get('target')!r} is not the last healthy version {target!r}"
        params["target"] = target
    return (
        PlannedAction(
            rung=rung.level,
            rung_name=rung.name,
            operation=operation,
            params=params,
            reversible=rung.reversible,
            reason=f"attempt {attempt}: rung {rung.level} ({rung.name}) proposed by the model",
        ),
        "",
    )


@dataclass(frozen=True)
class Proposal:
    """What planning with the model came to: the action to plan, a note for the decision, a refused call."""

    action: PlannedAction
    note: str
    refused: ToolCall | None = None  # the model's call when it was refused (recorded as denied, never run)


def _refused(call: dict[str, Any], reason: str) -> ToolCall:
    given = call.get("args")
    return ToolCall(
        seq=0,
        agent="rollback",
        tool=str(call.get("name")),
        args=given if isinstance(given, dict) else {},
        status="denied",
        error=reason,
        mutating=True,
    )


def propose(
    gate: ModelGate,
    state: IncidentState,
    policy: Policy,
    suggestion: PlannedAction,
    open_rungs: list[int],
    guard: Guard,
    target: str | None = None,
) -> Proposal:
    """The action to plan (the model's when valid and allowed, else ``suggestion``), and why."""
    offered = open_operations(policy, open_rungs)
    if not offered:
        return Proposal(suggestion, "no rung open to offer the model; playbook action kept")
    try:
        reply = gate.invoke(
            _messages(state, suggestion, offered, gate.settings.llm.max_prompt_chars),
            tools=tool_specs(list(offered)),
            tool_choice="auto",
            purpose="plan",
        )
    except ModelFault as exc:
        return Proposal(suggestion, f"no usable model proposal ({exc}); playbook action kept")
    calls = getattr(reply, "tool_calls", None) or []
    if not calls:
        return Proposal(suggestion, "model proposed nothing; playbook action kept")
    action, problem = validated(calls[0], suggestion, offered, policy, target, len(state.attempts) + 1)
    if action is None:
        note = f"model proposal refused: {problem}; playbook action kept"
        return Proposal(suggestion, note, _refused(calls[0], problem))
    decision = guard(action)
    if not decision.allowed:
        why = f"the guard would deny {action.operation}: {decision.reason}"
        return Proposal(suggestion, f"model proposal refused: {why}; playbook action kept", _refused(calls[0], why))
    if action.operation == suggestion.operation and action.params == suggestion.params:
        return Proposal(suggestion, "the model agreed with the playbook")
    return Proposal(action, f"proposed by the model ({action.operation}) instead of {suggestion.operation}")
