"""Notification channels: email, WeCom, DingTalk, Feishu; retries, idempotency, delivery records.

:class:`Notifier` sends one :class:`Message` to one user over the channels that user
chose (``users[].channels``). Every push has a key; a key that already reached its
channel is not sent again (a node re-run after a crash must not double-notify), and
every try's outcome is written to the delivery ledger.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from state.config import Settings, UserConfig
from state.delivery import Ledger
from tools.notify.message import Attachment, DeliveryError, Message

__all__ = ["CHANNELS", "Attachment", "DeliveryError", "DeliveryOutcome", "Message", "Notifier"]

CHANNELS = ("email", "wecom", "dingtalk", "feishu")


@dataclass(frozen=True)
class DeliveryOutcome:
    """How one push to one channel went."""

    channel: str
    status: str  # delivered | failed | skipped
    tries: int = 0
    detail: str = ""


@dataclass
class Notifier:
    """Sends messages through the configured channels with retries and a delivery ledger."""

    settings: Settings
    ledger: Ledger | None = None
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    sleep: Callable[[float], None] = time.sleep
    tries: int = 3
    backoff_s: float = 0.5

    def send(
        self, user: UserConfig, message: Message, *, key: str, kind: str, channels: list[str] | None = None,
        incident_id: str | None = None,
    ) -> list[DeliveryOutcome]:  # fmt: skip
        """Push ``message`` to ``user`` over ``channels`` (default: the user's own choices)."""
        outcomes = []
        for channel in channels if channels is not None else user.channels:
            push_key = f"{key}:{user.name}:{channel}"
            if self.ledger is not None and self.ledger.delivered(push_key):
                outcomes.append(DeliveryOutcome(channel, "skipped", 0, "already delivered"))
                continue
            outcome = self._with_retries(channel, user, message)
            if self.ledger is not None:
                self.ledger.record(
                    key=push_key,
                    kind=kind,
                    channel=channel,
                    status=outcome.status,
                    tries=outcome.tries,
                    error="" if outcome.status == "delivered" else outcome.detail,
                    incident_id=incident_id,
                    user=user.name,
                )
            outcomes.append(outcome)
        return outcomes

    def _with_retries(self, channel: str, user: UserConfig, message: Message) -> DeliveryOutcome:
        for attempt in range(1, self.tries + 1):
            try:
                return DeliveryOutcome(channel, "delivered", attempt, self._send_once(channel, user, message))
            except DeliveryError as exc:
                if not exc.retryable or attempt == self.tries:
                    return DeliveryOutcome(channel, "failed", attempt, str(exc))
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def _secret(self, env_name: str | None, field_name: str) -> str:
        value = self.env.get(env_name or "")
        if not value:
            raise DeliveryError(f"notify.{field_name}: environment variable {env_name or '(unset)'} is empty")
        return value

    def _send_once(self, channel: str, user: UserConfig, message: Message) -> str:
        from tools.notify import robots

        notify = self.settings.notify
        if channel == "email":
            from tools.notify.email import send_email

            if not user.email:
                raise DeliveryError(f"users[{user.name}].email is not set")
            return send_email(notify.smtp, user.email, message, self.env)
        if channel == "wecom":
            return robots.send_wecom(self._secret(notify.wecom_webhook_env, "wecom_webhook_env"), message)
        if channel == "dingtalk":
            url = self._secret(notify.dingtalk_webhook_env, "dingtalk_webhook_env")
            return robots.send_dingtalk(url, message, secret=self.env.get(notify.dingtalk_secret_env or ""))
        if channel == "feishu":
            url = self._secret(notify.feishu_webhook_env, "feishu_webhook_env")
            return robots.send_feishu(url, message, secret=self.env.get(notify.feishu_secret_env or ""))
        raise DeliveryError(f"users[{user.name}].channels: unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
