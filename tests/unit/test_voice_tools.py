"""The voice tools' words: short, speakable, in the configured language; preferences said back as stored."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.assistant import Assistant
from state.config import Settings, UserConfig
from state.store import Store

PENDING = {"rung": 3, "rung_name": "version rollback", "operation": "version_rollback", "params": {"target": "v2.1"}}


def _assistant(home: Path, language: str) -> Assistant:
    settings = Settings(
        home=home, language=language, users=[UserConfig(name="alice", email="alice@example.test", channels=["email"])],
        notify={"smtp": {"host": "127.0.0.1"}, "dingtalk_webhook_env": "DING_URL"},
    )  # fmt: skip
    store = Store.from_url(settings.db_url)
    alert = {"source": "alertmanager", "name": "HighErrorRate", "service": "checkout", "severity": "critical"}
    store.create_incident("inc-1", "inc-1", {"id": "inc-1", "status": "awaiting_approval", "alert": alert,
                                             "attempts": [], "pending": PENDING})  # fmt: skip
    return Assistant(settings, env={"DING_URL": "http://127.0.0.1:9/robot"})


def _said(answer: dict[str, str]) -> str:
    assert answer["action"] == "RESPONSE"
    text = answer["response"]
    assert not re.search(r"[{}\[\]`*#_]", text) and len(text) <= 120, text
    return text


@pytest.mark.parametrize(
    ("language", "status", "saved", "unknown", "unset"),
    [
        ("zh", "等待批准的操作是：版本回滚到 v2.1", "好的，alice，以后通过邮件、钉钉通知你，邮箱是 a2@example.test。",
         "我不认识“传真”这个渠道", "飞书还没有配置好"),
        ("en", "It waits for approval to version rollback to v2.1.",
         "OK, alice, you will hear from me by email and DingTalk, at a2@example.test.", "I do not know the channel 传真",
         "Feishu is not set up here yet."),
    ],
)  # fmt: skip
def test_status_and_preferences_in_each_language(
    home: Path, language: str, status: str, saved: str, unknown: str, unset: str
) -> None:
    assistant = _assistant(home, language)
    assert status in _said(assistant.incident_status("checkout"))  # by service name
    assert status in _said(assistant.incident_status(""))  # the newest open one
    assert unknown in _said(assistant.set_push_preferences("alice", "邮件和传真"))
    assert unset in _said(assistant.set_push_preferences("alice", ["feishu"]))
    assert _said(assistant.set_push_preferences("alice", "邮件和钉钉", email="A2@example.test")) == saved
    person = assistant.notifier().effective(assistant.settings.users[0])
    assert person.channels == ["email", "dingtalk"] and person.email == "a2@example.test"
    refused = _said(assistant.set_push_preferences("alice", "email", email="alice at"))
    assert ("不像一个邮箱地址" if language == "zh" else "is not an email address") in refused
