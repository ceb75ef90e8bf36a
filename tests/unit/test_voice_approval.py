"""Voice approval: only an identified speaker, only after confirming the quoted action, only within the session TTL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.assistant import Assistant
from state.config import UserConfig
from state.store import Store
from tests.unit.test_auth_api import settings_for, waiting_incident


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _assistant(home: Path) -> tuple[Assistant, Clock, str]:
    settings = settings_for(home)
    settings.language = "en"
    settings.assistant.session_ttl_s = 300
    for user in settings.users:
        if user.name in ("ana", "bob"):
            user.speaker = f"voice-{user.name}"
    settings.users.append(UserConfig(name="carl", rollback_permission=True))  # may roll back, no voiceprint
    clock = Clock()
    return Assistant(settings, env={}, clock=clock), clock, waiting_incident(settings)


def _status(assistant: Assistant, incident: str) -> str:
    doc = assistant.store().get(incident)
    assert doc is not None
    return str(doc["status"])


def _code(spoken: str) -> str:
    found = re.search(r"action code is ([0-9a-f ]+)\.", spoken)
    assert found is not None, spoken
    return found.group(1).replace(" ", "")


def test_a_name_anyone_can_say_is_not_an_identified_speaker(home: Path) -> None:
    assistant, _clock, incident = _assistant(home)
    for who in ("carl", "ana", "nobody", ""):
        spoken = assistant.approve_rollback(incident, who)["response"]
        assert "could not identify you by your voice" in spoken, who
    assert "could not identify" in assistant.confirm_rollback(incident, "000000", "carl")["response"]
    assert "could not identify" in assistant.reject_rollback(incident, "carl", "no")["response"]
    assert _status(assistant, incident) == "awaiting_approval"


def test_a_speaker_without_rollback_permission_cannot_approve(home: Path) -> None:
    assistant, _clock, incident = _assistant(home)
    spoken = assistant.approve_rollback(incident, "voice-bob")["response"]
    assert spoken == "Sorry, bob, you do not have rollback permission. Please ask someone who does."
    assert "First ask me" in assistant.confirm_rollback(incident, "abcdef", "voice-bob")["response"]
    assert _status(assistant, incident) == "awaiting_approval"


def test_approval_needs_the_quoted_code_within_the_session(home: Path) -> None:
    assistant, clock, incident = _assistant(home)
    asked = assistant.approve_rollback(incident, "voice-ana")["response"]
    assert "version_rollback" in asked and "Say confirm" in asked
    assert _status(assistant, incident) == "awaiting_approval"  # asking approves nothing
    code = _code(asked)
    wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
    assert "does not match" in assistant.confirm_rollback(incident, wrong)["response"]
    assert "could not identify" in assistant.confirm_rollback(incident, code, "voice-nobody")["response"]
    clock.now += timedelta(seconds=301)  # the identity and the request are older than assistant.session_ttl_s
    assert "could not identify" in assistant.confirm_rollback(incident, code)["response"]
    assert "First ask me" in assistant.confirm_rollback(incident, code, "voice-ana")["response"]
    assert _status(assistant, incident) == "awaiting_approval"
    again = assistant.approve_rollback(incident, "voice-ana")["response"]
    clock.now += timedelta(seconds=60)
    done = assistant.confirm_rollback(incident, " ".join(_code(again)))["response"]  # spoken back with spaces
    assert done.startswith("Approved, ana.")
    assert _status(assistant, incident) == "resolved"
    answers = [a for a in Store.from_url(assistant.settings.db_url).audit_trail(incident) if a["kind"] == "answer"]
    assert [(a["actor"], a["detail"]["source"], a["detail"]["credential"]) for a in answers] == [
        ("ana", "voice", "speaker:voice-ana")
    ]


def test_an_identified_speaker_may_reject(home: Path) -> None:
    assistant, _clock, incident = _assistant(home)
    spoken = assistant.reject_rollback(incident, "voice-bob", "peak sale")["response"]
    assert spoken.startswith("Rejected.")
    assert _status(assistant, incident) == "escalated"
