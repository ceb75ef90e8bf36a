"""The tool-using agent loop every LLM role shares, written to what real OpenAI-compatible servers accept.

Two phases. **Investigate**: the model gets the read tools, bound with an explicit
``tool_choice: "auto"`` (a server that sees tools without it may ignore them, and
``"required"`` is refused by some and not enforced by others); each call goes through the
incident's :class:`~agents.llm_scope.Scope` and the recording :class:`~tools.registry.ToolSession`.
An identical call repeated is not run again: the model is told so, and a second repeat
ends the phase (the loop breaker). **Answer**: the structured answer is asked for by
``llm.structured_output``:

- ``json_schema``: the provider enforces the schema (``response_format: json_schema``);
- ``tool_calling``: an answer tool the model calls (``tool_choice: "auto"``);
- ``json_object``: JSON mode plus the schema in the prompt (the widest support).

Every answer is validated against the pydantic model; an invalid one gets one repair turn
naming the error, then the run fails with that error. Any :class:`~agents.llm_calls.ModelFault`
(timeout, HTTP error, budget, length cut, repetition) ends the run with its reason; the
caller falls back to its playbook and states the reason in a finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from agents.llm_calls import ModelFault, ModelGate
from agents.llm_scope import Scope
from state.incident import ToolCall
from tools.registry import ToolRegistry, ToolSession

OutputT = TypeVar("OutputT", bound=BaseModel)
MAX_RESULT_CHARS = 8_000  # keep one tool answer from flooding a small context
ANSWER_TOOL = "final_answer"
MAX_REPEATS = 2


@dataclass(frozen=True)
class AgentOutcome(Generic[OutputT]):
    """What an LLM agent run produced: the structured answer, or exactly why there is none."""

    output: OutputT | None
    error: str = ""
    steps: int = 0


def tool_spec(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI-style function spec (what ``bind_tools`` takes)."""
    return {"type": "function", "function": {"name": name, "description": description[:1000], "parameters": schema}}


def read_tool_specs(catalog: ToolRegistry, names: list[str]) -> list[dict[str, Any]]:
    """Specs of the read-only ``names`` the catalog has (mutating tools are never offered)."""
    return [
        tool_spec(n, catalog.get(n).description, catalog.get(n).input_model.model_json_schema())
        for n in names
        if catalog.has(n) and not catalog.is_mutating(n)
    ]


def parse_json(text: str) -> Any:
    """The JSON value in a model's text: the whole text, else a fenced block, else the outermost braces."""
    text = text.strip()
    candidates = [text]
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        candidates.append(fenced.group(1))
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    raise ValueError("the answer is not JSON")


def validate_answer(output_model: type[OutputT], data: Any) -> OutputT:
    """``data`` as ``output_model``; ValueError naming the first invalid field."""
    try:
        return output_model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        raise ValueError(f"{where}: {first['msg']}") from None


@dataclass
class _Run:
    gate: ModelGate
    session: ToolSession | None
    scope: Scope
    messages: list[Any]
    offered: frozenset[str] = frozenset()
    steps: int = 0

    def deny(self, name: str, args: dict[str, Any], reason: str) -> None:
        """Record a call the loop refused (never run) in the session, numbered in sequence."""
        session = self.session
        assert session is not None
        mutating = session.backend.has(name) and session.backend.is_mutating(name)
        session.calls.append(
            ToolCall(seq=session.start_seq + len(session.calls), agent=session.agent, tool=name, args=args,
                     status="denied", error=reason, mutating=mutating)
        )  # fmt: skip


