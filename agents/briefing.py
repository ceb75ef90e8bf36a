"""The daily briefing: once per user per day, yesterday's incidents as speech and Markdown.

Triggered by the scheduler (:func:`run_daily`, inside ``briefing.window``,
default 06:00-10:00 local time), by the voice assistant's greeting, or by
``alertpilot briefing --send``. The (user, day) claim in the delivery ledger makes it
happen at most once a day across processes and restarts; ``force`` overrides. The
words come from the templates in ``prompts/`` (offline) or from the configured model,
which is given only the structured facts (LLM mode) and falls back to the template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from jinja2 import pass_context

from agents.briefing_facts import BriefingFacts, collect, local_zone
from prompts import PROMPTS_DIR, read_prompt
from state.config import Settings, UserConfig
from state.delivery import Ledger
from state.store import Store
from tools.notify import Attachment, DeliveryOutcome, Message, Notifier

DEFAULT_WINDOW = "06:00-10:00"
SEVERITY_ZH = {"critical": "严重", "warning": "警告", "info": "提示", "none": "无级别"}
ACTION_ZH = {
    "restart": "重启",
    "config_refresh": "配置刷新",
    "scale": "扩容",
    "version_rollback": "版本回滚",
    "version rollback": "版本回滚",
    "isolate": "服务隔离",
    "full_rollback": "全量回滚",
    "full rollback": "全量回滚",
}
OPENING = {
    "zh": "你好，{name}。下面我将从告警历史、日志文件、仪表盘三个角度为你播报昨日告警内容。",
    "en": "Good morning, {name}. Here is yesterday's alert briefing from three angles: alert history, "
    "log files and dashboards.",
}
CallsFor = Callable[[str], list[dict[str, Any]]]


class BriefingError(ValueError):
    """Bad briefing input (names the option or field)."""


@dataclass
class Briefing:
    """One rendered briefing and the charts that go with it."""

    facts: BriefingFacts
    speech: str
    markdown: str
    html: str
    mode: str
    charts: dict[str, bytes] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The JSON form saved beside the Markdown."""
        return {
            "user": self.facts.user,
            "day": self.facts.day.isoformat(),
            "covers": self.facts.covers.isoformat(),
            "mode": self.mode,
            "speech": self.speech,
            "facts": self.facts.model_dump(mode="json"),
            "charts": sorted(self.charts),
        }

    def message(self) -> Message:
        """The briefing as a notification (email HTML with the charts attached)."""
        subject = (
            f"alertpilot 每日简报 {self.facts.day}" if self.facts.language == "zh" else "alertpilot daily briefing"
        )
        if self.facts.language != "zh":
            subject += f" {self.facts.day}"
        return Message(
            subject=subject,
            text=self.speech,
            markdown=self.markdown,
            html=self.html,
            attachments=[Attachment(name, data, inline=True) for name, data in sorted(self.charts.items())],
        )


@dataclass
class BriefingOutcome:
    """What a trigger did for one user."""

    user: str
    day: date
    status: str  # given | already_given | outside_window
    briefing: Briefing | None = None
    paths: list[Path] = field(default_factory=list)
    deliveries: list[DeliveryOutcome] = field(default_factory=list)
    previous: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        """JSON for ``--json`` and the assistant."""
        doc: dict[str, Any] = {"user": self.user, "day": self.day.isoformat(), "status": self.status}
        if self.briefing is not None:
            doc.update(self.briefing.document())
            doc["markdown"] = self.briefing.markdown
        doc["files"] = [str(p) for p in self.paths]
        doc["deliveries"] = [vars(d) for d in self.deliveries]
        if self.previous:
            doc["previous"] = self.previous
        return doc


# ---------------------------------------------------------------------- rendering


@cache
def _templates() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(PROMPTS_DIR), trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined
    )
    env.filters["severity"] = lambda s: SEVERITY_ZH.get(str(s), str(s))
    env.filters["action"] = _action_name
    env.filters["num"] = lambda v: f"{float(v):.3g}"
    env.filters["basename"] = lambda p: Path(str(p)).name
    return env


