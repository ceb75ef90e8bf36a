"""The channels: which exist, who a push goes to on each, and how one push is sent.

Email is personal: one push per person, to their address. Every other channel is a
shared destination (a group robot, a Slack channel, a webhook, a PagerDuty service): one
push per message, mentioning the people who chose it (DingTalk by mobile or user id,
Slack by member id). PagerDuty takes incident pushes only. Secrets (robot URLs, tokens,
keys) are read from the environment variables the config names, at the moment of use;
a push's ``target`` is what the ledger shows, and never holds a secret.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from state.config import Settings, UserConfig
from tools.notify.message import DeliveryError, Message

PERSONAL = ("email",)
SHARED = ("wecom", "dingtalk", "feishu", "slack", "webhook", "pagerduty")
CHANNELS = PERSONAL + SHARED
INCIDENT_ONLY = ("pagerduty",)
ALIASES = {
    "mail": "email", "e-mail": "email", "邮件": "email", "邮箱": "email", "电子邮件": "email",
    "企业微信": "wecom", "企微": "wecom", "微信": "wecom", "wechat": "wecom", "work wechat": "wecom",
    "钉钉": "dingtalk", "ding talk": "dingtalk", "飞书": "feishu", "lark": "feishu",
    "pager duty": "pagerduty", "pd": "pagerduty", "web hook": "webhook", "回调": "webhook",
}  # fmt: skip


def channel_name(spoken: str) -> str | None:
    """The channel a (possibly spoken, possibly Chinese) name means, or None."""
    word = spoken.strip().lower()
    if word in CHANNELS:
        return word
    return ALIASES.get(word)


@dataclass(frozen=True)
class Push:
    """One delivery: a message over one channel to one target, for (and mentioning) some people."""

    key: str
    channel: str
    target: str
    mentions: tuple[UserConfig, ...]
    kind: str
    incident_id: str | None = None


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


@dataclass
class Senders:
    """Sends one push over its channel with the configured endpoints and the environment's secrets."""

    settings: Settings
    env: dict[str, str]
    clock: Callable[[], float] | None = None

    def _secret(self, env_name: str | None, field_name: str) -> str:
        value = self.env.get(env_name or "")
        if not value:
            raise DeliveryError(f"notify.{field_name}: environment variable {env_name or '(unset)'} is empty")
        return value

    def configured(self, channel: str) -> bool:
        """Whether ``channel`` has what it needs to send (its variables set, SMTP host configured)."""
        notify = self.settings.notify
        needs = {
            "email": bool(notify.smtp.get("host")),
            "wecom": bool(self.env.get(notify.wecom_webhook_env or "")),
            "dingtalk": bool(self.env.get(notify.dingtalk_webhook_env or "")),
            "feishu": bool(self.env.get(notify.feishu_webhook_env or "")),
            "slack": bool(self.env.get(notify.slack_webhook_env or ""))
            or bool(self.env.get(notify.slack_bot_token_env or "") and notify.slack_channel),
            "webhook": bool(self.env.get(notify.webhook_url_env or "")),
            "pagerduty": bool(self.env.get(notify.pagerduty_routing_key_env or "")),
        }
        return needs.get(channel, False)

    def target(self, channel: str) -> str:
        """What a shared channel's push is addressed to, as the ledger shows it (no secrets)."""
        notify = self.settings.notify
        if channel == "slack":
            bot = self.env.get(notify.slack_bot_token_env or "") and notify.slack_channel
            return f"slack {notify.slack_channel}" if bot else "slack webhook"
        if channel == "webhook":
            url = self.env.get(notify.webhook_url_env or "")
            return _host(url) if url else "webhook"
        return {"wecom": "wecom robot", "dingtalk": "dingtalk robot", "feishu": "feishu bot"}.get(
            channel, "pagerduty events v2"
        )

    def send(self, push: Push, message: Message) -> str:
        """Send ``push``; raises :class:`DeliveryError` (``retryable`` when a later try may work)."""
        handlers: dict[str, Callable[[Push, Message], str]] = {
            "email": self._email, "wecom": self._wecom, "dingtalk": self._dingtalk, "feishu": self._feishu,
            "slack": self._slack, "webhook": self._webhook, "pagerduty": self._pagerduty,
        }  # fmt: skip
        handler = handlers.get(push.channel)
        if handler is None:
            who = ", ".join(u.name for u in push.mentions) or "?"
            raise DeliveryError(
                f"users[{who}].channels: unknown channel {push.channel!r} (one of {', '.join(CHANNELS)})"
            )
        return handler(push, message)

    def _clock(self) -> dict[str, Callable[[], float]]:
        return {"clock": self.clock} if self.clock else {}

    def _email(self, push: Push, message: Message) -> str:
        from tools.notify.email import send_email

        if not push.target:
            raise DeliveryError(f"users[{push.mentions[0].name}].email is not set")
        return send_email(self.settings.notify.smtp, push.target, message, self.env)

    def _wecom(self, push: Push, message: Message) -> str:
        from tools.notify.robots import send_wecom

        notify = self.settings.notify
        url = self._secret(notify.wecom_webhook_env, "wecom_webhook_env")
        return send_wecom(url, message, timeout_s=notify.timeout_s)

    def _dingtalk(self, push: Push, message: Message) -> str:
        from tools.notify.robots import send_dingtalk

        notify = self.settings.notify
        url = self._secret(notify.dingtalk_webhook_env, "dingtalk_webhook_env")
        return send_dingtalk(
            url, message, secret=self.env.get(notify.dingtalk_secret_env or ""), timeout_s=notify.timeout_s,
            mobiles=[u.mobile for u in push.mentions if u.mobile],
            user_ids=[u.dingtalk_user_id for u in push.mentions if u.dingtalk_user_id and not u.mobile],
            **self._clock(),
        )  # fmt: skip

    def _feishu(self, push: Push, message: Message) -> str:
        from tools.notify.robots import send_feishu

        notify = self.settings.notify
        url = self._secret(notify.feishu_webhook_env, "feishu_webhook_env")
        secret = self.env.get(notify.feishu_secret_env or "")
        return send_feishu(url, message, secret=secret, timeout_s=notify.timeout_s, **self._clock())

    def _slack(self, push: Push, message: Message) -> str:
        from tools.notify.slack import send_slack_bot, send_slack_webhook

        notify = self.settings.notify
        ids = [u.slack_user_id for u in push.mentions if u.slack_user_id]
        token = self.env.get(notify.slack_bot_token_env or "")
        if token and notify.slack_channel:
            return send_slack_bot(
                token, notify.slack_channel, message, mention_ids=ids, base_url=notify.slack_api_url,
                timeout_s=notify.timeout_s,
            )  # fmt: skip
        url = self._secret(notify.slack_webhook_env, "slack_webhook_env")
        return send_slack_webhook(url, message, mention_ids=ids, timeout_s=notify.timeout_s)

    def _webhook(self, push: Push, message: Message) -> str:
        from tools.notify.webhook import send_webhook

        notify = self.settings.notify
        url = self._secret(notify.webhook_url_env, "webhook_url_env")
        return send_webhook(
            url, message, secret=self.env.get(notify.webhook_secret_env or ""), key=push.key, kind=push.kind,
            incident_id=push.incident_id, mentions=[u.name for u in push.mentions], timeout_s=notify.timeout_s,
            **self._clock(),
        )  # fmt: skip

    def _pagerduty(self, push: Push, message: Message) -> str:
        from tools.notify.webhook import send_pagerduty

        notify = self.settings.notify
        key = self._secret(notify.pagerduty_routing_key_env, "pagerduty_routing_key_env")
        return send_pagerduty(
            notify.pagerduty_url, key, message, incident_id=push.incident_id, resolve=push.kind == "resolution",
            timeout_s=notify.timeout_s,
        )  # fmt: skip
