"""The LLM brain: a chat model from settings and an agent loop over recorded, guarded tools.

``llm.model: offline`` means no model: every agent runs its deterministic playbook.
``llm.model: openai:<name>`` builds ``ChatOpenAI`` with ``llm.base_url`` and the key
from the environment variable ``llm.api_key_env`` (OpenAI, DashScope, DeepSeek, vLLM,
Ollama...). The agent loop (``langchain.agents.create_agent``) sees tools that call
through a :class:`~tools.registry.ToolSession`, so a model's calls are validated,
allowlisted and recorded exactly like the playbook's; mutating tools are never given to
a model — they are reached only through the guard node.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from state.config import Settings
from tools.registry import ToolRegistry, ToolSession

OutputT = TypeVar("OutputT", bound=BaseModel)
MAX_RESULT_CHARS = 20_000  # keep one tool answer from flooding the model's context


class ModelConfigError(ValueError):
    """``llm.*`` settings that cannot produce a model (names the field)."""


def make_model(settings: Settings) -> Any | None:
    """The configured chat model, or None for the offline playbook."""
    spec = settings.llm.model.strip()
    if spec == "offline":
        return None
    provider, _, name = spec.partition(":")
    if provider != "openai" or not name:
        raise ModelConfigError(f"llm.model: expected 'offline' or 'openai:<model>', got {spec!r}")
    key = settings.secret(settings.llm.api_key_env)
    if not key:
        raise ModelConfigError(f"llm.api_key_env: environment variable {settings.llm.api_key_env} is not set")
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    return ChatOpenAI(
        model=name,
        base_url=settings.llm.base_url,
        api_key=SecretStr(key),
        temperature=settings.llm.temperature,
        max_retries=settings.llm.max_retries,
    )


def _calling(session: ToolSession, name: str) -> Any:
    def call(**kwargs: Any) -> str:
        result = session.call(name, **kwargs)
        return json.dumps(result.model_dump(), ensure_ascii=False, default=str)[:MAX_RESULT_CHARS]

    return call


def session_tools(catalog: ToolRegistry, session: ToolSession, names: list[str]) -> list[Any]:
    """LangChain tools for the read-only ``names``: schemas from ``catalog``, calls through ``session``."""
    from langchain_core.tools import StructuredTool

    return [
        StructuredTool.from_function(
            func=_calling(session, name),
            name=name,
            description=catalog.get(name).description,
            args_schema=catalog.get(name).input_model,
        )
        for name in names
        if catalog.has(name) and not catalog.is_mutating(name)
    ]


@dataclass(frozen=True)
class AgentOutcome(Generic[OutputT]):
    """What an LLM agent run produced: the structured answer, or why there is none."""

    output: OutputT | None
    error: str = ""
    steps: int = 0


def run_agent(
    model: Any,
    catalog: ToolRegistry,
    session: ToolSession,
    tool_names: list[str],
    system_prompt: str,
    task: str,
    output_model: type[OutputT],
    *,
    max_tool_calls: int = 12,
) -> AgentOutcome[OutputT]:
    """Run a tool-using agent to a structured ``output_model``; never raises for model faults.

    A malformed answer is retried by the structured-output strategy; when the run still
    fails the caller falls back to its playbook and says so.
    """
    from langchain.agents import create_agent
    from langchain.agents.middleware import AgentMiddleware, ModelCallLimitMiddleware, ToolCallLimitMiddleware

    limits: list[AgentMiddleware[Any, Any, Any]] = [
        ToolCallLimitMiddleware(run_limit=max_tool_calls, exit_behavior="end"),
        ModelCallLimitMiddleware(run_limit=max_tool_calls + 4, exit_behavior="end"),
    ]
    agent = create_agent(
        model,
        session_tools(catalog, session, tool_names),
        system_prompt=system_prompt,
        response_format=output_model,
        middleware=limits,
    )
    try:
        result = agent.invoke({"messages": [{"role": "user", "content": task}]})
    except (ValueError, ValidationError, TypeError, KeyError) as exc:
        return AgentOutcome(None, f"model run failed: {type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - provider SDKs raise many types; the playbook must still run
        return AgentOutcome(None, f"model unavailable: {type(exc).__name__}: {str(exc)[:200]}")
    steps = len(result.get("messages", []))
    structured = result.get("structured_response")
    if structured is None:
        return AgentOutcome(None, "model gave no structured answer", steps)
    if isinstance(structured, dict):
        try:
            structured = output_model.model_validate(structured)
        except ValidationError as exc:
            return AgentOutcome(None, f"model answer invalid: {exc.errors()[0]['msg']}", steps)
    return AgentOutcome(structured, "", steps)
