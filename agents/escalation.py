"""People hear about what the agent could not fix: the escalation push and its follow-ups.

The notify node pushes an escalation once (through the recorded ``notify_people`` tool).
:func:`follow_up_open` is the scheduler's: an incident still unresolved (escalated, or
awaiting approval) ``notify.follow_up_after_h`` hours after it opened is pushed again to
``notify.follow_up_channels`` (default: each person's own), once per incident per
interval: the push key names the interval (``follow_up:{incident}:{n}``) and is claimed in the
ledger (a unique key) before anything is sent, so a restart or a second scheduler never
repeats one. :func:`resolve_closed` sends PagerDuty the resolve of every incident it was
told about once that incident closed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from state.config import Settings
from state.delivery import Ledger
from state.store import Store
from tools.notify import Message, Notifier

UNRESOLVED = ("escalated", "awaiting_approval")
ACTION_ZH = {
    "restart": "重启", "config_refresh": "配置刷新", "scale": "扩容", "version_rollback": "版本回滚",
    "isolate": "服务隔离", "full_rollback": "全量回滚",
}  # fmt: skip


def describe_action(pending: dict[str, Any], language: str) -> str:
    """The action an incident waits on, in words one can say: "版本回滚到 v2.1", "scale out by 2"."""
    operation = str(pending.get("operation") or pending.get("rung_name") or "")
    params = pending.get("params") or {}
    zh = language == "zh"
    words = ACTION_ZH.get(operation, operation.replace("_", " ")) if zh else operation.replace("_", " ")
    if params.get("target"):
        return f"{words}到 {params['target']}" if zh else f"{words} to {params['target']}"
    if params.get("replicas") is not None:
        return f"{words}到 {params['replicas']} 个副本" if zh else f"{words} to {params['replicas']} replicas"
    if params.get("delta") is not None:
        return f"{words} {params['delta']} 个副本" if zh else f"{words} by {params['delta']}"
    if params.get("undo"):
        return f"撤销{words}" if zh else f"undo {words}"
    return words


def _subject_of(doc: dict[str, Any]) -> tuple[dict[str, Any], str]:
    alert = doc.get("alert") or {}
    return alert, str(alert.get("service") or alert.get("workload") or "-")


def escalation_text(doc: dict[str, Any], language: str, *, reminder: bool = False) -> tuple[str, str, str]:
    """Subject, plain text and Markdown telling people an incident needs them."""
    alert, subject_of = _subject_of(doc)
    reason = doc.get("escalation_reason") or ""
    overview = ((doc.get("report") or {}).get("content") or "").strip()
    attempts = len(doc.get("attempts") or [])
    if language == "zh":
        prefix = "【提醒】" if reminder else "【需要人工处理】"
        subject = f"{prefix}{alert.get('name')} · {subject_of}"
        text = f"告警 {alert.get('name')}（{subject_of}）自动处理未能解决，已尝试 {attempts} 次。原因：{reason}"
        if reminder:
            text = f"事件 {doc.get('id')} 仍未关闭。" + text
    else:
        prefix = "[reminder] " if reminder else "[needs a human] "
        subject = f"{prefix}{alert.get('name')} on {subject_of}"
        text = f"{alert.get('name')} on {subject_of} was not fixed after {attempts} attempt(s): {reason}"
        if reminder:
            text = f"Incident {doc.get('id')} is still open. " + text
    markdown = f"### {subject}\n\n{text}\n\n`{doc.get('id')}`" + (f"\n\n{overview}" if overview else "")
    return subject, text, markdown


def approval_text(
    doc: dict[str, Any], language: str, links: dict[str, str] | None = None, *, reminder: bool = False
) -> tuple[str, str, str]:
    """Subject, plain text and Markdown telling a person an incident waits for their approval.

    ``links`` (verdict -> signed URL, made per recipient by server/links.py) are listed as they
    are; without them the message says where to answer.
    """
    alert, subject_of = _subject_of(doc)
    pending = doc.get("pending") or {}
    action = describe_action(pending, language)
    links = links or {}
    if language == "zh":
        subject = f"{'【提醒】' if reminder else ''}【待批准】{alert.get('name')} · {subject_of}"
        rung = f"第 {pending.get('rung')} 级" if pending.get("rung") else ""
        text = f"事件 {doc.get('id')}（{alert.get('name')}，{subject_of}）等待批准：{rung}{action}。"
        names = {"approve": "批准", "reject": "拒绝"}
        tail = "" if links else "请在页面、命令行或语音助手中批准或拒绝。"
    else:
        subject = f"{'[reminder] ' if reminder else ''}[approval needed] {alert.get('name')} on {subject_of}"
        rung = f"rung {pending.get('rung')}: " if pending.get("rung") else ""
        text = f"Incident {doc.get('id')} ({alert.get('name')} on {subject_of}) waits for approval: {rung}{action}."
        names = {"approve": "Approve", "reject": "Reject"}
        tail = "" if links else "Approve or reject it on the page, the CLI or the voice assistant."
    lines = [f"{names.get(verdict, verdict)}: {url}" for verdict, url in links.items()]
    plain = "\n".join([text, *lines, tail]).strip()
    buttons = "\n\n".join(f"[{names.get(verdict, verdict)}]({url})" for verdict, url in links.items())
    markdown = "\n\n".join(part for part in (f"### {subject}", text, buttons, tail, f"`{doc.get('id')}`") if part)
    return subject, plain, markdown


def follow_up_message(doc: dict[str, Any], language: str, hours: float) -> Message:
    """The follow-up of an incident still unresolved ``hours`` after it opened."""
    compose = approval_text if doc.get("status") == "awaiting_approval" else escalation_text
    subject, text, markdown = compose(doc, language, reminder=True)
    since = f"已持续约 {hours:.0f} 小时。" if language == "zh" else f" Open for about {hours:.0f} h."
    alert, subject_of = _subject_of(doc)
    return Message(
        subject=subject, text=text + since, markdown=markdown + f"\n\n{since.strip()}",
        severity=str(alert.get("severity") or "warning"), source=subject_of,
    )  # fmt: skip


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def follow_up_open(
    settings: Settings, store: Store, now: datetime, *, notifier: Notifier | None = None
) -> list[dict[str, Any]]:
    """Push every incident still unresolved past a whole ``follow_up_after_h`` interval again, once per interval."""
    ledger = Ledger(store)
    notifier = notifier or Notifier(settings, ledger)
    period = timedelta(hours=settings.notify.follow_up_after_h)
    channels = settings.notify.follow_up_channels or None
    sent: list[dict[str, Any]] = []
    for doc in [d for status in UNRESOLVED for d in store.with_status(status)]:
        opened = _aware(datetime.fromisoformat(doc["created_at"]))
        interval = int((now - opened) / period)
        key = f"follow_up:{doc['id']}:{interval}"
        if interval < 1 or not ledger.claim(key):  # one winner per interval, whichever scheduler is first
            continue
        message = follow_up_message(doc, settings.language, (now - opened) / timedelta(hours=1))
        outcomes = notifier.notify(
            settings.users, message, key=key, kind="follow_up", channels=channels, incident_id=doc["id"]
        )
        sent += [{"incident_id": doc["id"], "interval": interval, **vars(o)} for o in outcomes]
    return sent


def resolve_closed(settings: Settings, store: Store, *, notifier: Notifier | None = None) -> list[dict[str, Any]]:
    """Resolve in PagerDuty every incident it was told about that has been resolved since."""
    ledger = Ledger(store)
    notifier = notifier or Notifier(settings, ledger)
    sent: list[dict[str, Any]] = []
    for incident_id in ledger.open_triggers("pagerduty"):
        doc = store.get(incident_id)
        if doc is None or doc.get("status") != "resolved":
            continue
        alert, subject_of = _subject_of(doc)
        message = Message(subject=f"resolved: {alert.get('name')} on {subject_of}", text="resolved", markdown="")
        outcomes = notifier.notify(
            [], message, key=f"resolution:{incident_id}", kind="resolution", channels=["pagerduty"],
            incident_id=incident_id,
        )  # fmt: skip
        sent += [{"incident_id": incident_id, **vars(o)} for o in outcomes]
    return sent
