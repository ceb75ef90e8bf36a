"""The web page in headless Chromium: a waiting incident is approved by clicking the button."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import DEMO_CASE, ROOT, cli_env, free_port, require_binary, wait_for_port

pytestmark = pytest.mark.integration
TOKEN = "web-token"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def test_clicking_approve_on_a_waiting_incident_continues_it(tmp_path: Path) -> None:
    chromium = require_binary("chromium", "chromium-browser")
    from playwright.sync_api import sync_playwright

    config = yaml.safe_load((DEMO_CASE / "config.yaml").read_text())
    config.update({"world": str(DEMO_CASE), "policy": {"verify_after_s": 0.2, "approval_from_rung": 3}})
    config["users"].append({"name": "ana", "rollback_permission": True})
    (tmp_path / "alertpilot.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--config", str(tmp_path / "alertpilot.yaml")],
        cwd=ROOT,
        env=cli_env(tmp_path / "home", ALERTPILOT_WEBHOOK_TOKEN=TOKEN),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=30)
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        alert = json.loads((DEMO_CASE / "alert.json").read_text())
        assert api.post("/webhooks/alertmanager", json=alert).status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rows = api.get("/incidents").json()
            if rows and rows[0]["status"] == "awaiting_approval":
                break
            time.sleep(0.3)
        else:
            pytest.fail(f"no incident waiting for approval: {api.get('/incidents').json()}")
        incident_id = rows[0]["id"]

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page()
            page.goto(f"{base}/ui?token={TOKEN}")  # leaves the token cookie for the forms
            page.click(f"text={incident_id}")
            assert page.inner_text("#status") == "awaiting_approval"
            assert "version_rollback" in page.inner_text("#approval")
            assert "impact" in page.inner_text("#triage")
            page.fill("#approval input[name=user]", "ana")
            page.click("#approve")
            assert "approve queued by ana" in page.inner_text("#message")
            status = ""
            for _ in range(40):
                page.goto(f"{base}/ui/incidents/{incident_id}")
                status = page.inner_text("#status")
                if status == "resolved":
                    break
                time.sleep(0.25)
            assert status == "resolved"
            assert "cleared" in page.inner_text("#attempts")
            assert "ana" in page.inner_text("#approvals")
            assert "【问题概述】" in page.inner_text("#report")
            browser.close()
    finally:
        serve.terminate()
        serve.wait(timeout=15)
        print((tmp_path / "serve.log").read_text()[-3000:])
