"""The briefing people look at: the overview chart on every day, charts in the Markdown and the email HTML."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from agents.briefing import compose, markdown_to_html, save
from agents.briefing_facts import collect
from state.config import Settings, UserConfig
from state.store import IncidentRow, Store

DAY = date(2026, 11, 21)  # covers 2026-11-20, UTC+8


def _store(home: Path) -> Store:
    return Store.from_url(f"sqlite:///{home / 'alertpilot.db'}")


def _add(store: Store, incident_id: str, status: str, at: datetime, attempts: list[dict[str, object]]) -> None:
    alert = {"source": "alertmanager", "name": "HighErrorRate", "service": "checkout", "severity": "critical"}
    store.create_incident(incident_id, incident_id, {"id": incident_id, "status": status, "alert": alert,
                                                     "attempts": attempts, "findings": []})  # fmt: skip
    with store.session() as session:
        row = session.get(IncidentRow, incident_id)
        assert row is not None
        row.created_at = at


def test_a_quiet_day_still_has_its_overview_chart_in_markdown_and_email(home: Path) -> None:
    settings = Settings(home=home, briefing={"utc_offset_hours": 8})
    briefing = compose(settings, _store(home), UserConfig(name="alice"), DAY)
    assert briefing.facts.total == 0
    assert list(briefing.charts) == ["overview.png"] and briefing.charts["overview.png"].startswith(b"\x89PNG")
    assert "![概览](overview.png)" in briefing.markdown
    message = briefing.message()
    assert [(a.filename, a.inline) for a in message.attachments] == [("overview.png", True)]
    assert "<img src='cid:overview.png'" in (message.html or "")
    saved = save(briefing, home)
    assert home / "briefings" / "2026-11-21" / "alice.md" in saved
    assert (home / "briefings" / "2026-11-21" / "overview.png").is_file()


def test_actions_of_the_day_are_read_with_their_verification(home: Path) -> None:
    store = _store(home)
    at = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)  # 10:30 local
    restart = {"n": 1, "rung": 1, "action": "restart", "params": {}, "started_at": at.isoformat(),
               "result": {"status": "success"}, "verified": False}  # fmt: skip
    rollback = {"n": 2, "rung": 3, "action": "version_rollback", "params": {"target": "v2.1"},
                "started_at": at.replace(minute=45).isoformat(), "result": {"status": "success"}, "verified": True}  # fmt: skip
    waiting = {"n": 3, "rung": 4, "action": "isolate", "params": {}, "started_at": at.isoformat(), "result": None}
    _add(store, "inc-1", "resolved", at, [restart, rollback, waiting])
    facts = collect(store, "alice", DAY, utc_offset_hours=8)
    assert [(a.action, a.verdict) for a in facts.actions] == [("restart", "not_verified"),
                                                              ("version_rollback", "verified")]  # fmt: skip
    briefing = compose(Settings(home=home, briefing={"utc_offset_hours": 8}), store, UserConfig(name="a"), DAY)
    assert briefing.charts["overview.png"].startswith(b"\x89PNG")


def test_html_shows_images_tables_and_bold() -> None:
    html = markdown_to_html("# T\n\n![overview](overview.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n**x** `y`\n")
    assert "<img src='cid:overview.png' alt='overview'" in html
    assert "<th" in html and "<td" in html and "<b>x</b>" in html and "<code>y</code>" in html
