"""``notify_people``: push an incident message to every configured user over their channels.

A tool (not a direct call) so the notify node's pushes are recorded in the incident's
tool calls and a replay answers from the recording instead of notifying again. Pushes
are keyed ``{kind}:{incident}:{user}:{channel}``; a key already delivered is skipped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tools.notify import Message, Notifier
from tools.registry import Tool


class NotifyArgs(BaseModel):
    """Arguments of ``notify_people``."""

    incident_id: str
    kind: Literal["escalation", "reminder", "resolution"] = "escalation"
    subject: str = Field(max_length=300)
    text: str = Field(max_length=20_000)
    markdown: str = Field(default="", max_length=20_000)


def notify_tools(notifier: Notifier) -> list[Tool]:
    """The notification tool over ``notifier`` (its channels and its delivery ledger)."""

    def notify_people(incident_id: str, kind: str, subject: str, text: str, markdown: str) -> dict[str, object]:
        message = Message(subject=subject, text=text, markdown=markdown or text)
        sent = []
        for user in notifier.settings.users:
            for outcome in notifier.send(user, message, key=f"{kind}:{incident_id}", kind=kind,
                                         incident_id=incident_id):  # fmt: skip
                sent.append({"user": user.name, **vars(outcome)})
        return {"deliveries": sent}

    return [
        Tool(
            name="notify_people",
            description="Push an incident message to every configured user over their chosen channels "
            "(email, WeCom, DingTalk, Feishu); returns each delivery's status.",
            input_model=NotifyArgs,
            handler=notify_people,
        )
    ]
