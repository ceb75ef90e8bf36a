"""Settings: a bad config file is one clear error naming the file or the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from state.config import ConfigError, load_settings


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
    path = tmp_path / "alertpilot.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
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
