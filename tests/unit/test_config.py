"""Settings: a bad config file is one clear error naming the file or the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from state.config import ConfigError, load_settings


def refusal(tmp_path: Path, text: str) -> str:
    """The ConfigError message for a config file holding ``text``."""
    path = tmp_path / "alertpilot.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("- a\n- b\n", "expected a mapping of settings at the top level"),
        ("policy: [unclosed\n", "expected ',' or ']'"),
        ("policy:\n  verify_after_s: 5\n\tbad: tab\n", "found character '\\t'"),
        ("policy:\n  verify_after_s: soon\n", "policy.verify_after_s"),
        ("triage:\n  weights: {impact: 0.9, severity: 0.9, business: 0, time_sensitivity: 0}\n", "sum to 1"),
        ("nonsense_section: 1\n", "nonsense_section"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    message = refusal(tmp_path, text)
    assert needle in message
    assert "\n" not in message


def test_env_overrides_the_file_and_relative_paths_follow_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "conf" / "alertpilot.yaml"
    path.parent.mkdir()
    path.write_text("policy: {verify_after_s: 30}\nlogs: {files: [logs/app.jsonl]}\nworld: case\n")
    monkeypatch.setenv("ALERTPILOT_POLICY__VERIFY_AFTER_S", "2")
    settings = load_settings(path)
    assert settings.policy.verify_after_s == 2
    assert settings.logs.files == [path.parent / "logs" / "app.jsonl"]
    assert settings.world == path.parent / "case"


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config: no such file"):
        load_settings(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("llm: {model: offline, timeout: 2}\n", "llm.timeout: unknown key"),
        ("policy: {max_llm_token: 10}\n", "policy.max_llm_token: unknown key"),
        (
            "policy:\n  ladder:\n    - {level: 1, name: r, operation: restart, revrsible: true}\n",
            "policy.ladder.0.revrsible: unknown key",
        ),
        ("triage: {working_hours: {start: 9}}\n", "triage.working_hours.start: unknown key"),
        (
            "services: {checkout: {criticality: 90, repository: acme/checkout}}\n",
            "services.checkout.repository: unknown key",
        ),
        ("users: [{name: alice, rollback: true}]\n", "users.0.rollback: unknown key"),
        ("executor: {kubernetes: {namespce: shop}}\n", "executor.kubernetes.namespce: unknown key"),
        ("notify: {smtp: {host: mail, passwd_env: X}}\n", "notify.smtp.passwd_env: unknown key"),
        ("mcp_servers: {peer: {transport: stdio, comand: x}}\n", "mcp_servers.peer.comand: unknown key"),
        ("logs: {cls: {topics: {buisness: t1}}}\n", "logs.cls.topics.buisness: unknown key"),
    ],
)
def test_an_unknown_key_in_any_section_is_refused_naming_it(tmp_path: Path, text: str, message: str) -> None:
    assert refusal(tmp_path, text).startswith(message)


def test_model_bounds_and_budgets_are_settings(tmp_path: Path) -> None:
    path = tmp_path / "alertpilot.yaml"
    path.write_text(
        "llm: {model: 'openai:qwen-plus', timeout_s: 2, max_retries: 0, max_output_tokens: 300,"
        " structured_output: tool_calling}\npolicy: {max_llm_tokens: 5000, max_llm_seconds: 30}\n"
    )
    settings = load_settings(path)
    assert (settings.llm.timeout_s, settings.llm.max_retries, settings.llm.max_output_tokens) == (2, 0, 300)
    assert settings.llm.structured_output == "tool_calling"
    assert (settings.policy.max_llm_tokens, settings.policy.max_llm_seconds) == (5000, 30)
    path.write_text("llm: {structured_output: json}\n")
    with pytest.raises(ConfigError, match="llm.structured_output"):
        load_settings(path)
