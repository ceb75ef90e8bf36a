"""Slack: an incoming webhook, or a bot token posting with ``chat.postMessage``.

Both through slack-sdk (``WebhookClient``, ``WebClient``) with its own retry handlers
off, so every try is one of ours and counted in the delivery ledger. Incoming webhooks
answer ``ok`` (HTTP 200) or an error word with a 4xx (``invalid_payload``, ``no_service``,
``channel_is_archived``...); the Web API answers HTTP 200 with ``{"ok": false, "error": ...}``
on refusal and 429 with ``Retry-After`` when rate limited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.error import URLError

from tools.notify.message import DeliveryError, Message

MAX_SLACK_CHARS = 3500  # a section block holds 3,000 characters, a message 40,000: stay readable


def slack_text(message: Message, mention_ids: Sequence[str] = ()) -> str:
    """The message in Slack's mrkdwn: a bold title, the Markdown's bold and headings, then the mentions."""
    body = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", message.markdown or message.text)
    body = re.sub(r"^#{1,6}\s*(.+)$", r"*\1*", body, flags=re.MULTILINE)
    body = re.sub(r"\*\*(.+?)\*\*", r"*\1*", body)
    mentions = " ".join(f"<@{who}>" for who in mention_ids)
    text = f"*{message.subject}*\n{body}" + (f"\n{mentions}" if mentions else "")
    return text if len(text) <= MAX_SLACK_CHARS else text[: MAX_SLACK_CHARS - 1] + "…"


def send_slack_webhook(url: str, message: Message, *, mention_ids: Sequence[str] = (), timeout_s: float = 10.0) -> str:
    """Post ``message`` to a Slack incoming webhook."""
    from slack_sdk.webhook import WebhookClient

    client = WebhookClient(url, timeout=max(1, int(timeout_s)), retry_handlers=[])
    try:
        response = client.send(text=slack_text(message, mention_ids), unfurl_links=False)
    except (URLError, OSError) as exc:
        raise DeliveryError(f"Slack webhook unreachable: {type(exc).__name__}: {exc}", retryable=True) from None
    if response.status_code == 200:
        return "ok"
    retryable = response.status_code == 429 or response.status_code >= 500
    raise DeliveryError(f"Slack webhook HTTP {response.status_code}: {str(response.body)[:200]}", retryable=retryable)


def send_slack_bot(
    token: str, channel: str, message: Message, *, mention_ids: Sequence[str] = (), base_url: str,
    timeout_s: float = 10.0,
) -> str:  # fmt: skip
    """Post ``message`` to ``channel`` with a bot token (``chat.postMessage``); returns the message ts."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=token, base_url=base_url, timeout=max(1, int(timeout_s)), retry_handlers=[])
    try:
        response = client.chat_postMessage(channel=channel, text=slack_text(message, mention_ids), unfurl_links=False)
    except SlackApiError as exc:
        status = exc.response.status_code
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else str(exc.response.data)[:200]
        raise DeliveryError(f"Slack API {status}: {error}", retryable=status == 429 or status >= 500) from None
    except (URLError, OSError) as exc:
        raise DeliveryError(f"Slack API unreachable: {type(exc).__name__}: {exc}", retryable=True) from None
    return f"ts {response.get('ts')}"