def _execute(run: _Run, call: dict[str, Any], seen: dict[str, int]) -> tuple[str, bool]:
    """Run one tool call the model asked for; (what to tell the model, whether it was a repeat)."""
    name = str(call.get("name"))
    given = call.get("args")
    args: dict[str, Any] = given if isinstance(given, dict) else {}
    key = f"{name}:{json.dumps(args, sort_keys=True, default=str)}"
    if key in seen:
        return f"You already called {name} with these arguments (call {seen[key]}); its answer is above. " \
               "Do not repeat a call: use what you have or give your final answer.", True  # fmt: skip
    seen[key] = len(seen) + 1
    if name not in run.offered:
        refusal = f"{name} is not one of the tools offered ({', '.join(sorted(run.offered))})"
    else:
        bound, refusal = run.scope.bind(name, args)
    if refusal:
        run.deny(name, args, refusal)
        return json.dumps({"status": "denied", "error": refusal}), False
    assert run.session is not None
    result = run.session.call(name, **bound)
    limit = min(MAX_RESULT_CHARS, run.gate.settings.llm.max_prompt_chars // 2)
    return json.dumps(result.model_dump(), ensure_ascii=False, default=str)[:limit], False


def _investigate(run: _Run, tools: list[dict[str, Any]], max_tool_calls: int) -> Any:
    """The tool phase; returns the model's last reply (which made no tool call), or None when cut short."""
    from langchain_core.messages import ToolMessage

    seen: dict[str, int] = {}
    repeats = made = 0
    while made < max_tool_calls:
        reply = run.gate.invoke(run.messages, tools=tools, tool_choice="auto", purpose="investigate")
        run.steps += 1
        run.messages.append(reply)
        if not reply.tool_calls:
            return reply
        for call in reply.tool_calls:
            text, repeat = _execute(run, call, seen)
            repeats += repeat
            made += not repeat
            run.messages.append(ToolMessage(content=text, tool_call_id=call.get("id") or str(call.get("name"))))
        if repeats >= MAX_REPEATS:
            break
    return None


def _ask(run: _Run, output_model: type[BaseModel], strategy: str) -> Any:
    """One request for the final answer; returns the raw data (dict) the model gave."""
    schema = output_model.model_json_schema()
    if strategy == "tool_calling":
        spec = tool_spec(ANSWER_TOOL, "Give your final answer.", schema)
        reply = run.gate.invoke(run.messages, tools=[spec], tool_choice="auto", purpose="answer")
        run.messages.append(reply)
        for call in reply.tool_calls or []:
            if call.get("name") == ANSWER_TOOL:
                return call.get("args") or {}
        return parse_json(str(reply.content))
    if strategy == "json_schema":
        response_format: dict[str, Any] = {
            "type": "json_schema",
            "json_schema": {"name": output_model.__name__, "schema": schema},
        }
    else:
        response_format = {"type": "json_object"}
    reply = run.gate.invoke(run.messages, response_format=response_format, purpose="answer")
    run.messages.append(reply)
    return parse_json(str(reply.content))


def _answer(run: _Run, output_model: type[OutputT], strategy: str, first: Any) -> OutputT:
    """The validated structured answer: the investigation's closing reply when it already is one, else asked for."""
    from langchain_core.messages import HumanMessage

    if first is not None and str(first.content).strip():
        try:
            return validate_answer(output_model, parse_json(str(first.content)))
        except ValueError:
            pass  # not the answer yet: ask for it
    run.messages.append(HumanMessage("Give your final answer now: one JSON object matching the schema, nothing else."))
    problem = ""
    for turn in range(2):  # the answer, then one repair turn
        try:
            run.steps += 1
            return validate_answer(output_model, _ask(run, output_model, strategy))
        except ValueError as exc:
            problem = str(exc)
        if turn == 0:
            run.messages.append(
                HumanMessage(f"That answer is invalid ({problem}). Reply again with only the corrected JSON object.")
            )
    raise ModelFault(f"answer invalid after one repair turn: {problem}")


def schema_instruction(output_model: type[BaseModel]) -> str:
    """The closing instruction every system prompt gets: answer as JSON of this schema."""
    schema = json.dumps(output_model.model_json_schema(), ensure_ascii=False)
    return f"\n\nWhen you are done, answer with one JSON object (no prose, no Markdown) matching this schema:\n{schema}"


def run_agent(
    gate: ModelGate,
    catalog: ToolRegistry | None,
    session: ToolSession | None,
    tool_names: list[str],
    system_prompt: str,
    task: str,
    output_model: type[OutputT],
    *,
    scope: Scope | None = None,
    check: Callable[[OutputT], str] | None = None,
) -> AgentOutcome[OutputT]:
    """Run the loop to a validated ``output_model``; never raises for model faults (see module doc).

    ``check`` may refuse a valid answer for a reason of the caller's (a sentence; empty = accept).
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    settings = gate.settings.llm
    run = _Run(gate, session, scope or Scope(), [SystemMessage(system_prompt + schema_instruction(output_model)),
                                                 HumanMessage(task)])  # fmt: skip
    tools = read_tool_specs(catalog, tool_names) if catalog is not None and session is not None else []
    run.offered = frozenset(t["function"]["name"] for t in tools)
    try:
        first = _investigate(run, tools, settings.max_tool_calls) if tools else None
        answer = _answer(run, output_model, settings.structured_output, first)
    except ModelFault as exc:
        return AgentOutcome(None, str(exc), run.steps)
    problem = check(answer) if check else ""
    if problem:
        return AgentOutcome(None, f"answer refused: {problem}", run.steps)
    return AgentOutcome(answer, "", run.steps)
