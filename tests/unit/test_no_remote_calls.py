"""The suite's hard switch: nothing in a test reaches a host off the machine, a model provider included."""

from __future__ import annotations

import socket

import pytest

from agents.brain import make_model
from state.config import Settings
from tests.network_audit import RemoteCallError


def test_a_connection_off_the_machine_is_refused_before_it_is_made() -> None:
    with pytest.raises(RemoteCallError, match="192.0.2.1"):  # TEST-NET-1: the hook raises before any packet
        socket.create_connection(("192.0.2.1", 443), timeout=1)


def test_a_name_lookup_for_a_remote_host_is_refused() -> None:
    with pytest.raises(RemoteCallError, match="api.openai.com"):
        socket.getaddrinfo("api.openai.com", 443)


def test_a_real_model_call_fails_even_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    model = make_model(Settings(llm={"model": "openai:gpt-4o-mini", "max_retries": 0}))
    with pytest.raises(Exception) as raised:  # noqa: B017 - the SDK wraps the refusal in its own error
        model.invoke("hello")
    chain: list[BaseException] = []
    cause: BaseException | None = raised.value
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    assert any(isinstance(e, RemoteCallError) and "api.openai.com" in str(e) for e in chain)


def test_loopback_stays_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=1):
            pass
