"""Notifications: email, WeCom, DingTalk, Feishu, Slack, a generic webhook, PagerDuty.

:class:`Notifier` sends one :class:`Message` to people over the channels they chose
(``users[].channels``, replaced by what a person set by voice): one push per person on
email, one push per shared channel mentioning everyone who chose it. Every push has a
key; a key that already reached its channel (or waits for its retry) is not sent again
(a node re-run after a crash must not double-notify). Each push is tried a few times at
once; one that may still succeed is kept with its message and tried again later by
:meth:`Notifier.retry_due` with a doubling wait, until ``notify.retry_attempts``. Every
push's channel, target, status, attempts and last error are in the delivery ledger.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from state.config import Settings, UserConfig
from state.delivery import Ledger
from state.store import utcnow
from tools.notify.channels import CHANNELS, INCIDENT_ONLY, PERSONAL, Push, Senders
from tools.notify.message import Attachment, DeliveryError, Message

__all__ = ["CHANNELS", "Attachment", "DeliveryError", "DeliveryOutcome", "Message", "Notifier"]

MENTION_FIELDS = {"name", "email", "mobile", "dingtalk_user_id", "slack_user_id"}


@dataclass(frozen=True)
class DeliveryOutcome:
    """How one push went: ``delivered``, ``retrying`` (kept for a later try), ``failed`` or ``skipped``."""

    channel: str
    status: str
    attempts: int = 0
    detail: str = ""
    target: str = ""
    user: str = ""


@dataclass
class Notifier:
    """Sends messages through the configured channels with retries and a delivery ledger."""

    settings: Settings
    ledger: Ledger | None = None
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    sleep: Callable[[float], None] = time.sleep
    tries: int = 3
    backoff_s: float = 0.5
    clock: Callable[[], datetime] = utcnow

    @property
    def senders(self) -> Senders:
        """The channel senders over this notifier's settings and environment."""
        return Senders(self.settings, self.env)

    def effective(self, user: UserConfig) -> UserConfig:
        """``user`` with the channels and email they set by voice, when they did."""
        chosen = self.ledger.preferences(user.name) if self.ledger is not None else None
        if not chosen:
            return user
        return user.model_copy(update={"channels": chosen["channels"], "email": chosen["email"] or user.email})

    def send(
        self, user: UserConfig, message: Message, *, key: str, kind: str, channels: list[str] | None = None,
        incident_id: str | None = None,
    ) -> list[DeliveryOutcome]:  # fmt: skip
        """Push ``message`` to ``user`` alone over ``channels`` (default: the user's own choices)."""
        return self.notify([user], message, key=f"{key}:{user.name}", kind=kind, channels=channels,
                           incident_id=incident_id)  # fmt: skip

    def notify(
        self, users: Iterable[UserConfig], message: Message, *, key: str, kind: str,
        channels: list[str] | None = None, incident_id: str | None = None,
    ) -> list[DeliveryOutcome]:  # fmt: skip
        """Push ``message`` to ``users``: per person on email, once per shared channel (mentioning them)."""
        return [self._deliver(push, message) for push in self.plan(users, key=key, kind=kind, channels=channels,
                                                                    incident_id=incident_id)]  # fmt: skip

    def plan(
        self, users: Iterable[UserConfig], *, key: str, kind: str, channels: list[str] | None = None,
        incident_id: str | None = None,
    ) -> list[Push]:  # fmt: skip
        """The pushes a message to ``users`` makes (``channels`` overrides each person's own)."""
        # Explicit channels reach their shared destinations even when nobody chose them.
        by_channel: dict[str, list[UserConfig]] = {c: [] for c in channels or []}
        for user in (self.effective(u) for u in users):
            for channel in channels if channels is not None else user.channels:
                by_channel.setdefault(channel, []).append(user)
        pushes = []
        for channel, people in by_channel.items():
            if channel in INCIDENT_ONLY and not incident_id:
                continue  # PagerDuty takes incidents, not briefings
            if channel in PERSONAL:
                pushes += [
                    Push(f"{key}:{channel}:{u.name}", channel, u.email or "", (u,), kind, incident_id) for u in people
                ]
            else:
                target = self.senders.target(channel) if channel in CHANNELS else channel
                pushes.append(Push(f"{key}:{channel}", channel, target, tuple(people), kind, incident_id))
        return pushes

    def _deliver(
        self, push: Push, message: Message, attempts_before: int = 0, now: datetime | None = None
    ) -> DeliveryOutcome:
        who = ", ".join(u.name for u in push.mentions)
        if attempts_before == 0 and self.ledger is not None:
            if self.ledger.delivered(push.key):
                return DeliveryOutcome(push.channel, "skipped", 0, "already delivered", push.target, who)
            if self.ledger.pending(push.key):
                return DeliveryOutcome(push.channel, "skipped", 0, "waiting for its retry", push.target, who)
        tries = self.tries if attempts_before == 0 else 1
        status, attempts, detail, retryable = self._with_retries(push, message, tries)
        attempts += attempts_before
        next_at = None
        if status == "failed" and retryable and attempts < self.settings.notify.retry_attempts and self.ledger:
            status = "retrying"
            wait = self.settings.notify.retry_backoff_s * 2 ** max(0, attempts - self.tries)
            next_at = (now or self.clock()) + timedelta(seconds=wait)
        if self.ledger is not None:
            payload = {"message": message.to_json(), "mentions": [u.model_dump(include=MENTION_FIELDS)
                                                                  for u in push.mentions]}  # fmt: skip
            self.ledger.record(
                key=push.key, kind=push.kind, channel=push.channel, status=status, tries=attempts,
                error="" if status == "delivered" else detail, incident_id=push.incident_id, user=who,
                target=push.target, next_attempt_at=next_at, payload=payload,
            )  # fmt: skip
        return DeliveryOutcome(push.channel, status, attempts, detail, push.target, who)

    def _with_retries(self, push: Push, message: Message, tries: int) -> tuple[str, int, str, bool]:
        senders = self.senders
        for attempt in range(1, tries + 1):
            try:
                return "delivered", attempt, senders.send(push, message), False
            except DeliveryError as exc:
                if not exc.retryable or attempt == tries:
                    return "failed", attempt, str(exc), exc.retryable
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def retry_due(self, now: datetime | None = None) -> list[DeliveryOutcome]:
        """Try again every kept push whose wait is over (the ``delivery_retries`` job)."""
        if self.ledger is None:
            return []
        outcomes = []
        now = now or self.clock()
        for row in self.ledger.due_retries(now):
            payload: dict[str, Any] = row["payload"]
            mentions = tuple(UserConfig.model_validate(m) for m in payload.get("mentions") or [])
            push = Push(row["key"], row["channel"], row["target"], mentions, row["kind"], row["incident_id"])
            outcomes.append(self._deliver(push, Message.from_json(payload["message"]), row["attempts"], now))
        return outcomes
