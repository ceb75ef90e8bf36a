"""No configured secret appears in any output of a full run (issue 14: httpx logged DingTalk's access_token).

Real `serve` (with its worker child) and `executor serve` subprocesses, a local DingTalk robot
that checks its signature. One incident is approved (the action goes over HTTP to the
executor), one is rejected (the escalation is pushed to the robot). Then every byte the
processes wrote is searched for every configured secret.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import (
    DEMO_CASE,
    ROOT,
    cli_env,
    executor_service,
    free_port,
    person_token,
    wait_for_port,
    wait_until,
)
from tests.integration.test_robots import DING_SECRET, Robots

pytestmark = pytest.mark.integration
SECRETS = {
    "ALERTPILOT_WEBHOOK_TOKEN": "webhook-token-7c1e9a",
    "ALERTPILOT_WEBHOOK_SECRET": "hmac-secret-55d0b2",
    "ALERTPILOT_EXECUTOR_TOKEN": "executor-token-a8b3f4",
    "DING_SECRET": DING_SECRET,
}
ACCESS_TOKEN = "dt-access-token-31f9c0"


def _variant(name: str) -> dict[str, Any]:
    payload = json.loads((DEMO_CASE / "alert.json").read_text())
    payload["groupKey"] += f"/{name}"
    for alert in payload["alerts"]:
        alert["fingerprint"] += f"-{name}"
    return copy.deepcopy(payload)


def test_no_secret_in_any_output_of_a_full_run(tmp_path: Path) -> None:
    robots = Robots()
    threading.Thread(target=robots.server.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    env = {**SECRETS, "DING_URL": f"{robots.base}/dingtalk?access_token={ACCESS_TOKEN}"}
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        with executor_service(home, SECRETS["ALERTPILOT_EXECUTOR_TOKEN"]) as executor_url:
            config = tmp_path / "alertpilot.yaml"
            base = yaml.safe_load((DEMO_CASE / "config.yaml").read_text())
            base.update(
                world=str(DEMO_CASE),
                executor={"backend": "http", "url": executor_url},
                server={"lease_s": 5, "poll_s": 0.1, "worker_nice": 0},
                notify={"dingtalk_webhook_env": "DING_URL", "dingtalk_secret_env": "DING_SECRET"},
                users=[
                    {"name": "alertpilot", "rollback_permission": True, "channels": ["dingtalk"]},
                    {"name": "ana", "rollback_permission": True},  # the person who answers
                    {"name": "vera"},  # the person who reads
                ],
            )
            base["policy"] = {**base["policy"], "approval_from_rung": 1, "verify_after_s": 0}
            config.write_text(yaml.safe_dump(base))
            people = {"reader": person_token(config, home, "vera", "viewer"),
                      "approver": person_token(config, home, "ana", "approver")}  # fmt: skip
            out = (logs / "serve.log").open("wb")
            serve = subprocess.Popen(
                [sys.executable, "-m", "cli", "serve", "--port", str(port), "--config", str(config)],
                cwd=ROOT, env=cli_env(home, **env), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
            try:
                _drive(f"http://127.0.0.1:{port}", port, robots, people)
            finally:
                serve.terminate()
                serve.wait(timeout=30)
                out.close()
    finally:
        robots.server.shutdown()
        robots.server.server_close()
    text = (logs / "serve.log").read_text(errors="replace")
    assert "HTTP Request: POST" in text  # httpx did log its requests (the robot's URL among them)
    assert "sign=***" in text  # the robot's URL is itself a configured secret; what httpx appended is masked too
    for name, value in {**SECRETS, "DING_URL access_token": ACCESS_TOKEN, **people}.items():
        assert value not in text, f"{name} leaked into serve's output"


def _drive(url: str, port: int, robots: Robots, people: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {SECRETS['ALERTPILOT_WEBHOOK_TOKEN']}"}  # posts alerts only (issue 21)
    reader = {"Authorization": f"Bearer {people['reader']}"}
    approver = {"Authorization": f"Bearer {people['approver']}"}
    wait_for_port(port, timeout=60)
    wait_until("a live worker", lambda: httpx.get(f"{url}/healthz", timeout=5).status_code == 200, 60)
    for name in ("approve", "reject"):
        posted = httpx.post(f"{url}/webhooks/alertmanager", json=_variant(name), headers=headers, timeout=10)
        assert posted.status_code == 200, posted.text

    def waiting() -> list[dict[str, Any]]:
        rows = httpx.get(f"{url}/incidents", headers=reader, timeout=5).json()
        ready = [r for r in rows if r["status"] == "awaiting_approval"]
        return ready if len(ready) == 2 else []

    first, second = sorted(wait_until("two incidents awaiting approval", waiting, 90), key=lambda r: r["created_at"])
    answers = (
        httpx.post(f"{url}/incidents/{first['id']}/approve", json={"by": "ana"}, headers=approver, timeout=10),
        httpx.post(f"{url}/incidents/{second['id']}/reject", json={"reason": "not now"}, headers=approver, timeout=10),
    )
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]

    def settled() -> bool:
        status = {r["id"]: r["status"] for r in httpx.get(f"{url}/incidents", headers=reader, timeout=5).json()}
        return status[first["id"]] == "resolved" and status[second["id"]] == "escalated"

    wait_until("the approved one resolved and the rejected one escalated", settled, 90)
    wait_until("the escalation pushed to DingTalk", lambda: robots.received["dingtalk"], 30)
