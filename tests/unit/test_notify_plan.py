"""Who a message reaches on which channel: per person on email, once per shared channel, voice-set choices."""

from __future__ import annotations

from pathlib import Path

from state.config import Settings, UserConfig
from state.delivery import Ledger
from state.store import Store
from tools.notify import Notifier
from tools.notify.channels import channel_name


def _notifier(home: Path) -> Notifier:
    settings = Settings(home=home)
    return Notifier(settings, Ledger(Store.from_url(settings.db_url)), env={})


def test_email_is_per_person_and_shared_channels_are_one_push_mentioning_everyone(home: Path) -> None:
    people = [UserConfig(name="alice", email="a@x.test", channels=["email", "dingtalk"]),
              UserConfig(name="bob", email="b@x.test", channels=["email", "dingtalk", "pagerduty"])]  # fmt: skip
    pushes = _notifier(home).plan(people, key="escalation:inc-1", kind="escalation", incident_id="inc-1")
    assert [(p.channel, p.target, [u.name for u in p.mentions]) for p in pushes] == [
        ("email", "a@x.test", ["alice"]), ("email", "b@x.test", ["bob"]),
        ("dingtalk", "dingtalk robot", ["alice", "bob"]), ("pagerduty", "pagerduty events v2", ["bob"]),
    ]  # fmt: skip
    briefing = _notifier(home).plan(people[1:], key="briefing:d", kind="briefing")
    assert [p.channel for p in briefing] == ["email", "dingtalk"]  # PagerDuty takes incidents only


def test_voice_set_preferences_replace_the_configured_channels(home: Path) -> None:
    notifier = _notifier(home)
    alice = UserConfig(name="Alice", email="a@x.test", channels=["email"])
    assert notifier.ledger is not None
    notifier.ledger.set_preferences("alice", ["wecom"], "alice@new.test")
    assert notifier.effective(alice).channels == ["wecom"] and notifier.effective(alice).email == "alice@new.test"
    notifier.ledger.set_preferences("ALICE", ["email"], None)  # None keeps the address set before
    assert notifier.effective(alice).email == "alice@new.test"


def test_explicit_channels_reach_shared_destinations_without_people(home: Path) -> None:
    pushes = _notifier(home).plan([], key="follow_up:inc-1:1", kind="follow_up", channels=["wecom"], incident_id="i")
    assert [(p.channel, p.mentions) for p in pushes] == [("wecom", ())]


def test_spoken_channel_names() -> None:
    assert [channel_name(w) for w in ("邮件", "钉钉", "企业微信", "Slack", "lark", "fax")] == [
        "email", "dingtalk", "wecom", "slack", "feishu", None]  # fmt: skip
