"""Slack, the generic webhook, PagerDuty and DingTalk mentions against a local server that checks their wire formats."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from state.config import Settings, UserConfig
from state.delivery import Ledger
from state.store import Store
from tests.servers.notify import NotifyServer, notify_server
from tools.notify import Message, Notifier

pytestmark = pytest.mark.integration
MESSAGE = Message(
    subject="HighErrorRate · checkout", text="checkout 5xx ratio 23% after v2.2", markdown="### checkout\n**23%** 5xx",
    severity="critical", source="checkout",
)  # fmt: skip


@pytest.fixture
def server() -> Iterator[NotifyServer]:
    with notify_server() as running:
        yield running


def _settings(home: Path, server: NotifyServer, **notify: object) -> Settings:
    base = {
        "slack_webhook_env": "SLACK_WEBHOOK_URL", "webhook_url_env": "HOOK_URL", "webhook_secret_env": "HOOK_SECRET",
        "pagerduty_routing_key_env": "PD_ROUTING_KEY", "pagerduty_url": f"{server.base}/v2/enqueue",
        "dingtalk_webhook_env": "DING_URL", "dingtalk_secret_env": "DING_SECRET",
        "slack_api_url": f"{server.base}/slack/api/", "timeout_s": 5,
    }  # fmt: skip
    return Settings(home=home, notify={**base, **notify})


def _notifier(settings: Settings, env: dict[str, str]) -> tuple[Notifier, Ledger]:
    ledger = Ledger(Store.from_url(settings.db_url))
    return Notifier(settings, ledger, env=env, sleep=lambda _s: None), ledger


def test_slack_webhook_and_bot_token_carry_the_message_and_mentions(server: NotifyServer, home: Path) -> None:
    people = [UserConfig(name="alice", slack_user_id="U0ALICE", channels=["slack"]),
              UserConfig(name="bob", slack_user_id="U0BOB", channels=["slack"])]  # fmt: skip
    notifier, _ = _notifier(_settings(home, server), server.env())
    [outcome] = notifier.notify(people, MESSAGE, key="escalation:inc-1", kind="escalation", incident_id="inc-1")
    assert (outcome.status, outcome.target) == ("delivered", "slack webhook")
    [posted] = server.received["slack_webhook"]  # one message for the channel, not one per person
    assert posted["text"].startswith("*HighErrorRate · checkout*") and "*23%* 5xx" in posted["text"]
    assert "<@U0ALICE>" in posted["text"] and "<@U0BOB>" in posted["text"]

    bot_settings = _settings(home, server, slack_bot_token_env="SLACK_BOT_TOKEN", slack_channel="C0INCIDENTS")
    bot, ledger = _notifier(bot_settings, server.env())
    [sent] = bot.notify(people[:1], MESSAGE, key="escalation:inc-2", kind="escalation", incident_id="inc-2")
    assert (sent.status, sent.target) == ("delivered", "slack C0INCIDENTS")
    assert server.received["slack_api"][0]["channel"] == "C0INCIDENTS"

    wrong, _ = _notifier(bot_settings, {**server.env(), "SLACK_BOT_TOKEN": "xoxb-revoked"})
    [refused] = wrong.notify(people[:1], MESSAGE, key="escalation:inc-3", kind="escalation", incident_id="inc-3")
    assert refused.status == "failed" and "invalid_auth" in refused.detail  # a bad token is not retried
    assert len(server.received["slack_api"]) == 1


def test_generic_webhook_is_signed_over_timestamp_and_body(server: NotifyServer, home: Path) -> None:
    settings = _settings(home, server)
    user = UserConfig(name="ops", channels=["webhook"])
    notifier, ledger = _notifier(settings, server.env())
    [outcome] = notifier.send(user, MESSAGE, key="escalation:inc-1", kind="escalation", incident_id="inc-1")
    assert outcome.status == "delivered" and outcome.target == server.base  # the host only, never a secret path
    [hook] = server.received["hook"]
    assert hook["body"]["incident_id"] == "inc-1" and hook["body"]["severity"] == "critical"
    assert hook["body"]["event"] == "escalation" and hook["body"]["mentions"] == ["ops"]
    assert hook["delivery"] == ledger.deliveries()[0]["key"]  # receivers deduplicate retries by it

    forged, _ = _notifier(settings, {**server.env(), "HOOK_SECRET": "not-the-shared-secret"})
    [refused] = forged.send(user, MESSAGE, key="escalation:inc-2", kind="escalation", incident_id="inc-2")
    assert refused.status == "failed" and "401" in refused.detail
    assert len(server.received["hook"]) == 1


def test_pagerduty_triggers_once_per_incident_and_resolves_with_its_dedup_key(server: NotifyServer, home: Path) -> None:
    from agents.escalation import resolve_closed

    settings = _settings(home, server)
    store = Store.from_url(settings.db_url)
    alert = {"source": "alertmanager", "name": "HighErrorRate", "service": "checkout", "severity": "critical"}
    store.create_incident("inc-pd", "inc-pd", {"id": "inc-pd", "status": "escalated", "alert": alert})
    notifier, ledger = _notifier(settings, server.env())
    user = UserConfig(name="oncall", channels=["pagerduty"])

    [trigger] = notifier.send(user, MESSAGE, key="escalation:inc-pd", kind="escalation", incident_id="inc-pd")
    assert trigger.status == "delivered"
    event = server.received["pagerduty"][0]
    assert event["event_action"] == "trigger" and event["dedup_key"] == "alertpilot-inc-pd"
    assert event["payload"]["severity"] == "critical" and event["payload"]["source"] == "checkout"
    # a briefing is not an incident: PagerDuty is left out of it
    assert notifier.send(user, MESSAGE, key="briefing:2026-11-21", kind="briefing") == []

    assert resolve_closed(settings, store, notifier=notifier) == []  # still escalated: nothing to resolve
    store.save_doc("inc-pd", {"id": "inc-pd", "status": "resolved", "alert": alert})
    [resolved] = resolve_closed(settings, store, notifier=notifier)
    assert resolved["status"] == "delivered"
    assert server.received["pagerduty"][-1] == {"routing_key": server.env()["PD_ROUTING_KEY"],
                                                "event_action": "resolve", "dedup_key": "alertpilot-inc-pd"}  # fmt: skip
    assert server.pagerduty_incidents == {"alertpilot-inc-pd": "resolved"}
    assert resolve_closed(settings, store, notifier=notifier) == []  # resolved once
    assert {d["kind"] for d in ledger.deliveries(incident_id="inc-pd")} == {"escalation", "resolution"}


def test_dingtalk_mentions_people_by_mobile_and_user_id(server: NotifyServer, home: Path) -> None:
    people = [UserConfig(name="alice", mobile="13800000001", channels=["dingtalk"]),
              UserConfig(name="bob", dingtalk_user_id="manager7788", channels=["dingtalk"]),
              UserConfig(name="carol", channels=["email"])]  # fmt: skip
    notifier, _ = _notifier(_settings(home, server), server.env())
    outcomes = notifier.notify(people, MESSAGE, key="escalation:inc-1", kind="escalation", incident_id="inc-1")
    assert [(o.channel, o.status) for o in outcomes if o.channel == "dingtalk"] == [("dingtalk", "delivered")]
    [robot] = server.received["dingtalk"]
    assert robot["at"] == {"atMobiles": ["13800000001"], "atUserIds": ["manager7788"], "isAtAll": False}
    assert robot["mention_check"] == "ok"  # each mention is also in the text, or DingTalk would not notify


def test_failed_pushes_are_kept_retried_with_backoff_and_counted_per_channel(server: NotifyServer, home: Path) -> None:
    settings = _settings(home, server, retry_attempts=5, retry_backoff_s=60)
    notifier, ledger = _notifier(settings, server.env())
    user = UserConfig(name="ops", channels=["slack", "webhook"])
    start = notifier.clock()

    server.fail["slack_webhook"] = 4  # Slack is down for the three immediate tries and the first retry
    outcomes = notifier.send(user, MESSAGE, key="escalation:inc-1", kind="escalation", incident_id="inc-1")
    assert {(o.channel, o.status, o.attempts) for o in outcomes} == {
        ("slack", "retrying", 3),
        ("webhook", "delivered", 1),
    }
    # a node re-run must not send a push that waits for its retry a second time
    assert {o.status for o in notifier.send(user, MESSAGE, key="escalation:inc-1", kind="escalation")} == {"skipped"}

    assert notifier.retry_due(start + timedelta(seconds=30)) == []  # its wait is not over
    [first] = notifier.retry_due(start + timedelta(seconds=61))
    assert (first.status, first.attempts) == ("retrying", 4)
    assert notifier.retry_due(start + timedelta(seconds=100)) == []  # the wait doubled to 120 s
    [second] = notifier.retry_due(start + timedelta(seconds=200))
    assert (second.status, second.attempts) == ("delivered", 5)
    assert len(server.received["slack_webhook"]) == 1 and "<@" not in server.received["slack_webhook"][0]["text"]

    server.fail["hook"] = 100  # the webhook receiver stays down: given up after retry_attempts
    notifier.send(user, MESSAGE, key="escalation:inc-2", kind="escalation", incident_id="inc-2")
    moment = start
    for _ in range(5):
        moment += timedelta(hours=1)
        notifier.retry_due(moment)
    hook = next(d for d in ledger.deliveries(incident_id="inc-2") if d["channel"] == "webhook")
    assert (hook["status"], hook["attempts"], hook["error"]) == ("failed", 5, "HTTP 503")

    stats = ledger.stats()
    assert stats["slack"]["success_rate"] == 1.0 and stats["slack"]["delivered"] == 2
    assert stats["webhook"]["delivered"] == 1 and stats["webhook"]["failed"] == 1
    assert stats["webhook"]["success_rate"] == 0.5 and stats["webhook"]["last_error"] == "HTTP 503"


def test_notify_stats_and_metrics_give_the_success_rate_per_channel(
    server: NotifyServer, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import yaml
    from fastapi.testclient import TestClient

    from server.app import create_app
    from tests.conftest import run_cli

    settings = _settings(home, server)
    notifier, _ = _notifier(settings, server.env())
    user = UserConfig(name="ops", channels=["slack", "webhook"])
    notifier.send(user, MESSAGE, key="escalation:inc-1", kind="escalation", incident_id="inc-1")
    bad, _ = _notifier(settings, {**server.env(), "HOOK_SECRET": "wrong"})
    bad.send(user, MESSAGE, key="escalation:inc-2", kind="escalation", incident_id="inc-2")

    config = home.parent / "alertpilot.yaml"
    config.write_text(yaml.safe_dump({"notify": settings.notify.model_dump(exclude_none=True)}))
    done = run_cli("notify", "stats", "--json", "--config", str(config), home=home)
    assert done.returncode == 0, done.stderr
    channels = json.loads(done.stdout)["channels"]
    assert channels["slack"]["success_rate"] == 1.0 and channels["webhook"]["success_rate"] == 0.5
    assert "401" in channels["webhook"]["last_error"]
    table = run_cli("notify", "stats", "--config", str(config), home=home).stdout
    assert "webhook" in table and "50.0%" in table and "100.0%" in table
    assert run_cli("notify", "stats", "--since", "yesterday", home=home).returncode == 2

    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", "t")
    with TestClient(create_app(settings, run_worker=False)) as client:
        metrics = client.get("/metrics").text
    assert 'alertpilot_notify_delivery_success_ratio{channel="webhook"} 0.5' in metrics
    assert 'alertpilot_notify_pushes{channel="slack",status="delivered"} 2.0' in metrics
