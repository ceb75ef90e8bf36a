"""The baseline (``eval --agent react``): one chat model as the whole incident agent over a case's tools.

The product's LLM mode is the incident graph with the model in every role
(``evals.episodes.run_graph``); this single ReAct-style loop is kept only to compare with.

The model sees the alert and the whole catalog — the read tools and the devops
operations. Each call goes through a :class:`~tools.registry.ToolSession`, so a call to
a tool that does not exist or with bad arguments is recorded (and scored) instead of
crashing the run. Every mutating call first passes the same code guard as the graph
(``tools.guard.check``: budget, scope, dry-run, approval); an approval is answered by the
case's simulated human. This measures the model's own tool use — the number the issue
calls MCP call accuracy — in the same worlds the offline playbook runs in.
"""

from __future__ import annotations

import json
import re
from typing import Any

from evals.case import Case
from evals.scoring import Episode
from evals.worlds import CaseWorld
from prompts import read_prompt
from state.alert import Alert
from state.incident import Attempt, IncidentState, PlannedAction, ToolCall
from state.policy import HUMAN_RUNG, OPERATIONS
from tools.registry import ToolBackend, ToolResult, ToolSession

MAX_TURNS = 16
MAX_RESULT_CHARS = 6_000


class GuardedTools:
    """A backend whose mutating calls pass ``tools.guard.check`` first (like the graph's guard node)."""

    def __init__(
        self, inner: ToolBackend, case: Case, world: CaseWorld, incident_id: str, alert_index: int = 0
    ) -> None:
        from agents.triage import assess
        from evals.episodes import human_for

        self.inner = inner
        self.alert = case.alerts[alert_index]
        self.human = human_for(case, alert_index)
        self.settings = world.settings
        self.clock = world.clock
        self.incident_id = incident_id
        alert = self.alert
        self.triage = assess(alert, self.settings.service(alert.service), self.settings.triage, self.clock())
        self.attempts: list[Attempt] = []

    def has(self, name: str) -> bool:
        """Whether the tool exists."""
        return self.inner.has(name)

    def is_mutating(self, name: str) -> bool:
        """Whether the tool changes the world."""
        return self.inner.is_mutating(name)

    def invoke(self, name: str, args: dict[str, Any]) -> ToolResult:
        """Run a read directly; run a mutating call only when the guard allows it."""
        if not self.inner.is_mutating(name):
            return self.inner.invoke(name, args)
        from tools import guard

        spec = OPERATIONS.get(name)
        rung = spec.rung if spec else HUMAN_RUNG
        action = PlannedAction(rung=rung, rung_name=name, operation=name, params=args)
        state = IncidentState(
            incident_id=self.incident_id, alert=self.alert, triage=self.triage, attempts=self.attempts
        )
        decision = guard.check(action, state, guard.context(self.settings, self.clock(), len(self.attempts)))
        if decision.allowed and decision.needs_approval and not decision.dry_run:
            refusal = self._approval_refusal()
            if refusal:
                return ToolResult(status="denied", error=refusal)
        if not decision.allowed:
            return ToolResult(status="denied", error=f"guard: {decision.reason}")
        n = len(self.attempts) + 1
        key = f"{self.incident_id}:{n}"
        self.attempts.append(Attempt(n=n, rung=action.rung, action=name, idempotency_key=key, started_at=self.clock()))
        if decision.dry_run:
            return ToolResult(status="success", data={"status": "success", "detail": f"dry-run: {name} {args}"})
        return self.inner.invoke(name, {**args, "idempotency_key": key})

    def _approval_refusal(self) -> str:
        """Why the case's human does not approve (empty = approved), as the graph's guard node decides."""
        from evals.case import approver
        from tools.guard import answered

        human = self.human
        by = approver(human, self.settings.users, self.settings.acting_user)
        decision = answered(self.settings, {"approved": human.approve, "by": by, "reason": human.reason})
        return "" if decision.allowed else decision.reason


def _langchain_tools(world: CaseWorld) -> list[Any]:
    from langchain_core.tools import StructuredTool

    def never(**_: Any) -> str:  # the loop below runs tools itself, through the session
        raise RuntimeError("tools are run by the eval loop")

    return [
        StructuredTool.from_function(func=never, name=t.name, description=t.description, args_schema=t.input_model)
        for t in world.catalog.tools()
    ]


def _task(alert: Alert) -> str:
    data = alert.model_dump(mode="json", exclude={"raw", "fingerprint", "group_key"})
    return "Alert:\n" + json.dumps(data, ensure_ascii=False, indent=1)


def final_entities(text: str) -> list[str]:
    """``root_cause_entities`` from the model's closing JSON (lenient: the first {...} block)."""
    match = re.search(r"\{.*\}", text or "", re.S)
    if not match:
        return []
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return []
    entities = data.get("root_cause_entities") if isinstance(data, dict) else None
    return [str(e) for e in entities] if isinstance(entities, list) else []


def run_model(case: Case, world: CaseWorld, model: Any, trial: int, alert_index: int = 0) -> Episode:
    """Let ``model`` handle alert ``alert_index`` of ``case`` with the case's tools; record and return the episode."""
    from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

    alert = case.alerts[alert_index]
    backend = GuardedTools(world.backend, case, world, _incident_id(case, trial, alert_index), alert_index)
    session = ToolSession(backend=backend, agent="model", allowed=frozenset(world.catalog.names()))
    bound = model.bind_tools(_langchain_tools(world), tool_choice="auto")  # explicit: some servers ignore tools
    messages: list[Any] = [SystemMessage(read_prompt("eval_agent.md")), HumanMessage(_task(alert))]
    tokens, turns, text, error = 0, 0, "", ""
    for turns in range(1, MAX_TURNS + 1):  # noqa: B007 - turns is reported after the loop
        try:
            reply = bound.invoke(messages)
        except Exception as exc:  # noqa: BLE001 - provider SDKs raise many types; the episode records it
            error = f"model call failed: {type(exc).__name__}: {str(exc)[:200]}"
            break
        messages.append(reply)
        usage = getattr(reply, "usage_metadata", None) or {}
        tokens += int(usage.get("total_tokens", 0))
        if not reply.tool_calls:
            text = str(reply.content)
            break
        for call in reply.tool_calls:
            args = call.get("args") if isinstance(call.get("args"), dict) else {}
            result = _call(session, world, call["name"], args)
            content = json.dumps(result.model_dump(), ensure_ascii=False, default=str)[:MAX_RESULT_CHARS]
            messages.append(ToolMessage(content=content, tool_call_id=call.get("id") or call["name"]))
    return Episode(
        case_id=case.id,
        trial=trial,
        calls=list(session.calls),
        entities=final_entities(text),
        status=None,
        steps=turns + len(session.calls),
        tokens=tokens,
        model_calls=turns,
        error=error,
        alert_index=alert_index,
        fingerprint=alert.fingerprint,
        alert_name=alert.name,
    )


def _incident_id(case: Case, trial: int, alert_index: int) -> str:
    """The episode's incident id (idempotency keys derive from it); one per alert of a group."""
    return f"eval-{case.id}-{trial}" + (f"-{alert_index}" if alert_index else "")


def _call(session: ToolSession, world: CaseWorld, name: str, args: dict[str, Any]) -> ToolResult:
    """Call through the session; a tool the catalog lacks is recorded as an error, never raised."""
    if not world.catalog.has(name):
        result = ToolResult(status="error", error=f"unknown tool {name!r}")
        session.calls.append(
            ToolCall(
                seq=len(session.calls), agent=session.agent, tool=name, args=args, status="error", error=result.error
            )
        )
        return result
    return session.call(name, **args)
