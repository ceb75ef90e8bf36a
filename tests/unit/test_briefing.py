"""Briefing facts, words, the once-a-day gate and the window, on a real SQLite store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from agents.briefing import BriefingError, compose, give, in_window, run_daily
from agents.briefing_facts import collect
from server.assistant import SpeakerCache
from state.config import Settings, UserConfig
from state.delivery import Ledger
from state.store import IncidentRow, Store
from tools.charts import key_series, render_png

DAY = date(2026, 11, 21)  # briefing day; covers 2026-11-20 (UTC+8)
SIGNAL = 'sum(rate(errors{service="checkout"}[5m]))'


def _doc(incident_id: str, status: str, severity: str, service: str = "checkout", **extra: Any) -> dict[str, Any]:
    alert = {"source": "alertmanager", "name": "HighErrorRate", "service": service, "severity": severity}
    return {"id": incident_id, "status": status, "alert": alert, "attempts": [], "findings": [], **extra}


def _add(store: Store, doc: dict[str, Any], at: datetime) -> None:
    store.create_incident(doc["id"], doc["id"], doc)
    with store.session() as session:
        row = session.get(IncidentRow, doc["id"])
        assert row is not None
        row.created_at = at


@pytest.fixture
def store(home: Path) -> Store:
    store = Store.from_url(f"sqlite:///{home / 'alertpilot.db'}")
    noon = datetime(2026, 11, 20, 4, tzinfo=UTC)  # 12:00 local on the covered day
    rollback = {"n": 1, "rung": 3, "action": "version_rollback", "params": {"target": "v2.1"},
                "result": {"status": "success"}, "verified": True}  # fmt: skip
    _add(store, _doc("inc-held", "resolved", "critical", attempts=[rollback]), noon)
    _add(store, _doc("inc-esc", "escalated", "critical", "payments", escalation_reason="budget spent", findings=[
        {"kind": "log", "title": "NullPointerException in PaymentClient", "evidence": {"count": 7}},
        {"kind": "metric", "title": "signal rose", "evidence": {"baseline": 0.004, "alert_window": 0.23},
         "query": SIGNAL},
    ]), noon + timedelta(hours=2))  # fmt: skip
    _add(store, _doc("inc-warn", "resolved", "warning", "search"), noon + timedelta(hours=3))
    _add(store, _doc("inc-before", "resolved", "critical"), noon - timedelta(days=1))  # not covered
    _add(store, _doc("inc-after", "open", "critical"), noon + timedelta(days=1))  # not covered
    return store


def test_facts_cover_the_local_day_before(store: Store) -> None:
    facts = collect(store, "alice", DAY, utc_offset_hours=8)
    assert facts.covers == date(2026, 11, 20)
    assert facts.total == 3 and facts.by_severity == {"critical": 2, "warning": 1}
    assert [(r.incident_id, r.target, r.held) for r in facts.rollbacks] == [("inc-held", "v2.1", True)]
    _add(store, _doc("inc-again", "open", "critical"), datetime(2026, 11, 20, 10, tzinfo=UTC))
    relapsed = collect(store, "alice", DAY, utc_offset_hours=8).rollbacks[0]
    assert (relapsed.verified, relapsed.held) == (True, False)  # the same alert came back: it did not hold
    assert [(e.incident_id, e.reason) for e in facts.escalations] == [("inc-esc", "budget spent")]
    assert facts.log_signatures == [("NullPointerException in PaymentClient", 7)]
    assert [(a.baseline, a.during) for a in facts.anomalies] == [(0.004, 0.23)]


def test_offline_words_in_chinese_and_english(home: Path, store: Store) -> None:
    alice = UserConfig(name="alice")
    zh = compose(Settings(home=home), store, alice, DAY)
    assert zh.mode == "offline"
    assert zh.speech.startswith("你好，alice。下面我将从告警历史、日志文件、仪表盘三个角度为你播报昨日告警内容。")
    for words in (
        "共有3起告警事件",
        "严重2起",
        "版本回滚，回到 v2.1 版本，效果保持住了",
        "原因是budget spent",
        "NullPointerException in PaymentClient",
        "payments 的 HighErrorRate 指标从平时的 0.004 变成了 0.23",
        "发到你的邮箱",
    ):
        assert words in zh.speech
    assert "| 严重 | 2 |" in zh.markdown and "<table" in zh.html
    en = compose(Settings(home=home, language="en"), store, alice, DAY)
    assert en.speech.startswith("Good morning, alice.") and "3 incidents" in en.speech
    assert "it held" in en.speech and "Shall I email you" in en.speech


def test_llm_mode_speaks_the_models_prose_and_falls_back(home: Path, store: Store) -> None:
    alice = UserConfig(name="alice")
    model = FakeListChatModel(responses=["你好，alice。昨天共有三起告警。"])
    briefing = compose(Settings(home=home), store, alice, DAY, model=model)
    assert (briefing.mode, briefing.speech) == ("llm", "你好，alice。昨天共有三起告警。")
    assert "| 合计 | 3 |" in briefing.markdown  # the facts stay structured whatever the model says

    class Broken(FakeListChatModel):
        def invoke(self, *_a: Any, **_k: Any) -> Any:
            raise ConnectionError("provider down")

    fallback = compose(Settings(home=home), store, alice, DAY, model=Broken(responses=[""]))
    assert fallback.mode == "offline (model speech not used: model request failed: ConnectionError: provider down)"
    assert fallback.speech.startswith("你好，alice")


ENTITY_LOOP = "\n".join(['{"speech": "&#34;Good morning&#34;"}'] * 15)


@pytest.mark.parametrize(
    ("language", "reply", "metadata", "why"),
    [
        ("zh", "Good morning, alice. Yesterday there were three incidents in total.", {}, "not in Chinese"),
        ("en", "你好，alice。昨天共有三起告警事件，其中严重两起。", {}, "not in English"),
        ("en", ENTITY_LOOP, {}, "answer repeats itself"),
        ("en", "Good morning, alice. **Three** incidents: see the table below.", {}, "contains Markdown"),
        ("en", "Good morning, alice. There were 3 &#34;incidents&#34; yesterday, all resolved.", {}, "contains HTML entities"),
        ("en", "Hello team. Yesterday there were three incidents and all of them were resolved.", {}, "does not open"),
        ("en", "Good morning, alice. Yesterday there were three incidents and", {"finish_reason": "length"},
         "answer cut by the length limit"),
    ],
)  # fmt: skip
def test_a_model_speech_unfit_to_be_spoken_falls_back_and_says_why(
    home: Path, store: Store, language: str, reply: str, metadata: dict[str, Any], why: str
) -> None:
    from langchain_core.messages import AIMessage

    from tests.fakes import ScriptedModel

    model = ScriptedModel(responses=[AIMessage(content=reply, response_metadata=metadata)])
    briefing = compose(Settings(home=home, language=language), store, UserConfig(name="alice"), DAY, model=model)
    assert briefing.mode.startswith(f"offline (model speech not used: {why}")
    opening = "你好，alice" if language == "zh" else "Good morning, alice."
    assert briefing.speech.startswith(opening) and reply not in briefing.speech


def test_the_offline_english_briefing_names_actions_in_english(home: Path, store: Store) -> None:
    en = compose(Settings(home=home, language="en"), store, UserConfig(name="alice"), DAY)
    assert "version rollback back to v2.1" in en.speech
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in en.speech + en.markdown)


def test_once_a_day_survives_a_new_store_and_force_overrides(home: Path, store: Store) -> None:
    settings = Settings(home=home)
    alice = UserConfig(name="alice")
    assert give(settings, store, alice, DAY, trigger="greeting").status == "given"
    again = give(settings, Store.from_url(settings.db_url), alice, DAY, trigger="scheduler")
    assert again.status == "already_given" and again.previous and again.previous["trigger"] == "greeting"
    assert give(settings, store, alice, DAY, trigger="cli", force=True).status == "given"
    assert give(settings, store, alice, DAY + timedelta(days=1), trigger="scheduler").status == "given"
    assert (home / "briefings" / DAY.isoformat() / "alice.md").is_file()
    assert (home / "briefings" / DAY.isoformat() / "alice.json").is_file()


def test_scheduler_briefs_inside_the_window_only(home: Path, store: Store) -> None:
    settings = Settings(home=home, users=[UserConfig(name="alice"), UserConfig(name="bob")])
    before = datetime(2026, 11, 20, 21, 30, tzinfo=UTC)  # 05:30 local
    inside = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)  # 07:00 local on DAY
    assert {o.status for o in run_daily(settings, store, before, calls_for=lambda _i: [])} == {"outside_window"}
    given = run_daily(settings, store, inside, calls_for=lambda _i: [])
    assert [(o.user, o.day, o.status) for o in given] == [("alice", DAY, "given"), ("bob", DAY, "given")]
    assert {o.status for o in run_daily(settings, store, inside + timedelta(hours=1), calls_for=lambda _i: [])} == {
        "already_given"
    }
    assert Ledger(store).briefing_given("bob", DAY)["trigger"] == "scheduler"  # type: ignore[index]


def test_window_config_is_checked(home: Path) -> None:
    late = Settings(home=home, briefing={"window": "20:00-23:00"})
    assert in_window(late, datetime(2026, 11, 20, 13, 30, tzinfo=UTC))  # 21:30 local
    with pytest.raises(BriefingError, match="briefing.window"):
        in_window(Settings(home=home, briefing={"window": "morning"}), datetime.now(UTC))


def test_chart_uses_the_alerts_signal_series() -> None:
    calls = [
        {"tool": "execute_range_query", "status": "success", "args": {"query": 'build_info{service="checkout"}'},
         "result": {"result": [{"metric": {"version": "v2.2"}, "values": [[1, "1"]]}]}},
        {"tool": "execute_range_query", "status": "success", "args": {"query": SIGNAL},
         "result": {"result": [{"metric": {"service": "checkout"}, "values": [[1, "0.004"], [61, "0.23"]]}]}},
    ]  # fmt: skip
    series = key_series(calls, [{"kind": "metric", "query": SIGNAL}])
    assert [(s.query, [p[1] for p in s.points]) for s in series] == [(SIGNAL, [0.004, 0.23])]
    assert render_png("t", series).startswith(b"\x89PNG")
    assert key_series([], [{"kind": "metric", "query": SIGNAL}]) == []


def test_speaker_is_forgotten_after_the_ttl() -> None:
    now = [datetime(2026, 11, 20, tzinfo=UTC)]
    cache = SpeakerCache(ttl_s=60, clock=lambda: now[0])
    cache.remember(UserConfig(name="alice"))
    now[0] += timedelta(seconds=59)
    assert cache.current() is not None and cache.current().name == "alice"  # type: ignore[union-attr]
    now[0] += timedelta(seconds=2)
    assert cache.current() is None


def test_the_services_scheduler_runs_the_briefing_job_once_a_day(home: Path, store: Store) -> None:
    from server.scheduler import JobContext, resolve_job, validate_schedule

    settings = Settings(
        home=home,
        users=[UserConfig(name="alertpilot", rollback_permission=True), UserConfig(name="alice")],
        schedule={"briefing": "*/10 6-9 * * *", "escalation_reminders": "0 * * * *"},
        briefing={"window": "06:00-10:00"},
    )
    # what `serve` checks at start: the configured jobs, and delivery retries that always run
    # (escalation_reminders is the old name of follow_ups, so follow_ups is not added twice)
    assert set(validate_schedule(settings)) == {"briefing", "escalation_reminders", "delivery_retries"}
    job = resolve_job("briefing")  # what `schedule: {briefing: "0 7 * * *"}` runs inside `serve`
    inside = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)  # 07:00 local on DAY
    assert job(JobContext(settings, store, inside)).startswith("briefed alice ")  # not the agent's own account
    assert job(JobContext(settings, store, inside + timedelta(minutes=5))).startswith("briefed nobody")
    assert resolve_job("escalation_reminders")(JobContext(settings, store, inside)).startswith(
        "0 incident(s) followed up"
    )