@pass_context
def _action_name(context: Any, action: Any) -> str:
    """An operation in the briefing's language: 版本回滚 in Chinese, "version rollback" in English."""
    facts = context.get("f")
    language = facts.get("language") if isinstance(facts, dict) else getattr(facts, "language", "zh")
    plain = str(action).replace("_", " ")
    return ACTION_ZH.get(str(action), plain) if language == "zh" else plain


def _speech_from(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def render_speech(facts: BriefingFacts, name: str) -> str:
    """The offline speakable briefing from ``prompts/briefing_speech.<lang>.j2``."""
    template = _templates().get_template(f"briefing_speech.{facts.language}.j2")
    return _speech_from(template.render(f=facts, name=name))


def render_markdown(facts: BriefingFacts, speech: str, charts: dict[str, str]) -> str:
    """The Markdown briefing: speech, the overview chart, then the facts; ``charts`` maps incident ids to PNGs."""
    escalations = [{**e.model_dump(), "chart": charts.get(e.incident_id)} for e in facts.escalations]
    incidents = [{**i, "chart": charts.get(i["id"])} for i in facts.incidents]
    template = _templates().get_template(f"briefing.{facts.language}.md.j2")
    text = template.render(
        f={**dict(facts), "escalations": escalations, "incidents": incidents}, speech=speech, overview=OVERVIEW
    )
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


TABLE_STYLE = "border-collapse:collapse;margin:8px 0"
CELL_STYLE = "border:1px solid #ddd;padding:4px 8px"


def _inline(line: str) -> str:
    text = re.sub(r"`([^`]*)`", r"<code>\1</code>", escape(line))
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)


def markdown_to_html(markdown: str) -> str:
    """The briefing Markdown as email HTML: headings, tables, lists, paragraphs, images as ``cid:`` parts."""
    out: list[str] = ["<html><body style='font-family:sans-serif;max-width:860px'>"]
    rows: list[str] = []
    for raw in markdown.splitlines() + [""]:
        line = raw.strip()
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-"} for c in cells):
                tag = "th" if not rows else "td"
                row = "".join(f"<{tag} style='{CELL_STYLE}'>{escape(c)}</{tag}>" for c in cells)
                rows.append(f"<tr>{row}</tr>")
            continue
        if rows:
            out.append(f"<table style='{TABLE_STYLE}'>" + "".join(rows) + "</table>")
            rows = []
        image = re.fullmatch(r"!\[([^\]]*)\]\(([^)\s]+)\)", line)
        if image:
            alt, src = escape(image.group(1)), escape(Path(image.group(2)).name)
            out.append(f"<p><img src='cid:{src}' alt='{alt}' style='max-width:100%'></p>")
        elif line.startswith("# "):
            out.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.startswith("## "):
            out.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("- "):
            out.append(f"<li>{_inline(line[2:])}</li>")
        elif line:
            out.append(f"<p>{_inline(line)}</p>")
    out.append("</body></html>")
    return "\n".join(out)


