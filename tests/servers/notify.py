"""One local HTTP server standing in for Slack, a generic webhook receiver, PagerDuty and a DingTalk robot.

Each route checks the wire format its vendor documents and refuses what the real one
would refuse:

- ``POST /slack/webhook/...``: Slack incoming webhook; JSON with ``text``; answers ``ok``.
- ``POST /slack/api/chat.postMessage``: Slack Web API; ``Authorization: Bearer <bot token>``,
  JSON with ``channel`` and ``text``; ``{"ok": false, "error": "invalid_auth"}`` otherwise.
- ``POST /hook``: a receiver of alertpilot's generic webhook; verifies
  ``X-Alertpilot-Signature`` = ``sha256=`` HMAC-SHA256(secret, f"{timestamp}." + body) and a
  timestamp within five minutes; 401 otherwise.
- ``POST /v2/enqueue``: PagerDuty Events API v2 (32-character routing key, ``event_action``,
  ``dedup_key``, a trigger's ``payload`` with ``summary``/``source``/``severity``); 202 or 400.
- ``POST /dingtalk``: a signed DingTalk robot that also checks each ``at`` mobile/user id
  appears as ``@...`` in the text (or DingTalk would not notify the person).

``fail[route] = n`` makes the next ``n`` requests to that route answer 503.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLACK_TOKEN = "xoxb-test-bot-token"
WEBHOOK_SECRET = "generic-webhook-secret"
PAGERDUTY_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"  # 32 characters, as integration keys are
DING_SECRET = "SECding-mentions-secret"


class NotifyServer:
    """Records what each route accepted; answers as the vendor would."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {
            "slack_webhook": [], "slack_api": [], "hook": [], "pagerduty": [], "dingtalk": []
        }  # fmt: skip
        self.fail: dict[str, int] = {}
        self.pagerduty_incidents: dict[str, str] = {}  # dedup_key -> triggered | resolved
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, body, ctype = outer.answer(self.path, dict(self.headers.items()), raw)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """The environment variables a config names for each channel."""
        return {
            "SLACK_WEBHOOK_URL": f"{self.base}/slack/webhook/T000/B000/XXXX",
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "HOOK_URL": f"{self.base}/hook",
            "HOOK_SECRET": WEBHOOK_SECRET,
            "PD_ROUTING_KEY": PAGERDUTY_KEY,
            "DING_URL": f"{self.base}/dingtalk?access_token=robot-token",
            "DING_SECRET": DING_SECRET,
        }

    def _route(self, path: str) -> str:
        if path.startswith("/slack/webhook/"):
            return "slack_webhook"
        if path.startswith("/slack/api/chat.postMessage"):
            return "slack_api"
        return {"/hook": "hook", "/v2/enqueue": "pagerduty", "/dingtalk": "dingtalk"}.get(
            urllib.parse.urlsplit(path).path, "?"
        )

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, str]:
        route = self._route(path)
        with self.lock:
            if self.fail.get(route, 0) > 0:
                self.fail[route] -= 1
                return 503, b"busy", "text/plain"
        handler = {
            "slack_webhook": self._slack_webhook, "slack_api": self._slack_api, "hook": self._hook,
            "pagerduty": self._pagerduty, "dingtalk": self._dingtalk,
        }.get(route)  # fmt: skip
        if handler is None:
            return 404, b"no such route", "text/plain"
        headers = {k.lower(): v for k, v in headers.items()}
        return handler(path, headers, raw)

    def _slack_webhook(self, _path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, str]:
        body = json.loads(raw)
        if not headers.get("content-type", "").startswith("application/json") or not body.get("text"):
            return 400, b"invalid_payload", "text/plain"
        self.received["slack_webhook"].append(body)
        return 200, b"ok", "text/plain"

    def _slack_api(self, _path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, str]:
        if headers.get("authorization") != f"Bearer {SLACK_TOKEN}":
            return 200, {"ok": False, "error": "invalid_auth"}, "application/json"
        body = json.loads(raw)
        if not body.get("channel") or not body.get("text"):
            return 200, {"ok": False, "error": "no_text"}, "application/json"
        self.received["slack_api"].append(body)
        return 200, {"ok": True, "channel": body["channel"], "ts": f"{time.time():.6f}"}, "application/json"

    def _hook(self, _path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, str]:
        timestamp = headers.get("x-alertpilot-timestamp", "")
        given = headers.get("x-alertpilot-signature", "")
        expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + raw, "sha256").hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= 300
        if not (fresh and hmac.compare_digest(given, expected)):
            return 401, {"error": "bad signature"}, "application/json"
        self.received["hook"].append({"body": json.loads(raw), "delivery": headers.get("x-alertpilot-delivery")})
        return 204, b"", "text/plain"

    def _pagerduty(self, _path: str, _headers: dict[str, str], raw: bytes) -> tuple[int, Any, str]:
        event = json.loads(raw)
        errors = []
        if len(str(event.get("routing_key", ""))) != 32:
            errors.append("'routing_key' must be 32 characters")
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        dedup = event.get("dedup_key")
        if action in ("acknowledge", "resolve") and not dedup:
            errors.append("'dedup_key' is required")
        if action == "trigger":
            payload = event.get("payload") or {}
            errors += [f"'payload.{f}' is missing" for f in ("summary", "source", "severity") if not payload.get(f)]
            if payload.get("severity") not in ("critical", "error", "warning", "info"):
                errors.append("'payload.severity' is invalid")
            if len(str(payload.get("summary", ""))) > 1024:
                errors.append("'payload.summary' is too long")
        if errors:
            return (
                400,
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
                "application/json",
            )
        self.received["pagerduty"].append(event)
        key = dedup or hashlib.sha1(raw).hexdigest()
        self.pagerduty_incidents[key] = "resolved" if action == "resolve" else "triggered"
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}, "application/json"

    def _dingtalk(self, path: str, _headers: dict[str, str], raw: bytes) -> tuple[int, Any, str]:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        timestamp = query.get("timestamp", [""])[0]
        digest = hmac.new(DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
        if query.get("sign", [""])[0] != base64.b64encode(digest).decode():
            return 200, {"errcode": 310000, "errmsg": "sign not match"}, "application/json"
        body = json.loads(raw)
        text = body["markdown"]["text"]
        at = body.get("at") or {}
        missing = [who for who in [*at.get("atMobiles", []), *at.get("atUserIds", [])] if f"@{who}" not in text]
        body["mention_check"] = "ok" if not missing else f"missing @ for {missing}"
        self.received["dingtalk"].append(body)
        return 200, {"errcode": 0, "errmsg": "ok"}, "application/json"


@contextmanager
def notify_server() -> Iterator[NotifyServer]:
    """A running :class:`NotifyServer` on a free loopback port."""
    server = NotifyServer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
