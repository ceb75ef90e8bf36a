"""The web page in headless Chromium: a person logs in, approves a waiting incident by clicking the
button (as themself: there is no name box), and the page shows its checkpoint timeline (as
`alertpilot replay`), its key-metric chart, and who approved with which credential."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import DEMO_CASE, ROOT, cli_env, free_port, person_token, require_binary, run_cli, wait_for_port

pytestmark = pytest.mark.integration
TOKEN = "web-token"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


SCREENSHOT = Path("/tmp/alertpilot-incident-page.png")


def _assert_timeline_and_chart(page: Any, api: httpx.Client, incident_id: str, replayed: dict[str, Any]) -> None:
    """The page lists the checkpoints `replay --json` lists, with what each changed, and the chart has loaded."""
    rows = page.locator("#checkpoints tr.checkpoint")
    expected = replayed["checkpoints"]
    assert rows.count() == len(expected) >= 8
    for index, checkpoint in enumerate(expected):
        text = rows.nth(index).inner_text()
        assert checkpoint["node"] in text and checkpoint["id"] in text, (checkpoint, text)
        for key in checkpoint["changes"]:
            assert key in text, (key, text)
    timeline_text = page.inner_text("#timeline")
    assert "waiting for approval of version_rollback" in timeline_text
    assert "approved by ana" in timeline_text
    image = page.locator("#chart-image")
    assert image.is_visible()
    image.evaluate("img => img.decode()")  # resolves once the PNG is loaded and decoded, rejects if it is broken
    assert image.evaluate("img => img.naturalWidth") == 800
    chart = page.request.get(f"{api.base_url}/ui/incidents/{incident_id}/chart.png")
    assert chart.status == 200 and chart.headers["content-type"] == "image/png"
    assert chart.body()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        api.get(f"/ui/incidents/{incident_id}/chart.png", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    webhook = api.get(f"/ui/incidents/{incident_id}/chart.png", headers={"Authorization": f"Bearer {TOKEN}"})
    assert webhook.status_code == 403


def test_clicking_approve_on_a_waiting_incident_continues_it(tmp_path: Path) -> None:
    chromium = require_binary("chromium", "chromium-browser")
    from playwright.sync_api import sync_playwright

    config = yaml.safe_load((DEMO_CASE / "config.yaml").read_text())
    config.update({"world": str(DEMO_CASE), "policy": {"verify_after_s": 0.2, "approval_from_rung": 3}})
    config["users"].append({"name": "ana", "rollback_permission": True})
    config_file = tmp_path / "alertpilot.yaml"
    config_file.write_text(yaml.safe_dump(config))
    reader = person_token(config_file, tmp_path / "home", "ana")
    password = "ana's own long password"
    set_password = subprocess.run(
        [sys.executable, "-m", "cli", "users", "password", "ana", "--config", str(config_file)], cwd=ROOT,
        env=cli_env(tmp_path / "home"), input=password + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert set_password.returncode == 0, set_password.stderr
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
        hook = {"Authorization": f"Bearer {TOKEN}"}
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {reader}"}, timeout=10)
        alert = json.loads((DEMO_CASE / "alert.json").read_text())
        assert api.post("/webhooks/alertmanager", json=alert, headers=hook).status_code == 200
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
            page.goto(f"{base}/ui")  # not logged in: the login form
            assert page.url.startswith(f"{base}/ui/login")
            page.fill("#password-login input[name=user]", "ana")
            page.fill("#password-login input[name=password]", password)
            page.click("#login")
            assert page.inner_text("#whoami").startswith("ana (approver)")
            page.click(f"text={incident_id}")
            assert page.inner_text("#status") == "awaiting_approval"
            assert "version_rollback" in page.inner_text("#approval")
            assert "v2.1" in page.inner_text("#impact")  # the impact preview: where the rollback goes
            assert "impact" in page.inner_text("#triage")
            assert page.locator("#approval input[name=user]").count() == 0  # the approver is the login
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
            answers = page.inner_text("#answers")
            assert "ana" in answers and "approved" in answers and "password" in answers and "page" in answers
            assert "【问题概述】" in page.inner_text("#report")
            replayed = run_cli("replay", incident_id, "--json", "--config", str(config_file), home=tmp_path / "home")
            assert replayed.returncode == 0, replayed.stderr
            _assert_timeline_and_chart(page, api, incident_id, json.loads(replayed.stdout))
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            browser.close()
    finally:
        serve.terminate()
        serve.wait(timeout=15)
        print((tmp_path / "serve.log").read_text()[-3000:])
