r"""Group-robot channels: WeCom, DingTalk (signed) and Feishu/Lark (signed when a secret is set).

Each robot is a webhook URL taking a JSON body; each answers HTTP 200 with its own
error field (``errcode`` for WeCom and DingTalk, ``code`` for Feishu), so a 200 is not
yet a delivery. Signatures follow the vendors' documentation:

- DingTalk: ``sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\n{secret}")))``
  with ``timestamp`` in milliseconds, both appended to the webhook URL's query.
- Feishu: ``sign = base64(HMAC-SHA256(key=f"{timestamp}\n{secret}", msg=b""))`` with
  ``timestamp`` in seconds, both in the JSON body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from tools.notify.http import json_answer, post
from tools.notify.message import DeliveryError, Message

MAX_ROBOT_CHARS = 4000  # WeCom caps markdown at 4096 bytes; keep every robot well inside
# "system busy" (-1), WeCom's "api freq out of limit" (45009), DingTalk's "send too fast" (130101):
# the robot refused for now, not for good.
BUSY_CODES = (-1, 45009, 130101)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature, URL-encoded, for ``timestamp_ms``."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark's bot signature for ``timestamp_s``."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _post(url: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    return json_answer(post(url, json_body=body, timeout_s=timeout_s))


def for_robots(markdown: str) -> str:
    """Robot Markdown: images (local chart files a robot cannot fetch) become their alt text, then clipped."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return text if len(text) <= MAX_ROBOT_CHARS else text[: MAX_ROBOT_CHARS - 1] + "…"


def send_wecom(url: str, message: Message, *, timeout_s: float = 10.0) -> str:
    """Post ``message`` as Markdown to a WeCom group robot."""
    answer = _post(url, {"msgtype": "markdown", "markdown": {"content": for_robots(message.markdown)}}, timeout_s)
    if answer.get("errcode", 0) != 0:
        code = answer.get("errcode")
        raise DeliveryError(f"WeCom errcode {code}: {answer.get('errmsg')}", retryable=code in BUSY_CODES)
    return "ok"


def send_dingtalk(
    url: str, message: Message, *, secret: str | None, timeout_s: float = 10.0, clock: Callable[[], float] = time.time,
    mobiles: list[str] | None = None, user_ids: list[str] | None = None,
) -> str:  # fmt: skip
    """Post ``message`` as Markdown to a DingTalk robot, signed when ``secret`` is set, @-mentioning people.

    DingTalk notifies a mentioned person only when the text itself carries ``@<mobile>``
    (or ``@<userId>``) beside the ``at`` list, so both are sent.
    """
    if secret:
        timestamp = int(clock() * 1000)
        joiner = "&" if "?" in url else "?"
        url = f"{url}{joiner}timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"
    mobiles, user_ids = list(mobiles or []), list(user_ids or [])
    tags = " ".join(f"@{who}" for who in [*mobiles, *user_ids])
    text = for_robots(message.markdown) + (f"\n\n{tags}" if tags else "")
    body: dict[str, Any] = {"msgtype": "markdown", "markdown": {"title": message.subject, "text": text}}
    if tags:
        body["at"] = {"atMobiles": mobiles, "atUserIds": user_ids, "isAtAll": False}
    answer = _post(url, body, timeout_s)
    if answer.get("errcode", 0) != 0:
        code = answer.get("errcode")
        raise DeliveryError(f"DingTalk errcode {code}: {answer.get('errmsg')}", retryable=code in BUSY_CODES)
    return "ok"


def send_feishu(
    url: str, message: Message, *, secret: str | None, timeout_s: float = 10.0, clock: Callable[[], float] = time.time
) -> str:
    """Post ``message`` as text to a Feishu/Lark bot, signed when ``secret`` is set."""
    body: dict[str, Any] = {"msg_type": "text", "content": {"text": for_robots(f"{message.subject}\n\n{message.text}")}}
    if secret:
        timestamp = int(clock())
        body.update(timestamp=str(timestamp), sign=feishu_sign(secret, timestamp))
    answer = _post(url, body, timeout_s)
    code = answer.get("code", answer.get("StatusCode", 0))
    if code != 0:
        raise DeliveryError(f"Feishu code {code}: {answer.get('msg') or answer.get('StatusMessage')}")
    return "ok"
