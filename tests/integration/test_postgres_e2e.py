"""PostgreSQL end to end through the webhook API (issue 14): intake → queue → two workers → approval → timer.

Real PostgreSQL, `alertpilot serve --no-worker` and two `alertpilot worker` processes, on the
pinned SQLAlchemy 2.1 / psycopg 3.3 (whose ``ON CONFLICT DO NOTHING`` reports rowcount -1:
every delivery used to be committed and then answered 500). Bad payloads that used to be
503 forever (NaN) or accepted and lost (a 600-character groupKey, a 300-character name) are
answered as an SRE expects, and the good ones are worked to the end.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import DEMO_CASE, ROOT, cli_env, free_port, person_token, wait_for_port, wait_until

pytestmark = pytest.mark.integration
TOKEN = "pg-e2e-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}  # the webhook credential: it only posts alerts (issue 21)


def _payload(group: str) -> dict[str, Any]:
    payload = copy.deepcopy(json.loads((DEMO_CASE / "alert.json").read_text()))
    payload["groupKey"] = group
    for alert in payload["alerts"]:
        alert["fingerprint"] += f"-{len(group)}-{group[:8]}"
    return payload


def test_webhook_api_to_two_workers_to_approval_and_timer_on_postgres(pg_database: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = tmp_path / "alertpilot.yaml"
    base = yaml.safe_load((DEMO_CASE / "config.yaml").read_text())
    base.update(
        world=str(DEMO_CASE),
        database={"url": pg_database},
        server={"lease_s": 5, "poll_s": 0.1},
        triage={"tiers": [{"name": "P4", "min_score": 0, "budget": 1}]},  # one attempt each
    )
    base["policy"] = {**base["policy"], "approval_from_rung": 1, "verify_after_s": 1.0}
    base["users"] = [*base["users"], {"name": "ana", "rollback_permission": True}, {"name": "vera"}]
    config.write_text(yaml.safe_dump(base))
    people = {  # personal tokens, made as an operator does, stored in PostgreSQL
        "reader": {"Authorization": f"Bearer {person_token(config, home, 'vera', 'viewer')}"},
        "approver": {"Authorization": f"Bearer {person_token(config, home, 'ana', 'approver')}"},
    }
    env = cli_env(home, ALERTPILOT_WEBHOOK_TOKEN=TOKEN)
    port = free_port()
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("serve", "worker-a", "worker-b")}
    procs = [
        subprocess.Popen([sys.executable, "-m", "cli", "serve", "--no-worker", "--port", str(port), "--config",
                          str(config)], cwd=ROOT, env=env, stdout=logs["serve"], stderr=subprocess.STDOUT),
        *[
            subprocess.Popen([sys.executable, "-m", "cli", "worker", "--name", name, "--config", str(config)],
                             cwd=ROOT, env=env, stdout=logs[name], stderr=subprocess.STDOUT)
            for name in ("worker-a", "worker-b")
        ],
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=60)
        health = wait_until("both workers' heartbeats", lambda: _live(url), 60)
        assert {"worker-a", "worker-b"} <= set(health["workers"])
        _drive(url, people)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        for handle in logs.values():
            handle.close()
    for name in ("serve", "worker-a", "worker-b"):
        assert "Traceback" not in (tmp_path / f"{name}.log").read_text(errors="replace"), name


def _live(url: str) -> dict[str, Any] | None:
    answer = httpx.get(f"{url}/healthz", timeout=5)
    body: dict[str, Any] = answer.json()
    live = [n for n, w in body.get("workers", {}).items() if w["live"]]
    return body if answer.status_code == 200 and len(live) >= 2 else None


def _drive(url: str, people: dict[str, dict[str, str]]) -> None:
    post = lambda body, raw=None: httpx.post(  # noqa: E731
        f"{url}/webhooks/alertmanager", json=body if raw is None else None, content=raw, headers=HEADERS, timeout=10
    )
    groups = ["pg-e2e/a", "pg-e2e/b", "{}:" + "g" * 600]  # the last: a groupKey over the 512-character column
    for group in groups:
        body = _payload(group)
        body["groupKey"] += "\u0000"  # no PostgreSQL text column takes a NUL (the lane and incident keys are one)
        first = post(body)
        assert first.status_code == 200 and first.json()["accepted"] == 1, first.text  # was 500 on psycopg 3.3
    again = post(_payload(groups[0]))
    assert again.status_code == 200 and again.json() == {"status": "stored", "accepted": 0, "duplicates": 1}
    nan = post(None, raw=b'{"v": NaN, ' + json.dumps(_payload("pg-e2e/nan"))[1:].encode())
    assert nan.status_code == 422 and nan.json()["field"] == "v"  # was 503 forever
    long_name = _payload("pg-e2e/name")
    long_name["alerts"][0]["labels"]["alertname"] = "N" * 300
    assert post(long_name).status_code == 422  # was accepted, then lost

    def waiting() -> list[dict[str, Any]]:
        rows = httpx.get(f"{url}/incidents", headers=people["reader"], timeout=5).json()
        ready = [r for r in rows if r["status"] == "awaiting_approval"]
        return ready if len(ready) == 3 else []

    pending = wait_until("three incidents awaiting approval", waiting, 120)
    for row in pending:
        answer = httpx.post(f"{url}/incidents/{row['id']}/approve", json={"by": "ana"}, headers=people["approver"],
                            timeout=10)  # fmt: skip
        assert answer.status_code == 202, answer.text

    def settled() -> list[dict[str, Any]]:
        rows = httpx.get(f"{url}/incidents", headers=people["reader"], timeout=5).json()
        return rows if len(rows) == 3 and all(r["status"] == "resolved" for r in rows) else []

    wait_until("every approved incident verified after its timer and resolved", settled, 120)
    actors: Counter[str] = Counter()
    for row in pending:
        doc = httpx.get(f"{url}/incidents/{row['id']}", headers=people["reader"], timeout=5).json()
        assert [a["actor"] for a in doc["audit"] if a["kind"] == "answer"] == ["ana"]  # the authenticated approver
        assert len(doc["attempts"]) == 1 and doc["attempts"][0]["verified"] is True
        assert Counter(d["node"] for d in doc["decisions"])["execute"] == 1  # acted once
        timers = [a for a in doc["audit"] if a["kind"] == "worker" and a["detail"]["work"] == "timer"]
        assert timers, doc["audit"]  # the verify wait was a durable timer some worker resumed
        actors.update(a["actor"] for a in doc["audit"] if a["kind"] == "worker")
    assert set(actors) <= {"worker-a", "worker-b"}
    metrics = httpx.get(f"{url}/metrics", timeout=5).text
    assert 'alertpilot_alerts_received_total{outcome="accepted",source="alertmanager"} 3.0' in metrics
    assert "alertpilot_queue_depth" in metrics
