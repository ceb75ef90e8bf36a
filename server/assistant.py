"""``alertpilot mcp serve assistant``: the voice assistant's MCP server (stdio, for Xiaozhi).

An application, not a provider: it drives the incident runner (approvals through
:mod:`server.decisions`) and composes briefings (:mod:`agents.briefing`); its read-only
Tencent Cloud questions go through the provider module :mod:`tools.mcp.assistant_cloud`.

Every tool answers ``{"action": "RESPONSE", "response": "<speakable text>"}``, which
Xiaozhi reads out as is. The ``user`` argument is who speaks: a configured user's name or
the speaker name Xiaozhi's voiceprint recognition gives (``users[].speaker``); it is
remembered for ``assistant.session_ttl_s`` so later questions need no name.

Approvals need more (issue 21): only an *identified speaker* — a name that maps through
``users[].speaker`` to a configured user, not a name anyone can say — may answer, and an
approval takes two tool calls: ``approve_rollback`` speaks the exact action and its code
(the first characters of :func:`server.decisions.action_hash`), and only
``confirm_rollback`` quoting that code back, by the same speaker, within the session TTL,
while the incident still waits on that same action, answers it (source ``voice``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mcp.server.fastmcp import FastMCP

from state.config import Settings, UserConfig
from state.store import Store
from tools.notify import Notifier
from tools.registry import ToolError

STATUS_ZH = {
    "open": "处理中", "awaiting_approval": "等待批准", "resolved": "已解决",
    "escalated": "已转交人工", "failed": "处理失败",
}  # fmt: skip
OPEN = ("open", "awaiting_approval", "escalated")
CHANNEL_ZH = {
    "email": "邮件", "wecom": "企业微信", "dingtalk": "钉钉", "feishu": "飞书", "slack": "Slack",
    "webhook": "回调", "pagerduty": "PagerDuty",
}  # fmt: skip
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
LOG_KINDS = ("business", "event", "audit")


def parse_channels(channels: list[str] | str) -> tuple[list[str], list[str]]:
    """The channels a spoken list names ("邮件和钉钉", "email, slack"), and the words that name none."""
    from tools.notify.channels import channel_name

    spoken = re.split(r"[,，、;；/]+|\s+and\s+|和|及|还有", channels) if isinstance(channels, str) else list(channels)
    words = [w.strip() for w in spoken if w and w.strip()]
    named = [(w, channel_name(w)) for w in words]
    picked = list(dict.fromkeys(c for _w, c in named if c))
    return picked, [w for w, c in named if c is None]


def speak(text: str) -> dict[str, str]:
    """The result shape Xiaozhi speaks."""
    return {"action": "RESPONSE", "response": text}


@dataclass
class SpeakerCache:
    """Who is speaking, remembered for a while after they named themself (or their voice was recognised)."""

    ttl_s: float
    clock: Callable[[], datetime]
    _user: UserConfig | None = None
    _until: datetime | None = None
    _by_speaker: bool = False

    def remember(self, user: UserConfig, *, by_speaker: bool = False) -> None:
        """Remember ``user`` as the speaker for the next ``ttl_s`` seconds."""
        self._user, self._until = user, self.clock() + timedelta(seconds=self.ttl_s)
        self._by_speaker = by_speaker

    def current(self) -> UserConfig | None:
        """The remembered speaker, or None when nobody named themself recently."""
        if self._user is None or self._until is None or self.clock() >= self._until:
            self._user = None
            return None
        return self._user

    def identified(self) -> UserConfig | None:
        """The remembered speaker when their voice (``users[].speaker``) identified them, within the TTL."""
        user = self.current()
        return user if user is not None and self._by_speaker else None


@dataclass(frozen=True)
class PendingConfirmation:
    """An approval a speaker asked for and has not confirmed yet."""

    user: str
    action: str
    at: datetime


CODE_LEN = 6  # characters of the action hash spoken and quoted back


@dataclass
class Assistant:
    """The assistant's tools over settings, the store and the incident runner."""

    settings: Settings
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    cache: SpeakerCache | None = None
    _store: Store | None = None
    _confirmations: dict[str, PendingConfirmation] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cache is None:
            self.cache = SpeakerCache(self.settings.assistant.session_ttl_s, self.clock)

    @property
    def zh(self) -> bool:
        """Whether to answer in Chinese."""
        return self.settings.language == "zh"

    def say(self, zh: str, en: str) -> dict[str, str]:
        """Speak ``zh`` or ``en`` by the configured language."""
        return speak(zh if self.zh else en)

    def store(self) -> Store:
        """The incident store (opened on first use)."""
        if self._store is None:
            self._store = Store.from_url(self.settings.db_url)
        return self._store

    def who(self, name: str | None) -> UserConfig | dict[str, str]:
        """The named (or remembered) speaker, or a spoken reason why there is none."""
        assert self.cache is not None
        if name and name.strip():
            by_voice = self.settings.speaker_user(name)
            user = by_voice or self.settings.user(name)
            if user is None:
                return self.say(f"抱歉，我不认识{name}。", f"Sorry, I do not know {name}.")
            self.cache.remember(user, by_speaker=by_voice is not None)
            return user
        user = self.cache.current()
        if user is None:
            return self.say("请先告诉我你是谁，比如说“我是张三”。", "Please tell me who you are first.")
        return user

    # ------------------------------------------------------------------ briefing

    def daily_briefing(self, user: str, force: bool = False) -> dict[str, str]:
        """The morning greeting: yesterday's briefing, once a day, inside the briefing window."""
        from agents.briefing import give, in_window, local_day
        from graph.runner import open_reader

        speaker = self.who(user)
        if isinstance(speaker, dict):
            return speaker
        now = self.clock()
        if not force and not in_window(self.settings, now):
            window = self.settings.briefing.window
            return self.say(
                f"{speaker.name}，晨间简报在 {window} 播报。现在你可以问我有哪些未关闭的事件。",
                f"{speaker.name}, the morning briefing is given {window}. You can ask me about open incidents.",
            )
        with open_reader(self.settings, self.store()) as reader:
            outcome = give(
                self.settings, self.store(), speaker, local_day(self.settings, now), trigger="greeting",
                force=force, calls_for=reader.tool_calls,
            )  # fmt: skip
        if outcome.briefing is None:
            return self.say(
                f"{speaker.name}，今天已经为你播报过昨日简报了。想再听一遍可以说“重新播报”。",
                f"{speaker.name}, I already gave you today's briefing. Ask me to repeat it if you like.",
            )
        return speak(outcome.briefing.speech)

    def send_briefing(self, user: str = "", channel: str = "email") -> dict[str, str]:
        """Send today's briefing to the speaker now, by email unless another channel is named."""
        from agents.briefing import give, local_day
        from graph.runner import open_reader
        from tools.notify.channels import channel_name

        speaker = self.who(user)
        if isinstance(speaker, dict):
            return speaker
        wanted = channel_name(channel or "email")
        if wanted is None or wanted == "pagerduty":
            return self.say(f"我不能通过{channel}发送简报。", f"I cannot send the briefing over {channel}.")
        notifier = self.notifier()
        person = notifier.effective(speaker)
        if wanted == "email" and not person.email:
            return self.say("你还没有设置邮箱。可以说：把我的邮箱设为某某。", "You have no email address yet.")
        now = self.clock()
        day = local_day(self.settings, now)
        with open_reader(self.settings, self.store()) as reader:
            outcome = give(
                self.settings, self.store(), person, day, trigger="request", gated=False, calls_for=reader.tool_calls
            )
        assert outcome.briefing is not None
        key = f"briefing-request:{day.isoformat()}:{now.timestamp():.0f}"
        result = notifier.send(person, outcome.briefing.message(), key=key, kind="briefing", channels=[wanted])[0]
        where = person.email if wanted == "email" else self._channel_word(wanted)
        if result.status == "delivered":
            return self.say(f"好的，简报已经发到{where}。", f"Done, the briefing went to {where}.")
        if result.status == "retrying":
            return self.say(f"{where}暂时发不出去，我稍后会再试。", f"{where} is not reachable now; I will try again.")
        return self.say(f"抱歉，简报没有发出去：{result.detail[:60]}", f"Sorry, it was not sent: {result.detail[:60]}")

    # ------------------------------------------------------------------ push preferences

    def notifier(self) -> Notifier:
        """The notifier over the store's delivery ledger (it applies voice-set preferences)."""
        from state.delivery import Ledger

        return Notifier(self.settings, Ledger(self.store()), env=self.env)

    def _channel_word(self, channel: str) -> str:
        if not self.zh:
            return {"wecom": "WeCom", "dingtalk": "DingTalk", "feishu": "Feishu", "pagerduty": "PagerDuty"}.get(
                channel, channel
            )
        return CHANNEL_ZH.get(channel, channel)

    def set_push_preferences(self, user: str = "", channels: list[str] | str = "", email: str = "") -> dict[str, str]:
        """Set how the speaker is notified: their channels (email, wecom, dingtalk, feishu, slack...) and email."""
        speaker = self.who(user)
        if isinstance(speaker, dict):
            return speaker
        picked, unknown = parse_channels(channels)
        if unknown:
            return self.say(
                f"我不认识“{unknown[0]}”这个渠道。可以选邮件、企业微信、钉钉、飞书或 Slack。",
                f"I do not know the channel {unknown[0]}. Choose email, WeCom, DingTalk, Feishu or Slack.",
            )
        address = email.strip().replace(" ", "").lower() or None
        if address is not None and not EMAIL.fullmatch(address):
            return self.say(f"“{email}”不像一个邮箱地址，请再说一遍。", f"{email} is not an email address.")
        notifier = self.notifier()
        missing = [c for c in picked if not notifier.senders.configured(c)]
        if missing:
            word = self._channel_word(missing[0])
            return self.say(f"{word}还没有配置好，暂时不能用。", f"{word} is not set up here yet.")
        if "email" in picked and not (address or notifier.effective(speaker).email):
            return self.say("用邮件的话，请告诉我你的邮箱。", "For email, tell me your address too.")
        assert notifier.ledger is not None
        notifier.ledger.set_preferences(speaker.name, picked, address)
        return self._confirm(notifier.effective(speaker), picked)

    def _confirm(self, person: UserConfig, picked: list[str]) -> dict[str, str]:
        """The preferences as stored, said back."""
        if not picked:
            return self.say(f"好的，{person.name}，以后不再给你推送。", f"OK, {person.name}, no more pushes for you.")
        words = [self._channel_word(c) for c in picked]
        listed_en = " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else words[0]
        mail = person.email if "email" in picked else None
        return self.say(
            f"好的，{person.name}，以后通过{'、'.join(words)}通知你" + (f"，邮箱是 {mail}。" if mail else "。"),
            f"OK, {person.name}, you will hear from me by {listed_en}" + (f", at {mail}." if mail else "."),
        )

    # ------------------------------------------------------------------ incidents

    def operations_stats(self, days: float = 7, service: str = "") -> dict[str, str]:
        """How operations went over the last ``days`` days (one ``service`` or all).

        Incidents, escalations and their main reason, the ladder's verified success rate and
        the alert that most often needed no action.
        """
        from server.stats_text import spoken_stats

        return speak(spoken_stats(self.store(), self.zh, days, service, self.clock()))

    def _status(self, status: str) -> str:
        return STATUS_ZH.get(status, status) if self.zh else status.replace("_", " ")

    def list_open_incidents(self) -> dict[str, str]:
        """Incidents not yet closed: open, waiting for approval, or escalated to people."""
        rows = [r for r in self.store().list(limit=200) if r["status"] in OPEN]
        if not rows:
            return self.say("目前没有未关闭的事件。", "There are no open incidents.")
        parts_zh = [f"{r['service'] or r['name']} 的 {r['name']}，{self._status(r['status'])}" for r in rows[:6]]
        parts_en = [f"{r['name']} on {r['service'] or '-'}, {self._status(r['status'])}" for r in rows[:6]]
        return self.say(
            f"目前有{len(rows)}个未关闭的事件：" + "；".join(parts_zh) + "。",
            f"{len(rows)} open incident{'s' if len(rows) != 1 else ''}: " + "; ".join(parts_en) + ".",
        )

    def _find(self, said: str) -> dict[str, Any] | None:
        """The incident an id, a service name or nothing (the newest unclosed one) points at."""
        said = said.strip()
        if said:
            doc = self.store().get(said)
            if doc is not None:
                return doc
        rows = [r for r in self.store().list(limit=200) if r["status"] in OPEN]
        wanted = said.lower()
        match = next((r for r in rows if not wanted or wanted in (r["service"] or "").lower()
                      or wanted in r["name"].lower() or r["id"].endswith(wanted)), None)  # fmt: skip
        return self.store().get(match["id"]) if match else None

    def incident_status(self, incident_id: str = "") -> dict[str, str]:
        """Where an incident stands and what it waits for; by id, by service, or the newest open one if none."""
        from agents.escalation import describe_action

        doc = self._find(incident_id)
        if doc is None:
            if not incident_id.strip():
                return self.say("目前没有未关闭的事件。", "There are no open incidents.")
            return self.say(f"找不到事件 {incident_id}。", f"I cannot find incident {incident_id}.")
        alert = doc["alert"]
        subject = alert.get("service") or alert.get("workload") or "-"
        attempts = len(doc.get("attempts") or [])
        pending = doc.get("pending") or {}
        reason = (doc.get("escalation_reason") or "")[:80]
        if self.zh:
            text = f"{subject} 的 {alert['name']}，{self._status(doc['status'])}，已尝试{attempts}次。"
            if pending:
                text += f"等待批准的操作是：{describe_action(pending, 'zh')}。"
            if reason:
                text += f"转交人工的原因：{reason}。"
            return speak(text)
        text = f"{alert['name']} on {subject}: {self._status(doc['status'])}, {attempts} attempt(s)."
        if pending:
            text += f" It waits for approval to {describe_action(pending, 'en')}."
        if reason:
            text += f" Escalated because {reason}."
        return speak(text)

    def identified(self, speaker: str | None) -> UserConfig | dict[str, str]:
        """The speaker an approval may come from (``users[].speaker``), or what is needed, spoken."""
        assert self.cache is not None
        if speaker and speaker.strip():
            user = self.settings.speaker_user(speaker)
            if user is not None:
                self.cache.remember(user, by_speaker=True)
                return user
        else:
            user = self.cache.identified()
            if user is not None:
                return user
        return self.say(
            "抱歉，我没能通过声音确认你的身份，不能处理审批。请让已登记声纹的同事来操作。",
            "Sorry, I could not identify you by your voice, so I cannot take an approval. "
            "Ask a colleague whose voice is registered.",
        )

    def _waiting(self, incident_id: str) -> dict[str, Any] | None:
        """The incident's document when it waits for approval (else None)."""
        doc = self.store().get(incident_id.strip())
        return doc if doc is not None and doc.get("status") == "awaiting_approval" and doc.get("pending") else None

    def _not_waiting(self, incident_id: str) -> dict[str, str]:
        return self.say(f"事件 {incident_id} 没有在等待批准。", f"Incident {incident_id} is not waiting for approval.")

    def _decide(
        self, speaker: UserConfig, incident_id: str, approved: bool, reason: str, action: str
    ) -> dict[str, str]:
        from graph.runner import open_runner
        from server.decisions import Verdict, decide, run_now

        verdict = Verdict(
            incident_id.strip(), approved, speaker.name, reason, credential=f"speaker:{speaker.speaker}",
            source="voice", action=action,
        )  # fmt: skip
        try:
            with open_runner(self.settings) as runner:
                doc = decide(self.settings, runner.store, verdict, run_now(runner))
        except PermissionError:
            return self._no_permission(speaker)
        except LookupError:  # no such incident, it waits for nothing, or it was answered or changed meanwhile
            return self.say(
                f"事件 {incident_id} 没有在等待这项批准。", f"Incident {incident_id} is not waiting for this approval."
            )
        status = self._status(doc["status"])
        if approved:
            return self.say(
                f"好的，{speaker.name}，已批准回滚。事件现在的状态是：{status}。",
                f"Approved, {speaker.name}. The incident is now {status}.",
            )
        return self.say(f"已拒绝这次回滚，事件现在的状态是：{status}。", f"Rejected. The incident is now {status}.")

    def _no_permission(self, speaker: UserConfig) -> dict[str, str]:
        return self.say(
            f"抱歉，{speaker.name}，你没有回滚权限，不能批准这次回滚。请联系有权限的同事。",
            f"Sorry, {speaker.name}, you do not have rollback permission. Please ask someone who does.",
        )

    def approve_rollback(self, incident_id: str, user: str = "") -> dict[str, str]:
        """Ask to approve the rollback an incident waits on: speaks the exact action and a code to confirm.

        Nothing is approved yet: call confirm_rollback with the code once the speaker has
        confirmed. Needs a speaker identified by voice with rollback permission.
        """
        from server.decisions import action_hash
        from tools.guard import approval_problem

        speaker = self.identified(user)
        if isinstance(speaker, dict):
            return speaker
        if approval_problem(self.settings, speaker.name, approved=True):
            return self._no_permission(speaker)
        doc = self._waiting(incident_id)
        if doc is None:
            return self._not_waiting(incident_id)
        pending = doc["pending"]
        action = action_hash(pending)
        self._confirmations[doc["id"]] = PendingConfirmation(speaker.name, action, self.clock())
        code = action[:CODE_LEN]
        target = pending.get("params", {}).get("service") or "-"
        return self.say(
            f"{speaker.name}，要批准的是{pending.get('rung_name')}：对 {target} 执行 {pending.get('operation')}，"
            f"参数 {pending.get('params')}。确认的话请说“确认”，操作码 {' '.join(code)}。",
            f"{speaker.name}, this approves {pending.get('rung_name')}: {pending.get('operation')} on {target} "
            f"with {pending.get('params')}. Say confirm to go ahead; the action code is {' '.join(code)}.",
        )

    def confirm_rollback(self, incident_id: str, action_hash: str, user: str = "") -> dict[str, str]:
        """Confirm an approval asked for with approve_rollback, quoting its action code; then it is applied."""
        speaker = self.identified(user)
        if isinstance(speaker, dict):
            return speaker
        asked = self._confirmations.get(incident_id.strip())
        quoted = "".join(action_hash.split()).lower()
        ttl = timedelta(seconds=self.settings.assistant.session_ttl_s)
        if asked is None or asked.user != speaker.name or self.clock() - asked.at >= ttl:
            return self.say(
                "请先说要批准哪个事件，我会把操作念给你确认。",
                "First ask me to approve the incident; I will read the action to you.",
            )
        if len(quoted) < CODE_LEN or not asked.action.startswith(quoted):
            return self.say("操作码不对，这次没有批准。", "That action code does not match; nothing was approved.")
        del self._confirmations[incident_id.strip()]
        return self._decide(speaker, incident_id, True, "", asked.action)

    def reject_rollback(self, incident_id: str, user: str = "", reason: str = "") -> dict[str, str]:
        """Reject the rollback an incident is waiting on (an identified speaker); it escalates to people."""
        from server.decisions import action_hash

        speaker = self.identified(user)
        if isinstance(speaker, dict):
            return speaker
        doc = self._waiting(incident_id)
        if doc is None:
            return self._not_waiting(incident_id)
        self._confirmations.pop(doc["id"], None)
        return self._decide(speaker, incident_id, False, reason or "rejected by voice", action_hash(doc["pending"]))

    # ------------------------------------------------------------------ Tencent Cloud

    def _cloud(self, user: str, region: str, endpoint: str | None, answer: Callable[[Any], str]) -> dict[str, str]:
        from tools.mcp.assistant_cloud import access_for

        speaker = self.who(user)
        if isinstance(speaker, dict):
            return speaker
        if not speaker.tencent_secret_id_env or not speaker.tencent_secret_key_env:
            return self.say(
                f"抱歉，{speaker.name}，你的腾讯云凭据还没有配置，我不能替你查询。",
                f"Sorry, {speaker.name}, no Tencent Cloud credentials are configured for you.",
            )
        try:
            access = access_for(
                self.env, speaker.tencent_secret_id_env, speaker.tencent_secret_key_env, region, endpoint
            )
            return speak(answer(access))
        except ToolError as exc:
            return self.say(f"抱歉，查询失败：{exc}", f"Sorry, that failed: {exc}")

    def list_clusters(self, region: str = "", user: str = "") -> dict[str, str]:
        """TKE clusters in ``region`` (default: the assistant's region), as the speaker."""
        from tools.mcp import assistant_cloud

        config = self.settings.assistant
        return self._cloud(
            user, region or config.region, config.tke_endpoint,
            lambda a: assistant_cloud.clusters(a, self.settings.language),
        )  # fmt: skip

    def cluster_nodes(self, cluster_id: str, region: str = "", user: str = "") -> dict[str, str]:
        """Nodes of a TKE cluster: how many run, which failed and why, their node pools."""
        from tools.mcp import assistant_cloud

        config = self.settings.assistant
        return self._cloud(
            user, region or config.region, config.tke_endpoint,
            lambda a: assistant_cloud.nodes(a, cluster_id.strip(), self.settings.language),
        )  # fmt: skip

    def search_logs(self, kind: str, query: str, minutes: int = 15, user: str = "") -> dict[str, str]:
        """CLS logs of ``kind`` (business, event, audit) matching ``query`` over the last ``minutes``."""
        from tools.mcp import assistant_cloud

        cls = self.settings.logs.cls
        kind = kind.strip().lower()
        topic = getattr(cls.topics, kind, None) if kind in LOG_KINDS else None
        if not topic:
            return self.say(
                f"没有配置{kind}类日志的主题，可选的是业务、事件、审计。",
                f"No CLS topic is configured for {kind} logs (business, event or audit).",
            )
        minutes = max(1, min(int(minutes), 24 * 60))
        return self._cloud(
            user, cls.region, cls.endpoint,
            lambda a: assistant_cloud.logs(a, topic, kind, query, minutes, self.settings.language),
        )  # fmt: skip


def build(settings: Settings, assistant: Assistant | None = None) -> FastMCP:
    """The assistant server: briefing, incidents, approvals and read-only Tencent Cloud questions."""
    assistant = assistant or Assistant(settings)
    server = FastMCP("alertpilot-assistant")
    for method in (
        assistant.daily_briefing,
        assistant.list_open_incidents,
        assistant.incident_status,
        assistant.operations_stats,
        assistant.approve_rollback,
        assistant.confirm_rollback,
        assistant.reject_rollback,
        assistant.send_briefing,
        assistant.set_push_preferences,
        assistant.list_clusters,
        assistant.cluster_nodes,
        assistant.search_logs,
    ):
        server.add_tool(method, name=method.__name__, description=method.__doc__)
    return server
