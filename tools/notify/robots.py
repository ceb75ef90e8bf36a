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
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx

from tools.notify.message import DeliveryError, Message

MAX_ROBOT_CHARS = 4000  # WeCom caps markdown at 4096 bytes; keep every robot well inside


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature, URL-encoded, for ``timestamp_ms``."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark's bot signature for ``timestamp_s``."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _post(url: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """POST JSON; transport errors and 5xx/429 are retryable, other failures are not."""
    try:
        response = httpx.post(url, json=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from None
    if response.status_code >= 500 or response.status_code == 429:
        raise DeliveryError(f"HTTP {response.status_code}", retryable=True)
    if response.status_code >= 400:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        raise DeliveryError(f"not JSON: {response.text[:200]}") from None
    return answer


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ROBOT_CHARS else text[: MAX_ROBOT_CHARS - 1] + "…"


def send_wecom(url: str, message: Message, *, timeout_s: float = 10.0) -> str:
    """Post ``message`` as Markdown to a WeCom group robot."""
    answer = _post(url, {"msgtype": "markdown", "markdown": {"content": _clip(message.markdown)}}, timeout_s)
    if answer.get("errcode", 0) != 0:
        raise DeliveryError(f"WeCom errcode {answer.get('errcode')}: {answer.get('errmsg')}")
    return "ok"


def send_dingtalk(
    url: str, message: Message, *, secret: str | None, timeout_s: float = 10.0, clock: Callable[[], float] = time.time
) -> str:
    """Post ``message`` as Markdown to a DingTalk robot, signed when ``secret`` is set."""
    if secret:
        timestamp = int(clock() * 1000)
        joiner = "&" if "?" in url else "?"
        url = f"{url}{joiner}timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"
    body = {"msgtype": "markdown", "markdown": {"title": message.subject, "text": _clip(message.markdown)}}
    answer = _post(url, body, timeout_s)
    if answer.get("errcode", 0) != 0:
        raise DeliveryError(f"DingTalk errcode {answer.get('errcode')}: {answer.get('errmsg')}")
    return "ok"


def send_feishu(
    url: str, message: Message, *, secret: str | None, timeout_s: float = 10.0, clock: Callable[[], float] = time.time
) -> str:
    """Post ``message`` as text to a Feishu/Lark bot, signed when ``secret`` is set."""
    body: dict[str, Any] = {"msg_type": "text", "content": {"text": _clip(f"{message.subject}\n\n{message.text}")}}
    if secret:
        timestamp = int(clock())
        body.update(timestamp=str(timestamp), sign=feishu_sign(secret, timestamp))
    answer = _post(url, body, timeout_s)
    code = answer.get("code", answer.get("StatusCode", 0))
    if code != 0:
        raise DeliveryError(f"Feishu code {code}: {answer.get('msg') or answer.get('StatusMessage')}")
    return "ok"
