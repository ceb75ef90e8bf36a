"""WeCom, DingTalk and Feishu robots receive our payloads; the robot server checks DingTalk's signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from state.config import Settings, UserConfig
from state.delivery import Ledger
from state.store import Store
from tests.conftest import run_cli
from tests.integration.scenario import scenario_config, start_incident
from tools.notify import Message, Notifier

pytestmark = pytest.mark.integration
DING_SECRET = "SECdingtalk-test-secret"
FEISHU_SECRET = "feishu-test-secret"


class Robots:
    """One local server standing in for the three vendors' robot webhooks."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {"wecom": [], "dingtalk": [], "feishu": []}
        self.fail_next = 0
        robots = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                url = urllib.parse.urlsplit(self.path)
                answer = robots.answer(url.path.strip("/"), urllib.parse.parse_qs(url.query), body)
                if answer is None:
                    self.send_response(503)
                    self.end_headers()
                    return
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, robot: str, query: dict[str, list[str]], body: dict[str, Any]) -> dict[str, Any] | None:
        if self.fail_next > 0:
            self.fail_next -= 1
            return None
        if robot == "dingtalk":
            # Documented: sign = urlencode(base64(hmac_sha256(secret, f"{timestamp}\n{secret}"))), 1 h validity.
            timestamp = query["timestamp"][0]
            digest = hmac.new(DING_SECRET.encode(), f"{timestamp}\n{DING_SECRET}".encode(), hashlib.sha256).digest()
            expected = base64.b64encode(digest).decode()  # parse_qs already URL-decoded the sign
            if query["sign"][0] != expected or abs(time.time() * 1000 - int(timestamp)) > 3_600_000:
                return {"errcode": 310000, "errmsg": "sign not match"}
            self.received["dingtalk"].append({"body": body, "verified": True})
            return {"errcode": 0, "errmsg": "ok"}
        if robot == "feishu":
            timestamp = body["timestamp"]
            string = f"{timestamp}\n{FEISHU_SECRET}".encode()
            expected = base64.b64encode(hmac.new(string, b"", hashlib.sha256).digest()).decode()
            if body.get("sign") != expected:
                return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
            self.received["feishu"].append({"body": body, "verified": True})
            return {"code": 0, "msg": "success"}
        self.received["wecom"].append({"body": body})
        return {"errcode": 0, "errmsg": "ok"}

    def env(self) -> dict[str, str]:
        return {
            "WECOM_URL": f"{self.base}/wecom?key=k1",
            "DING_URL": f"{self.base}/dingtalk?access_token=t1",
            "DING_SECRET": DING_SECRET,
            "FEISHU_URL": f"{self.base}/feishu",
            "FEISHU_SECRET": FEISHU_SECRET,
        }


NOTIFY = {
    "wecom_webhook_env": "WECOM_URL",
    "dingtalk_webhook_env": "DING_URL",
    "dingtalk_secret_env": "DING_SECRET",
    "feishu_webhook_env": "FEISHU_URL",
    "feishu_secret_env": "FEISHU_SECRET",
}


@pytest.fixture
def robots() -> Iterator[Robots]:
    server = Robots()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def test_three_robots_receive_signed_payloads_with_retries_and_status(robots: Robots, home: Path) -> None:
    settings = Settings(home=home, notify=NOTIFY)
    store = Store.from_url(settings.db_url)
    ledger = Ledger(store)
    pauses: list[float] = []
    notifier = Notifier(settings, ledger, env=robots.env(), sleep=pauses.append)
    user = UserConfig(name="ops", channels=["wecom", "dingtalk", "feishu"])
    message = Message(subject="checkout 告警", text="checkout 5xx 比例 23%", markdown="### checkout\n5xx 比例 **23%**")

    robots.fail_next = 2  # the first robot answers 503 twice, then accepts
    outcomes = notifier.send(user, message, key="t:1", kind="escalation", incident_id="inc-1")

    assert [(o.channel, o.status) for o in outcomes] == [("wecom", "delivered"), ("dingtalk", "delivered"),
                                                        ("feishu", "delivered")]  # fmt: skip
    assert outcomes[0].attempts == 3 and pauses == [0.5, 1.0]
    assert robots.received["wecom"][0]["body"] == {"msgtype": "markdown", "markdown": {"content": message.markdown}}
    ding = robots.received["dingtalk"][0]
    assert ding["verified"] and ding["body"]["markdown"] == {"title": "checkout 告警", "text": message.markdown}
    assert robots.received["feishu"][0]["verified"]
    assert "23%" in robots.received["feishu"][0]["body"]["content"]["text"]
    statuses = {(d["channel"], d["status"], d["attempts"]) for d in ledger.deliveries(incident_id="inc-1")}
    assert statuses == {("wecom", "delivered", 3), ("dingtalk", "delivered", 1), ("feishu", "delivered", 1)}

    again = notifier.send(user, message, key="t:1", kind="escalation", incident_id="inc-1")
    assert {o.status for o in again} == {"skipped"}
    assert len(robots.received["wecom"]) == 1


def test_wrong_dingtalk_secret_is_refused_by_the_robot(robots: Robots, home: Path) -> None:
    settings = Settings(home=home, notify=NOTIFY)
    env = {**robots.env(), "DING_SECRET": "SECwrong"}
    notifier = Notifier(settings, Ledger(Store.from_url(settings.db_url)), env=env, sleep=lambda _s: None)
    outcome = notifier.send(UserConfig(name="ops", channels=["dingtalk"]), Message("s", "t", "m"), key="k", kind="x")[0]
    assert outcome.status == "failed" and "310000" in outcome.detail
    assert robots.received["dingtalk"] == []


def test_escalated_incident_is_pushed_to_the_robots(robots: Robots, tmp_path: Path, home: Path) -> None:
    config = scenario_config(
        tmp_path,
        {"users": [{"name": "ops", "channels": ["wecom", "dingtalk"], "rollback_permission": True}], "notify": NOTIFY},
    )
    env = robots.env()
    doc = start_incident(config, home, **env)
    done = run_cli("reject", doc["id"], "--reason", "freeze", "--config", str(config), "--json", home=home, **env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "escalated"
    assert {(n["channel"], n["status"]) for n in result["notifications"]} >= {("wecom", "delivered"),
                                                                            ("dingtalk", "delivered")}  # fmt: skip
    assert doc["id"] in robots.received["wecom"][0]["body"]["markdown"]["content"]
    assert "HighErrorRate" in robots.received["dingtalk"][0]["body"]["markdown"]["title"]
