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


def test_a_deliveries_table_from_before_tracking_gets_its_new_columns(home: Path) -> None:
    import sqlite3

    path = home / "old.db"
    with sqlite3.connect(path) as db:  # the table as the previous release created it
        db.execute("CREATE TABLE deliveries (id INTEGER PRIMARY KEY, key VARCHAR(512), kind VARCHAR(32), "
                   "incident_id VARCHAR(64), user_name VARCHAR(128), channel VARCHAR(32), status VARCHAR(16), "
                   "tries INTEGER, error TEXT, at DATETIME)")  # fmt: skip
        db.execute("INSERT INTO deliveries VALUES (1, 'escalation:inc-0:ops:wecom', 'escalation', 'inc-0', 'ops', "
                   "'wecom', 'delivered', 1, '', '2026-11-20 10:00:00')")  # fmt: skip
    ledger = Ledger(Store.from_url(f"sqlite:///{path}"))
    ledger.record(key="k:email:ops", kind="escalation", channel="email", status="delivered", tries=1, target="o@x.t")
    rows = ledger.deliveries()
    assert [(r["channel"], r["target"]) for r in rows] == [("email", "o@x.t"), ("wecom", "")]
    assert ledger.delivered("escalation:inc-0:ops:wecom")


def test_a_follow_up_interval_is_claimed_by_exactly_one_scheduler(home: Path) -> None:
    url = f"sqlite:///{home / 'shared.db'}"
    first, second = Ledger(Store.from_url(url)), Ledger(Store.from_url(url))  # two `serve` processes
    assert first.claim("follow_up:inc-1:1") is True
    assert second.claim("follow_up:inc-1:1") is False
    assert second.claim("follow_up:inc-1:2") is True
