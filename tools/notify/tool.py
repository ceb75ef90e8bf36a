"""``notify_people``: push an incident message to every configured user over their channels.

A tool (not a direct call) so the notify node's pushes are recorded in the incident's
tool calls and a replay answers from the recording instead of notifying again. Pushes
are keyed ``{kind}:{incident}:{channel}[:{user}]``; a key already delivered is skipped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tools.notify import Message, Notifier
from tools.registry import Tool


class NotifyArgs(BaseModel):
    """Arguments of ``notify_people``."""

    incident_id: str
    kind: Literal["escalation", "approval", "follow_up", "reminder", "resolution"] = "escalation"
    subject: str = Field(max_length=300)
    text: str = Field(max_length=20_000)
    markdown: str = Field(default="", max_length=20_000)
    severity: str | None = Field(default=None, max_length=32, description="The alert's severity (PagerDuty).")
    source: str | None = Field(default=None, max_length=255, description="What is affected (PagerDuty).")


def notify_tools(notifier: Notifier) -> list[Tool]:
    """The notification tool over ``notifier`` (its channels and its delivery ledger)."""

    def notify_people(
        incident_id: str, kind: str, subject: str, text: str, markdown: str, severity: str | None = None,
        source: str | None = None,
    ) -> dict[str, object]:  # fmt: skip
        message = Message(subject=subject, text=text, markdown=markdown or text, severity=severity, source=source)
        outcomes = notifier.notify(notifier.settings.users, message, key=f"{kind}:{incident_id}", kind=kind,
                                   incident_id=incident_id)  # fmt: skip
        return {"deliveries": [vars(o) for o in outcomes]}

    return [
        Tool(
            name="notify_people",
            description="Push an incident message to every configured user over their chosen channels "
            "(email, WeCom, DingTalk, Feishu, Slack, webhook, PagerDuty); returns each delivery's status.",
            input_model=NotifyArgs,
            handler=notify_people,
        )
    ]
