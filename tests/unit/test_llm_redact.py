"""What a model sees is redacted: configured secrets, URL credentials, tokens, e-mail addresses."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from agents.llm_calls import ModelGate
from agents.llm_redact import Redactor
from state.config import Settings
from tests.fakes import ScriptedModel, answer


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("connect postgres://app:s3cr3t-pw@db.shop:5432/orders failed", "postgres://[REDACTED]@db.shop:5432/orders"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXBhcnQ", "Bearer [REDACTED]"),
        ("token ghp_0123456789abcdefghijABCDEFGHIJ0123 leaked", "token [REDACTED] leaked"),
        ("OPENAI key sk-proj-abcdefghijklmnop0123 in env", "key [REDACTED] in env"),
        ("aws AKIAIOSFODNN7EXAMPLE used", "aws [REDACTED] used"),
        ("login failed for alice.smith@example.com", "login failed for [EMAIL]"),
        ("password=hunter22 retries=3", "password=[REDACTED] retries=3"),
        ('{"api_key": "abcd1234efgh"}', '{"api_key": "[REDACTED]"}'),
    ],
)
def test_credential_shapes_are_masked(text: str, masked: str) -> None:
    assert masked in Redactor().mask(text)


def test_configured_secrets_and_operator_patterns_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTPILOT_EXECUTOR_TOKEN", "exec-token-9f8e7d")
    monkeypatch.setenv("GITHUB_TOKEN", "plain-looking-value-42")
    settings = Settings(llm={"redact": [r"CUST-\d{6}"]})
    redactor = Redactor.from_settings(settings)
    text = "called with exec-token-9f8e7d and plain-looking-value-42 for CUST-123456"
    assert redactor.mask(text) == "called with [REDACTED] and [REDACTED] for [REDACTED]"
    assert (
        Redactor().mask("ordinary words stay, version v2.1, 23% errors")
        == "ordinary words stay, version v2.1, 23% errors"
    )


def test_the_request_sent_and_recorded_is_the_masked_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-0123456789abcdef")
    model = ScriptedModel(responses=[answer({"ok": True})])
    gate = ModelGate(model, "diagnosis", Settings())
    log = "payment failed for bob@example.com using key sk-live-0123456789abcdef via https://u:p4ss@pay.example/x"
    gate.invoke([HumanMessage(log)])
    sent = model.seen[0][0].content
    recorded = gate.calls[0].request["messages"][0]["content"]
    assert sent == recorded
    for secret in ("bob@example.com", "sk-live-0123456789abcdef", "p4ss"):
        assert secret not in sent
    assert "[EMAIL]" in sent and "https://[REDACTED]@pay.example/x" in sent


def test_redact_patterns_must_compile(tmp_path: Path) -> None:
    from state.config import ConfigError, load_settings

    path = tmp_path / "alertpilot.yaml"
    path.write_text("llm: {redact: ['(unclosed']}\n")
    with pytest.raises(ConfigError, match="llm.redact"):
        load_settings(path)
