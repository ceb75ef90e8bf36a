"""A generic outbound webhook (JSON, HMAC-signed with a timestamp) and PagerDuty Events API v2.

Generic webhook: ``POST`` of one JSON document (``event``, ``key``, ``incident_id``,
``subject``, ``text``, ``markdown``, ``severity``, ``source``, ``mentions``, ``sent_at``) with

- ``X-Alertpilot-Timestamp``: Unix seconds when it was signed;
- ``X-Alertpilot-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed with the shared secret, of
  ``f"{timestamp}."`` followed by the raw body bytes;
- ``X-Alertpilot-Delivery``: the push key (the same on every retry: receivers deduplicate by it).

A receiver recomputes the HMAC over the bytes it received, compares in constant time and
refuses a timestamp more than five minutes away from its clock (a replayed request).

PagerDuty: ``POST /v2/enqueue`` with ``routing_key``, ``event_action`` (``trigger`` for an
incident that needs people, ``resolve`` once it is closed) and a ``dedup_key`` per
incident, so follow-ups update the same PagerDuty incident and the resolve closes it.
PagerDuty answers 202 ``{"status": "success", "dedup_key": ...}``, 400 for an invalid
event, 429 when throttled.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from tools.notify.http import json_answer, post
from tools.notify.message import DeliveryError, Message

SIGNATURE_HEADER = "X-Alertpilot-Signature"
TIMESTAMP_HEADER = "X-Alertpilot-Timestamp"
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, f"{timestamp}." + body)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def send_webhook(
    url: str, message: Message, *, secret: str | None, key: str, kind: str, incident_id: str | None,
    mentions: Sequence[str] = (), timeout_s: float = 10.0, clock: Callable[[], float] = time.time,
) -> str:  # fmt: skip
    """POST the message as signed JSON; any 2xx is a delivery."""
    now = clock()
    document = {
        "event": kind, "key": key, "incident_id": incident_id, "subject": message.subject, "text": message.text,
        "markdown": message.markdown, "severity": message.severity, "source": message.source,
        "mentions": list(mentions), "sent_at": datetime.fromtimestamp(now, UTC).isoformat(),
    }  # fmt: skip
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Alertpilot-Event": kind, "X-Alertpilot-Delivery": key}
    if secret:
        timestamp = int(now)
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[SIGNATURE_HEADER] = webhook_signature(secret, timestamp, body)
    response = post(url, content=body, headers=headers, timeout_s=timeout_s)
    return f"HTTP {response.status_code}"


def pagerduty_event(routing_key: str, message: Message, *, incident_id: str, resolve: bool) -> dict[str, Any]:
    """The Events API v2 body: a trigger with a payload, or a resolve naming the dedup key only."""
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if resolve else "trigger",
        "dedup_key": f"alertpilot-{incident_id}",
    }
    if resolve:
        return event
    severity = (message.severity or "warning").lower()
    event["payload"] = {
        "summary": message.subject[:1024],
        "source": (message.source or "alertpilot")[:255],
        "severity": severity if severity in PAGERDUTY_SEVERITIES else "warning",
        "custom_details": {"incident_id": incident_id, "text": message.text[:8000]},
    }
    event["client"] = "alertpilot"
    return event


def send_pagerduty(
    url: str, routing_key: str, message: Message, *, incident_id: str | None, resolve: bool, timeout_s: float = 10.0
) -> str:
    """Trigger (or resolve) the incident's PagerDuty alert; the dedup key is the incident's."""
    if not incident_id:
        raise DeliveryError("pagerduty: only incident pushes can be sent (no incident id)")
    answer = json_answer(
        post(url, json_body=pagerduty_event(routing_key, message, incident_id=incident_id, resolve=resolve),
             timeout_s=timeout_s)
    )  # fmt: skip
    if answer.get("status") != "success":
        raise DeliveryError(f"PagerDuty: {answer.get('status')}: {answer.get('message')} {answer.get('errors') or ''}")
    return f"dedup_key {answer.get('dedup_key')}"
