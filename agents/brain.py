"""The LLM brain: the chat model the settings name, bounded, and the gates nodes reach it through.

``llm.model: offline`` means no model: every agent runs its deterministic playbook.
``llm.model: openai:<name>`` is any OpenAI-compatible API (OpenAI, DashScope/Qwen,
DeepSeek, vLLM, Ollama, llama.cpp's ``llama-server``) at ``llm.base_url`` with the key
from the environment variable ``llm.api_key_env`` (a server on this machine needs none).
``llm.model: <provider>:<name>`` (``anthropic:...``, ``ollama:...``) goes through
LangChain's provider-agnostic ``init_chat_model`` when that provider's package is installed.

Every model is built bounded: ``timeout`` = ``llm.timeout_s`` (without it the SDK waits
forever), ``max_retries``, and an output cap of ``llm.max_output_tokens`` (without it a
small model writes to the end of its context). Calls then go through
:class:`agents.llm_calls.ModelGate` (budget, redaction, recording) and the shared loop
:func:`agents.llm_loop.run_agent`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from agents.llm_loop import AgentOutcome, run_agent
from state.config import Settings

__all__ = ["AgentOutcome", "ModelConfigError", "make_model", "run_agent"]

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
LOCAL_KEY = "not-needed"  # what an OpenAI-compatible server on this machine gets when no key is configured


class ModelConfigError(ValueError):
    """``llm.*`` settings that cannot produce a model (names the field)."""


def _compatible_chat_openai() -> type[Any]:
    """``ChatOpenAI`` with the two request-shape fixes OpenAI-compatible servers need (built lazily)."""
    from langchain_openai import ChatOpenAI

    class CompatibleChatOpenAI(ChatOpenAI):  # type: ignore[misc]
        """ChatOpenAI whose requests every OpenAI-compatible server accepts.

        - An assistant turn that only called tools is sent with ``content: ""``, not ``null``
          (llama-cpp-python's server answers 500 to ``null``; OpenAI accepts both).
        - Away from api.openai.com the output cap is sent as ``max_tokens``: LangChain renames
          it ``max_completion_tokens``, which OpenAI wants and several servers ignore.
        """

        def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
            payload: dict[str, Any] = super()._get_request_payload(input_, stop=stop, **kwargs)
            for message in payload.get("messages", []):
                if message.get("role") == "assistant" and message.get("content") is None:
                    message["content"] = ""
            base = str(self.openai_api_base or "")
            if base and "api.openai.com" not in base and "max_completion_tokens" in payload:
                payload["max_tokens"] = payload.pop("max_completion_tokens")
            return payload

    return CompatibleChatOpenAI


def _is_loopback(url: str | None) -> bool:
    return bool(url) and (urlparse(str(url)).hostname or "") in LOOPBACK


def _openai(settings: Settings, name: str) -> Any:
    from pydantic import SecretStr

    llm = settings.llm
    key = settings.secret(llm.api_key_env)
    if not key:
        if not _is_loopback(llm.base_url):
            raise ModelConfigError(f"llm.api_key_env: environment variable {llm.api_key_env} is not set")
        key = LOCAL_KEY
    return _compatible_chat_openai()(
        model=name,
        base_url=llm.base_url,
        api_key=SecretStr(key),
        temperature=llm.temperature,
        max_retries=llm.max_retries,
        timeout=llm.timeout_s,
        max_tokens=llm.max_output_tokens,
    )


def _provider(settings: Settings, spec: str) -> Any:
    """Any other LangChain provider, bounded the same way."""
    from langchain.chat_models import init_chat_model

    llm = settings.llm
    provider = spec.partition(":")[0]
    kwargs: dict[str, Any] = {
        "temperature": llm.temperature,
        "max_retries": llm.max_retries,
        "timeout": llm.timeout_s,
        "max_tokens": llm.max_output_tokens,
    }
    if llm.base_url:
        kwargs["base_url"] = llm.base_url
    key = settings.secret(llm.api_key_env) if "api_key_env" in llm.model_fields_set else None
    if key:
        kwargs["api_key"] = key
    try:
        return init_chat_model(spec, **kwargs)
    except ImportError as exc:
        raise ModelConfigError(f"llm.model: provider {provider!r} needs its package ({exc})") from None
    except ValueError as exc:
        raise ModelConfigError(f"llm.model: {' '.join(str(exc).split())[:200]}") from None


def make_model(settings: Settings) -> Any | None:
    """The configured chat model (bounded), or None for the offline playbook."""
    spec = settings.llm.model.strip()
    if spec == "offline":
        return None
    provider, _, name = spec.partition(":")
    if not provider or not name:
        raise ModelConfigError(f"llm.model: expected 'offline' or '<provider>:<model>' , got {spec!r}")
    if provider == "openai":
        return _openai(settings, name)
    return _provider(settings, spec)
