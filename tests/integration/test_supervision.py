"""`alertpilot serve` supervises its worker child (issue 14): a killed child is noticed, reported, restarted.

A real `serve` subprocess; its worker child is SIGKILLed. The restart must show in /metrics and
the log, /healthz must be healthy again only through the new child, and an alert sent right after
the kill must still be worked to the end by the replacement. (That /healthz fails while no
worker heartbeats is pinned in tests/unit/test_worker_durability.py: here the restart may beat
the old lease.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import DEMO_CASE, ROOT, cli_env, free_port, person_token, wait_for_port, wait_until

pytestmark = pytest.mark.integration
TOKEN = "supervise-token"


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() != str(pid):
            continue
        cmdline = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        if b"spawn_main" in cmdline:  # the worker (not multiprocessing's resource tracker)
            found.append(int(status.parent.name))
    return found


def test_a_killed_worker_child_is_reported_and_restarted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = tmp_path / "alertpilot.yaml"
    base = yaml.safe_load((DEMO_CASE / "config.yaml").read_text()) or {}
    base.update(
        world=str(DEMO_CASE),
        server={"lease_s": 2, "poll_s": 0.1, "worker_nice": 0},
        policy={**base.get("policy", {}), "verify_after_s": 0},
        users=[*base.get("users", []), {"name": "vera"}],  # a person who reads the incidents
    )
    config.write_text(yaml.safe_dump(base))
    reader = person_token(config, home, "vera", "viewer")  # the webhook token only posts alerts (issue 21)
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--config", str(config)],
        cwd=ROOT, env=cli_env(home, ALERTPILOT_WEBHOOK_TOKEN=TOKEN), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=60)
        wait_until("a live worker", lambda: httpx.get(f"{url}/healthz", timeout=5).status_code == 200, 60)
        first = wait_until("the worker child", lambda: _children(serve.pid), 30)
        os.kill(first[0], signal.SIGKILL)
        payload = json.loads((DEMO_CASE / "alert.json").read_text())
        posted = httpx.post(f"{url}/webhooks/alertmanager", json=payload, timeout=10,
                            headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
        assert posted.status_code == 200
        second = wait_until("a new worker child", lambda: [c for c in _children(serve.pid) if c != first[0]], 60)

        def new_child_live() -> bool:
            answer = httpx.get(f"{url}/healthz", timeout=5)
            workers = answer.json()["workers"]
            return answer.status_code == 200 and any(
                n.endswith(f":{second[0]}") and w["live"] for n, w in workers.items()
            )

        wait_until("the restarted worker's heartbeat", new_child_live, 60)
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert "alertpilot_worker_restarts_total 1.0" in metrics
        headers = {"Authorization": f"Bearer {reader}"}

        def settled() -> list[dict]:
            rows = httpx.get(f"{url}/incidents", headers=headers, timeout=5).json()
            return [r for r in rows if r["status"] in ("resolved", "escalated")]

        assert wait_until("the alert sent while the child was dead to be worked", settled, 90)
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        log.close()
    text = (tmp_path / "serve.log").read_text(errors="replace")
    assert "worker child" in text and "restarting" in text
