"""Every model request goes through a gate: bounded, redacted, recorded, and answerable from a recording.

A :class:`ModelGate` belongs to one node's update. Before a request it checks the
incident's budget (``policy.max_llm_tokens``, ``policy.max_llm_seconds``, counted over the
calls already in the state); it masks what is sent (:mod:`agents.llm_redact`); it records
the request's digest, the answer (content, tool calls, finish reason, usage), the model's
name and the timing as a :class:`~state.incident.ModelCall`; and it refuses an answer that
was cut by the length limit or that repeats itself. A fault is a :class:`ModelFault` whose
message says exactly what happened, which the agent turns into its fallback finding.

A replay hands the gate a :class:`RecordedModel` instead of a chat model: each request is
answered by the recorded answer with the same digest (and agent), so an LLM incident
replays exactly without calling a model; a request never recorded is a fault.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agents.llm_redact import Redactor
from state.config import Settings
from state.incident import IncidentState, ModelCall, ModelUsage
from tools import tracing

REPEAT_MIN_LINE = 12  # characters: shorter lines ("}", "- yes") repeat legitimately
REPEAT_TIMES = 3


class ModelFault(RuntimeError):
    """A model request that produced no usable answer; the message is the finding's reason."""


@dataclass
class RecordedModel:
    """Answers requests from recorded model calls (replay): by agent and digest, in order."""

    calls: list[ModelCall]
    _used: set[int] = field(default_factory=set)

    name = "recorded"

    def take(self, agent: str, digest: str) -> ModelCall | None:
        """The first unused recorded call of ``agent`` with ``digest``."""
        for index, call in enumerate(self.calls):
            if index not in self._used and call.agent == agent and call.digest == digest:
                self._used.add(index)
                return call
        return None


def model_name(model: Any) -> str:
    """A model's name as recorded (``model_name``/``model`` attribute, else its class)."""
    for attr in ("model_name", "model", "model_id"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__


def repeated_line(text: str) -> str | None:
    """A substantial line that occurs REPEAT_TIMES or more (a degenerate, looping answer), if any."""
    counts: dict[str, int] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) >= REPEAT_MIN_LINE:
            counts[line] = counts.get(line, 0) + 1
    worst = max(counts.items(), key=lambda kv: kv[1], default=None)
    if worst and worst[1] >= REPEAT_TIMES:
        return worst[0]
    # one long line that is the same chunk over and over (no newlines)
    for size in (40, 80, 160):
        if len(text) >= size * REPEAT_TIMES:
            chunk = text[-size:]
            if text.count(chunk) >= REPEAT_TIMES:
                return chunk
    return None


def _message_dict(message: Any) -> dict[str, Any]:
    """A LangChain message as the JSON that is recorded and hashed."""
    data: dict[str, Any] = {"role": getattr(message, "type", "unknown"), "content": message.text}
    calls = getattr(message, "tool_calls", None)
    if calls:
        data["tool_calls"] = [{"name": c.get("name"), "args": c.get("args"), "id": c.get("id")} for c in calls]
    if getattr(message, "tool_call_id", None):
        data["tool_call_id"] = message.tool_call_id
    return data


def _usage(reply: Any) -> ModelUsage:
    usage = getattr(reply, "usage_metadata", None) or {}
    inp, out = int(usage.get("input_tokens", 0) or 0), int(usage.get("output_tokens", 0) or 0)
    return ModelUsage(input_tokens=inp, output_tokens=out, total_tokens=int(usage.get("total_tokens", 0) or inp + out))


def _finish_reason(reply: Any) -> str | None:
    meta = getattr(reply, "response_metadata", None) or {}
    reason = meta.get("finish_reason") or meta.get("stop_reason") or meta.get("done_reason")
    return str(reason) if reason else None


def describe(exc: BaseException, settings: Settings, timeout_s: float | None = None) -> str:
    """One sentence for a failed request: timeout, unreachable server, HTTP status, or the error.

    ``timeout_s`` is the limit the request was sent with when it was less than ``llm.timeout_s``
    (the incident's time budget was nearly spent): a timeout then names the budget, not the setting.
    """
    name = type(exc).__name__
    text = " ".join(str(exc).split())[:240]
    llm = settings.llm
    if "Timeout" in name:
        if timeout_s is not None and timeout_s < llm.timeout_s:
            budget = settings.policy.max_llm_seconds
            return (
                f"model request timed out after {timeout_s:g}s (what policy.max_llm_seconds {budget:g} had left)"
                f" and {llm.max_retries} retries"
            )
        return f"model request timed out after {llm.timeout_s:g}s (llm.timeout_s) and {llm.max_retries} retries"
    if name == "APIConnectionError":
        return f"model server unreachable at {llm.base_url or 'the default endpoint'}: {text}"
    status = getattr(exc, "status_code", None)
    if status is not None:
        return f"model server answered HTTP {status}: {text}"
    return f"model request failed: {name}: {text}"


