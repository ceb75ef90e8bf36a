"""The model's turn at planning: propose one mitigation as a tool call.

The model sees the incident, the evidence (which may contain text an attacker wrote: a
log line, a PR body) and the ladder's suggestion, and answers with a tool call. The
call is *only a proposal*: it becomes a :class:`PlannedAction` that the guard checks
like any other, so a model that obeys an injection produces a denied, recorded call,
never an executed one.
"""

from __future__ import annotations

import json
from typing import Any

from prompts import read_prompt
from state.incident import IncidentState, PlannedAction
from state.policy import OPERATIONS, Policy, operation_schema


def tool_specs() -> list[dict[str, Any]]:
    """The mutating operations as OpenAI-style function specs (what ``bind_tools`` takes)."""
    schema = operation_schema()
    return [
        {"type": "function", "function": {"name": spec.name, "description": spec.description, "parameters": schema}}
        for spec in OPERATIONS.values()
    ]


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


def propose(
    model: Any, state: IncidentState, policy: Policy, suggestion: PlannedAction
) -> tuple[PlannedAction | None, str]:
    """The model's proposal (None → keep the playbook's ``suggestion``) and a note for the timeline."""
    from langchain_core.messages import HumanMessage, SystemMessage

    messages = [
        SystemMessage(read_prompt("rollback_plan.md")),
        HumanMessage(
            f"Incident {state.incident_id}, attempt {len(state.attempts) + 1}.\n"
            f"Ladder suggests: {suggestion.operation} {json.dumps(suggestion.params)}\n\n"
            f"Evidence:\n{evidence(state)}"
        ),
    ]
    try:
        reply = model.bind_tools(tool_specs()).invoke(messages)
    except Exception as exc:  # noqa: BLE001 - any model failure falls back to the playbook
        return None, f"model failed ({type(exc).__name__}); playbook action kept"
    calls = getattr(reply, "tool_calls", None) or []
    if not calls:
        return None, "model proposed nothing; playbook action kept"
    call = calls[0]
    operation = str(call.get("name"))
    rung = policy.rung_of(operation)
    ladder_rung = next((r for r in policy.ladder if r.level == rung), None)
    return (
        PlannedAction(
            rung=rung or 0,
            rung_name=ladder_rung.name if ladder_rung else "outside the ladder",
            operation=operation,
            params=dict(call.get("args") or {}),
            reversible=bool(ladder_rung and ladder_rung.reversible),
            reason=f"attempt {len(state.attempts) + 1}: model proposed {operation}",
        ),
        "proposed by the model",
    )
