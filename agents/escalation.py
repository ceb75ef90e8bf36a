"""People hear about what the agent could not fix: the escalation push and its reminders.

The notify node pushes an escalation once (through the recorded ``notify_people`` tool);
:func:`remind_open` is called by the scheduler and pushes a reminder every
``notify.escalation_reminder_h`` hours while an escalated incident stays open.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from state.config import Settings
from state.delivery import Ledger
from state.store import Store
from tools.notify import Message, Notifier


def escalation_text(doc: dict[str, Any], language: str, *, reminder: bool = False) -> tuple[str, str, str]:
    """Subject, plain text and Markdown telling people an incident needs them."""
    alert = doc.get("alert") or {}
    subject_of = alert.get("service") or alert.get("workload") or "-"
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


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def remind_open(
    settings: Settings, store: Store, now: datetime, *, notifier: Notifier | None = None
) -> list[dict[str, Any]]:
    """Remind every user about escalated incidents whose last push is older than the reminder period."""
    if not any(user.channels for user in settings.users):
        return []
    ledger = Ledger(store)
    notifier = notifier or Notifier(settings, ledger)
    period = timedelta(hours=settings.notify.escalation_reminder_h)
    sent: list[dict[str, Any]] = []
    for doc in store.escalated():
        incident_id = doc["id"]
        last = ledger.last_push(incident_id)
        since = _aware(last or datetime.fromisoformat(doc["updated_at"]))
        if now - since < period:
            continue
        subject, text, markdown = escalation_text(doc, settings.language, reminder=True)
        message = Message(subject=subject, text=text, markdown=markdown)
        key = f"reminder:{incident_id}:{since.isoformat()}"
        for user in settings.users:
            for outcome in notifier.send(user, message, key=key, kind="reminder", incident_id=incident_id):
                sent.append({"incident_id": incident_id, "user": user.name, **vars(outcome)})
    return sent


def approval_text(doc: dict[str, Any], language: str, links: dict[str, str]) -> tuple[str, str, str]:
    """Subject, plain text and Markdown asking a person to answer the approval ``doc`` waits on.

    ``links`` (verdict -> signed URL, made per recipient by server/links.py) are appended
    as they are; without them the message points to the incident page.
    """
    alert = doc.get("alert") or {}
    pending = doc.get("pending") or {}
    subject_of = alert.get("service") or alert.get("workload") or "-"
    action = f"{pending.get('operation')} {pending.get('params') or {}}"
    if language == "zh":
        subject = f"【等待批准】{alert.get('name')} · {subject_of}"
        text = f"事件 {doc.get('id')} 等待批准：第 {pending.get('rung')} 级（{pending.get('rung_name')}）{action}。"
        names = {"approve": "批准", "reject": "拒绝"}
        tail = "请在事件页面确认。" if not links else ""
    else:
        subject = f"[approval needed] {alert.get('name')} on {subject_of}"
        rung = f"rung {pending.get('rung')} ({pending.get('rung_name')})"
        text = f"Incident {doc.get('id')} waits for approval: {rung} {action}."
        names = {"approve": "Approve", "reject": "Reject"}
        tail = "Answer it on the incident page." if not links else ""
    lines = [f"{names.get(verdict, verdict)}: {url}" for verdict, url in links.items()]
    plain = "\n".join([text, *lines, tail]).strip()
    markdown = f"### {subject}\n\n{text}\n\n" + "\n\n".join(
        f"[{names.get(verdict, verdict)}]({url})" for verdict, url in links.items()
    )
    return subject, plain, (markdown + (f"\n\n{tail}" if tail else "")).strip()
