"""A few seconds of executor outage no longer burns a ladder (issue 14).

The HTTP client retries an unreachable executor within the attempt under the same key; past
that the incident waits durably and tries again, and only after ``policy.executor_wait_s``
escalates as "executor unreachable", having spent no budget. The executor here is the real
``alertpilot executor serve`` subprocess, started late or never.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from graph.routes import after_execute
from server.worker import open_worker
from state.alert import parse_alerts
from state.incident import Attempt
from tests.conftest import DEMO_CASE, executor_service, free_port
from tests.unit.test_worker_queue import drain, settings_for
from tools.executor import HttpExecutor

TOKEN = "exec-token"


class Flaky(BaseHTTPRequestHandler):
    """Answers 503 (a proxy in front of a restarting executor) ``fail`` times, then success."""

    fail = 2
    keys: list[str | None] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).keys.append(self.headers.get("Idempotency-Key"))
        ok = len(type(self).keys) > type(self).fail
        body = b'{"status": "success", "detail": "done", "execution_time": 0.1, "error": ""}' if ok else b"down"
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


def test_the_client_retries_an_unreachable_executor_with_the_same_key() -> None:
    Flaky.keys = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = HttpExecutor(f"http://127.0.0.1:{server.server_port}", "t", timeout_s=5, retry_s=10)
        result = client.execute("restart", {"service": "checkout"}, "inc-1:1")
    finally:
        server.shutdown()
    assert result.status == "success"
    assert Flaky.keys == ["inc-1:1"] * 3


def test_past_its_retry_time_the_client_answers_unreachable_not_an_error() -> None:
    port = free_port()  # nothing listens here
    naps: list[float] = []
    client = HttpExecutor(f"http://127.0.0.1:{port}", "t", timeout_s=1, retry_s=3, sleep=naps.append)
    result = client.execute("restart", {"service": "checkout"}, "inc-1:1")
    assert result.status == "unreachable" and "unreachable after" in result.error
    assert naps and naps == sorted(naps)  # backoff grows


@pytest.mark.parametrize(
    ("result", "route"),
    [
        ({"status": "success"}, "verify"),
        ({"status": "error", "error": "x"}, "verify"),
        ({"status": "unreachable"}, "execute"),
        ({"status": "unreachable", "gave_up": True}, "escalate"),
    ],
)
def test_after_execute(result: dict[str, Any], route: str) -> None:
    from datetime import UTC, datetime

    from state.incident import IncidentState

    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    attempt = Attempt(n=1, rung=3, action="restart", idempotency_key="i:1", started_at=datetime.now(UTC), result=result)
    assert after_execute(IncidentState(incident_id="i", alert=alert, attempts=[attempt])) == route


def _settings(home: Path, port: int, wait_s: float) -> Any:
    settings = settings_for(home, executor_recheck_s=0.3, executor_wait_s=wait_s, verify_after_s=0)
    settings.executor.backend = "http"
    settings.executor.url = f"http://127.0.0.1:{port}"
    settings.executor.retry_s = 0.3
    return settings


@pytest.mark.integration
def test_an_executor_that_comes_back_acts_once_and_no_rung_is_lost(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("ALERTPILOT_EXECUTOR_TOKEN", TOKEN)
    port = free_port()
    settings = _settings(home, port, wait_s=600)
    with open_worker(settings, name="w", lease_s=5, poll_s=0.05) as worker:
        worker.queue.enqueue_alerts(parse_alerts((DEMO_CASE / "alert.json").read_bytes()))
        assert worker.run_once()
        incident_id = worker.store.list()[0]["id"]
        doc = worker.store.get(incident_id)
        assert doc["status"] == "open" and doc["waiting_until"]  # a durable wait, not a failed rung
        assert doc["attempts"][0]["result"]["status"] == "unreachable"
        with executor_service(home, TOKEN, port=port):
            time.sleep(0.4)
            drain(worker)
            doc = worker.store.get(incident_id)
    assert doc["status"] == "resolved", doc["status"]
    assert len(doc["attempts"]) == 1 and doc["attempts"][0]["result"]["status"] == "success"
    import json

    world = json.loads((home / "world" / "checkout.json").read_text())
    assert [op["key"] for op in world["operations"]] == [f"{incident_id}:1"]  # acted once, under its key


@pytest.mark.integration
def test_an_executor_that_stays_down_escalates_without_spending_budget(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("ALERTPILOT_EXECUTOR_TOKEN", TOKEN)
    settings = _settings(home, free_port(), wait_s=0.8)
    with open_worker(settings, name="w", lease_s=5, poll_s=0.05) as worker:
        worker.queue.enqueue_alerts(parse_alerts((DEMO_CASE / "alert.json").read_bytes()))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            drain(worker, seconds=10)
            doc = worker.store.get(worker.store.list()[0]["id"])
            if doc["status"] != "open":
                break
            time.sleep(0.3)
    assert doc["status"] == "escalated", doc["status"]
    assert doc["escalation_reason"].startswith("executor unreachable for")
    assert "no budget spent" in doc["escalation_reason"]
    assert [a["result"]["status"] for a in doc["attempts"]] == ["unreachable"]  # one rung, never re-planned
    from state.incident import IncidentState

    state = IncidentState.model_validate({"incident_id": "x", "alert": doc["alert"], "triage": doc["triage"],
                                          "attempts": doc["attempts"]})  # fmt: skip
    assert state.budget_left == doc["triage"]["budget"]