def llm_speech(model: Any, facts: BriefingFacts, name: str, settings: Settings) -> str:
    """The model's speakable briefing written from the structured facts only.

    Raises :class:`~agents.llm_calls.ModelFault` saying why when the answer cannot be spoken
    (a failed or cut request, repetition, markup, another language, a wrong opening).
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    from agents.briefing_llm import speech_problem
    from agents.llm_calls import ModelFault, ModelGate

    language_name = "Simplified Chinese" if facts.language == "zh" else "English"
    opening = OPENING[facts.language].format(name=name)
    system = read_prompt("briefing_llm.md").format(language_name=language_name, opening=opening)
    facts_json = json.dumps(facts.model_dump(mode="json"), ensure_ascii=False)
    gate = ModelGate(model, "briefing", settings)
    answer = gate.invoke([SystemMessage(system), HumanMessage(facts_json)], purpose="briefing")
    text = _speech_from(answer.content if isinstance(answer.content, str) else str(answer.content))
    problem = speech_problem(text, facts.language, opening)
    if problem:
        raise ModelFault(problem)
    return text


# ---------------------------------------------------------------------- composing


OVERVIEW = "overview.png"
MAX_INCIDENT_CHARTS = 8  # escalated first; a busy day's briefing stays a page, not an album


def overview_chart(facts: BriefingFacts) -> bytes:
    """The day's overview PNG: incidents per service and outcome by local hour, actions and their verification."""
    from tools.charts import DayAction, DayIncident, overview_png

    zone = local_zone(facts.utc_offset_hours)

    def hour(moment: datetime) -> float:
        local = moment.astimezone(zone)
        return local.hour + local.minute / 60

    incidents = [
        DayIncident(str(i["service"]), hour(datetime.fromisoformat(i["created_at"])), str(i["status"]))
        for i in facts.incidents
    ]
    actions = [DayAction(a.service, hour(a.at), a.action, a.verdict) for a in facts.actions]
    return overview_png(str(facts.covers), incidents, actions, facts.language)


def _charts(store: Store, facts: BriefingFacts, calls_for: CallsFor | None) -> dict[str, bytes]:
    """The overview, always, then each incident's key-metric chart where one can be drawn (escalated first)."""
    from tools.charts import incident_chart

    charts: dict[str, bytes] = {OVERVIEW: overview_chart(facts)}
    escalated = [e.incident_id for e in facts.escalations]
    ordered = escalated + [i["id"] for i in facts.incidents if i["id"] not in escalated]
    for incident_id in ordered:
        if calls_for is None or len(charts) > MAX_INCIDENT_CHARTS:
            break
        doc = store.get(incident_id)
        png = incident_chart(doc, calls_for(incident_id)) if doc else None
        if png:
            charts[f"{incident_id}.png"] = png
    return charts


def compose(
    settings: Settings,
    store: Store,
    user: UserConfig,
    day: date,
    *,
    model: Any = None,
    calls_for: CallsFor | None = None,
) -> Briefing:
    """Collect the facts of ``day``'s briefing for ``user`` and put them into words."""
    facts = collect(store, user.name, day, utc_offset_hours=utc_offset(settings), language=settings.language)
    charts = _charts(store, facts, calls_for)
    for escalation in facts.escalations:
        if f"{escalation.incident_id}.png" in charts:
            escalation.chart = f"{escalation.incident_id}.png"
    mode = "offline"
    speech = ""
    if model is not None:
        from agents.llm_calls import ModelFault

        try:
            speech = llm_speech(model, facts, user.name, settings)
            mode = "llm"
        except ModelFault as exc:  # the gate turns every provider failure into one
            mode = f"offline (model speech not used: {exc})"
    if not speech:
        speech = render_speech(facts, user.name)
    chart_names = {name.removesuffix(".png"): name for name in charts if name != OVERVIEW}
    markdown = render_markdown(facts, speech, chart_names)
    return Briefing(facts, speech, markdown, markdown_to_html(markdown), mode, charts)


def save(briefing: Briefing, home: Path) -> list[Path]:
    """Write ``briefings/YYYY-MM-DD/{user}.md`` and ``.json`` (and the charts) under ``home``."""
    folder = home / "briefings" / briefing.facts.day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", briefing.facts.user) or "user"
    paths = [folder / f"{stem}.md", folder / f"{stem}.json"]
    paths[0].write_text(briefing.markdown, encoding="utf-8")
    paths[1].write_text(json.dumps(briefing.document(), ensure_ascii=False, indent=2), encoding="utf-8")
    for name, data in briefing.charts.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


# ---------------------------------------------------------------------- triggers


def utc_offset(settings: Settings) -> float:
    """The team's UTC offset in hours (``briefing.utc_offset_hours``, else working hours')."""
    raw = settings.briefing.utc_offset_hours
    return raw if raw is not None else settings.triage.working_hours.utc_offset_hours


