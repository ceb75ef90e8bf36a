"""The briefing reaches a real SMTP server with the escalated incident's chart, once a day."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port, run_cli
from tests.integration.scenario import briefing_day_for, scenario_config, start_incident

pytestmark = pytest.mark.integration


class Inbox:
    """aiosmtpd handler keeping every accepted message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001, ANN201
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> tuple[Inbox, int]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _escalated_incident(tmp_path: Path, home: Path, smtp_port: int) -> tuple[Path, str]:
    config = scenario_config(
        tmp_path,
        {
            "users": [
                {"name": "alice", "email": "alice@example.test", "channels": ["email"], "rollback_permission": True}
            ],
            "notify": {"smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "alertpilot@example.test"}},
        },
    )
    doc = start_incident(config, home)
    rejected = run_cli(
        "reject", doc["id"], "--reason", "not during the sale", "--config", str(config), "--json", home=home
    )
    assert rejected.returncode == 0, rejected.stderr
    assert json.loads(rejected.stdout)["status"] == "escalated"
    return config, doc["id"]


def test_briefing_email_has_chart_and_is_sent_once_a_day(tmp_path: Path, home: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    config, incident_id = _escalated_incident(tmp_path, home, port)
    escalation_mails = len(inbox.messages)
    assert escalation_mails == 1, "the escalation itself is pushed to alice's channel"
    assert str(inbox.messages[0]["Subject"]) == "【需要人工处理】HighErrorRate · checkout"
    day = briefing_day_for(home, config).isoformat()

    first = run_cli("briefing", "--send", "--date", day, "--config", str(config), "--json", home=home)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["status"] == "given"
    assert doc["deliveries"][0]["status"] == "delivered"
    assert doc["speech"].startswith("你好，alice。下面我将从告警历史、日志文件、仪表盘三个角度为你播报昨日告警内容")
    assert "转交人工" in doc["speech"] and "邮箱" in doc["speech"]

    assert len(inbox.messages) == escalation_mails + 1
    mail = inbox.messages[-1]
    assert inbox.envelopes[-1][1] == ["alice@example.test"]
    parts = {part.get_content_type(): part for part in mail.walk()}
    assert "text/html" in parts and "text/plain" in parts
    images = {part.get_filename(): part for part in mail.walk() if part.get_content_type() == "image/png"}
    # the day's overview, always, and the escalated incident's key metric, both shown in the mail body
    assert set(images) == {"overview.png", f"{incident_id}.png"}
    for png in images.values():
        assert png.get_payload(decode=True).startswith(b"\x89PNG\r\n\x1a\n")
        assert png["Content-ID"] == f"<{png.get_filename()}>"
    html = parts["text/html"].get_payload(decode=True).decode()
    assert incident_id in html and "<table" in html
    assert "src='cid:overview.png'" in html and f"src='cid:{incident_id}.png'" in html

    folder = home / "briefings" / day
    markdown = (folder / "alice.md").read_text()
    assert markdown.startswith("# 每日告警简报") and "![概览](overview.png)" in markdown
    assert (folder / "overview.png").is_file() and f"]({incident_id}.png)" in markdown
    assert json.loads((folder / "alice.json").read_text())["facts"]["escalations"][0]["incident_id"] == incident_id

    # A second --send the same day is a new process (a restart): nothing is sent.
    second = run_cli("briefing", "--send", "--date", day, "--config", str(config), home=home)
    assert second.returncode == 0, second.stderr
    assert "already briefed" in second.stdout
    assert len(inbox.messages) == escalation_mails + 1

    forced = run_cli("briefing", "--send", "--force", "--date", day, "--config", str(config), "--json", home=home)
    assert forced.returncode == 0, forced.stderr
    assert len(inbox.messages) == escalation_mails + 2


def test_unreachable_smtp_is_a_failed_delivery_not_a_traceback(tmp_path: Path, home: Path) -> None:
    config = scenario_config(
        tmp_path,
        {
            "users": [{"name": "alice", "email": "alice@example.test", "channels": ["email"]}],
            "notify": {"smtp": {"host": "127.0.0.1", "port": free_port(), "timeout_s": 2}},
        },
    )
    done = run_cli("briefing", "--send", "--config", str(config), "--json", home=home)
    assert done.returncode == 1
    delivery = json.loads(done.stdout)["deliveries"][0]
    # an SMTP server that does not answer may come back: the push is kept for the retry job
    assert delivery["status"] == "retrying" and delivery["attempts"] == 3
    assert "unreachable" in delivery["detail"]