class ModelGate:
    """One node's door to the model: budget, redaction, recording, answer checks (see module doc)."""

    def __init__(
        self,
        model: Any,
        agent: str,
        settings: Settings,
        state: IncidentState | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_call: Callable[[ModelCall], None] | None = None,
        redactor: Redactor | None = None,
        start_seq: int | None = None,
    ) -> None:
        self.model = model
        self.agent = agent
        self.settings = settings
        self.clock = clock
        self.on_call = on_call
        self.redactor = redactor or Redactor.from_settings(settings)
        previous = state.model_calls if state is not None else []
        self._spent_tokens = sum(c.usage.total_tokens for c in previous)
        self._spent_s = sum(c.duration_ms for c in previous) / 1000
        self._start_seq = len(previous) if start_seq is None else start_seq
        self.calls: list[ModelCall] = []
        self._sent: dict[int, list[dict[str, Any]]] = {}  # seq → the whole messages it sent (for _compact)
        self.name = model_name(model)

    # ------------------------------------------------------------------ budget

    def spent_before(self, gates: Iterable[ModelGate]) -> None:
        """Count the calls of ``gates`` (earlier gates of the same node) against this gate's budget."""
        for gate in gates:
            self._spent_tokens += sum(c.usage.total_tokens for c in gate.calls)
            self._spent_s += sum(c.duration_ms for c in gate.calls) / 1000

    @property
    def tokens_spent(self) -> int:
        """The incident's model tokens, this gate's calls included."""
        return self._spent_tokens + sum(c.usage.total_tokens for c in self.calls)

    @property
    def seconds_spent(self) -> float:
        """The incident's model wall time, this gate's calls included."""
        return self._spent_s + sum(c.duration_ms for c in self.calls) / 1000

    def budget_problem(self) -> str:
        """Why no further request may be made (empty: it may)."""
        policy = self.settings.policy
        if policy.max_llm_tokens is not None and self.tokens_spent >= policy.max_llm_tokens:
            return f"token budget spent: {self.tokens_spent} of policy.max_llm_tokens {policy.max_llm_tokens}"
        if policy.max_llm_seconds is not None and self.seconds_spent >= policy.max_llm_seconds:
            return f"time budget spent: {self.seconds_spent:.1f}s of policy.max_llm_seconds {policy.max_llm_seconds:g}"
        return ""

    def _timeout(self) -> float:
        """The next request's limit: llm.timeout_s, or less when the incident's time budget is nearly spent."""
        limit = self.settings.llm.timeout_s
        budget = self.settings.policy.max_llm_seconds
        # at least a second of what the budget has left (a request cannot be asked to finish in no time)
        return min(limit, max(1.0, budget - self.seconds_spent)) if budget is not None else limit

    # ------------------------------------------------------------------ requests

    def mask_messages(self, messages: Sequence[Any]) -> list[Any]:
        """Copies of LangChain ``messages`` with their text masked."""
        masked = []
        for message in messages:
            content = message.content
            if isinstance(content, str):
                content = self.redactor.mask(content)
            update: dict[str, Any] = {"content": content}
            if getattr(message, "tool_calls", None):
                update["tool_calls"] = [
                    {**c, "args": self.redactor.mask_value(c.get("args") or {})} for c in message.tool_calls
                ]
            masked.append(message.model_copy(update=update))
        return masked

    def invoke(
        self,
        messages: Sequence[Any],
        *,
        tools: Iterable[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
        response_format: dict[str, Any] | None = None,
        purpose: str = "",
    ) -> Any:
        """Send ``messages`` (masked) and return the model's AIMessage; ModelFault when there is no usable answer."""
        problem = self.budget_problem()
        if problem:
            raise ModelFault(problem)
        sent = self.mask_messages(messages)
        tool_list = list(tools or [])
        request: dict[str, Any] = {
            "messages": [_message_dict(m) for m in sent],
            "tools": [t["function"]["name"] for t in tool_list],
            "tool_choice": tool_choice,
            "response_format": response_format,
            "purpose": purpose,
        }
        digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
        request = self._compact(request)
        if isinstance(self.model, RecordedModel):
            return self._replayed(digest, request)
        started, t0 = self.clock(), time.perf_counter()
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": self.name,
            "alertpilot.agent": self.agent,
        }
        timeout = self._timeout()
        with tracing.span(f"chat {self.name}", attributes) as current:
            try:
                reply = self._send(sent, tool_list, tool_choice, response_format, timeout)
            except Exception as exc:  # noqa: BLE001 - provider SDKs raise many types; each becomes a stated fault
                reason = describe(exc, self.settings, timeout if self.speaks_openai else None)
                self._record(digest, request, started, t0, error=reason)
                if current is not None:
                    current.set_attribute("error.type", type(exc).__name__)
                raise ModelFault(reason) from None
            call = self._record(digest, request, started, t0, reply=reply)
            if current is not None:
                current.set_attribute("gen_ai.usage.input_tokens", call.usage.input_tokens)
                current.set_attribute("gen_ai.usage.output_tokens", call.usage.output_tokens)
                current.set_attribute("gen_ai.response.finish_reasons", [call.finish_reason or ""])
        self._check(call)
        return reply

    def _compact(self, request: dict[str, Any]) -> dict[str, Any]:
        """The request as recorded, in linear rather than quadratic space over a tool loop.

        A turn that continues this gate's previous conversation keeps only the messages it
        adds (``continues`` names the call it extends). The digest is of the whole request.
        """
        messages = request["messages"]
        for previous in reversed(self.calls):
            before = self._sent.get(previous.seq)
            if before is not None and messages[: len(before)] == before:
                self._sent[self._start_seq + len(self.calls)] = messages
                return {**request, "messages": messages[len(before) :], "continues": previous.seq}
        self._sent[self._start_seq + len(self.calls)] = messages
        return request

    def _send(
        self,
        messages: list[Any],
        tools: list[dict[str, Any]],
        tool_choice: str | None,
        response_format: dict[str, Any] | None,
        timeout: float,
    ) -> Any:
        runnable = self.model.bind_tools(tools, tool_choice=tool_choice) if tools else self.model
        kwargs: dict[str, Any] = {}
        takes_format = self.speaks_openai or getattr(self.model, "accepts_response_format", False)
        if response_format is not None and takes_format:
            kwargs["response_format"] = response_format
        if self.speaks_openai:
            kwargs["timeout"] = timeout
        return runnable.invoke(messages, **kwargs)

    @property
    def speaks_openai(self) -> bool:
        """Whether the model is an OpenAI-compatible client (response_format and per-request timeouts apply).

        Another chat model gets ``response_format`` only when it says it takes one
        (``accepts_response_format = True``); the answer is validated either way.
        """
        return any(cls.__name__ == "BaseChatOpenAI" for cls in type(self.model).__mro__)

    def _record(
        self,
        digest: str,
        request: dict[str, Any],
        started: datetime,
        t0: float,
        *,
        reply: Any = None,
        error: str = "",
    ) -> ModelCall:
        call = ModelCall(
            seq=self._start_seq + len(self.calls),
            agent=self.agent,
            model=self.name,
            digest=digest,
            request=request,
            status="error" if error else "success",
            content=reply.text if reply is not None else "",
            tool_calls=[
                {"name": c.get("name"), "args": c.get("args"), "id": c.get("id")}
                for c in (getattr(reply, "tool_calls", None) or [])
            ],
            finish_reason=_finish_reason(reply) if reply is not None else None,
            usage=_usage(reply) if reply is not None else ModelUsage(),
            started_at=started,
            duration_ms=round((time.perf_counter() - t0) * 1000, 3),
            error=error,
        )
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        return call

    def _check(self, call: ModelCall) -> None:
        """Refuse an answer cut by the length limit or one that loops."""
        if call.finish_reason == "length":
            cap = self.settings.llm.max_output_tokens
            raise ModelFault(f"answer cut by the length limit (finish_reason length, llm.max_output_tokens {cap})")
        looping = repeated_line(call.content)
        if looping:
            raise ModelFault(f"answer repeats itself: {looping[:80]!r} {REPEAT_TIMES}+ times")

    def _replayed(self, digest: str, request: dict[str, Any]) -> Any:
        from langchain_core.messages import AIMessage

        assert isinstance(self.model, RecordedModel)
        recorded = self.model.take(self.agent, digest)
        if recorded is None:
            raise ModelFault(f"no recorded model answer for this {self.agent} request (replay calls no model)")
        call = recorded.model_copy(update={"seq": self._start_seq + len(self.calls), "request": request})
        self.calls.append(call)
        if recorded.status == "error":
            raise ModelFault(recorded.error)
        self._check(call)
        calls = [{"name": c["name"], "args": c.get("args") or {}, "id": c.get("id")} for c in recorded.tool_calls]
        metadata = {"finish_reason": recorded.finish_reason} if recorded.finish_reason else {}
        return AIMessage(content=recorded.content, tool_calls=calls, response_metadata=metadata)