def local_day(settings: Settings, now: datetime) -> date:
    """Today in the team's time zone."""
    return now.astimezone(local_zone(utc_offset(settings))).date()


def briefing_window(settings: Settings) -> tuple[time, time]:
    """``briefing.window`` ("HH:MM-HH:MM", default 06:00-10:00) as two local times."""
    spec = settings.briefing.window
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", spec)
    if not match:
        raise BriefingError(f"briefing.window: expected HH:MM-HH:MM, got {spec!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
        raise BriefingError(f"briefing.window: not a time range: {spec!r}")
    end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
    return time(h1, m1), end


def in_window(settings: Settings, now: datetime) -> bool:
    """Whether ``now`` is inside the briefing window, local time."""
    start, end = briefing_window(settings)
    local = now.astimezone(local_zone(utc_offset(settings))).time()
    return start <= local <= end


def resolve_user(settings: Settings, name: str | None) -> UserConfig:
    """The configured user ``name``; with no name and no users, an unnamed team reader."""
    if name:
        user = settings.user(name)
        if user is None:
            known = ", ".join(u.name for u in settings.users) or "none configured"
            raise BriefingError(f"--user: unknown user {name!r} (users: {known})")
        return user
    readers = settings.readers()
    return readers[0] if readers else UserConfig(name="team")


def give(
    settings: Settings,
    store: Store,
    user: UserConfig,
    day: date,
    *,
    trigger: str,
    send: bool = False,
    force: bool = False,
    gated: bool = True,
    notifier: Notifier | None = None,
    model: Any = None,
    calls_for: CallsFor | None = None,
) -> BriefingOutcome:
    """Give ``user`` the briefing of ``day`` once: claim the day, compose, save, optionally send.

    ``gated=False`` only renders (a preview that does not count as the day's briefing).
    """
    ledger = Ledger(store)
    if gated and not ledger.claim_briefing(user.name, day, trigger, force=force):
        return BriefingOutcome(user.name, day, "already_given", previous=ledger.briefing_given(user.name, day))
    try:
        briefing = compose(settings, store, user, day, model=model, calls_for=calls_for)
        paths = save(briefing, settings.home)
    except Exception:
        if gated:
            ledger.release_briefing(user.name, day)
        raise
    deliveries: list[DeliveryOutcome] = []
    if send:
        notifier = notifier or Notifier(settings, ledger)
        key = f"briefing:{day.isoformat()}" + (f":forced:{datetime.now().timestamp():.0f}" if force else "")
        deliveries = notifier.send(user, briefing.message(), key=key, kind="briefing")
    return BriefingOutcome(user.name, day, "given", briefing, paths, deliveries)


def run_daily(
    settings: Settings,
    store: Store,
    now: datetime,
    *,
    notifier: Notifier | None = None,
    model: Any = None,
    calls_for: CallsFor | None = None,
) -> list[BriefingOutcome]:
    """The scheduler's entry point: inside the window, brief every user who has not been briefed today.

    Safe to call as often as the scheduler likes (every few minutes): the (user, day)
    claim makes each user's briefing happen once a day, whichever process gets there first.
    ``calls_for`` reads an incident's recorded tool calls (the runner's ``tool_calls``) for
    its chart; without it the briefing has no charts.
    """
    if not in_window(settings, now):
        return [BriefingOutcome(u.name, local_day(settings, now), "outside_window") for u in settings.readers()]
    day = local_day(settings, now)
    return [
        give(
            settings,
            store,
            user,
            day,
            trigger="scheduler",
            send=bool(user.channels),
            notifier=notifier,
            model=model,
            calls_for=calls_for,
        )  # fmt: skip
        for user in settings.readers()
    ]


def yesterday_of(day: date) -> date:
    """The day a briefing given on ``day`` covers."""
    return day - timedelta(days=1)
