"""Approvals by an authenticated person, end to end (issue 21): a real `serve`, a real SMTP server
receiving the approval notices, and headless Chromium for the page and the signed links.

Shown here: the webhook token cannot approve; a user without rollback_permission cannot approve
through the API, the page or a link (the voice path: tests/integration/test_assistant_mcp.py);
a cross-origin or CSRF-less form post is refused; a signed link works once, for its user, for its
action, before it expires; the audit names the real approver, with credential and source.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller

from server.links import LinkClaims, sign
from tests.conftest import DEMO_CASE, ROOT, cli_env, free_port, person_token, require_binary, wait_for_port, wait_until
from tests.integration.test_briefing_email import Inbox
from tests.integration.test_web_approve import CHROMIUM_FLAGS

pytestmark = pytest.mark.integration
HOOK = "identity-webhook-token"
LINK_KEY = "identity-link-signing-key-0123456789"
PASSWORDS = {"ana": "ana's long password", "bob": "bob's long password"}


class Attacker(BaseHTTPRequestHandler):
    """Another origin on the same host: a page that posts an approve form to alertpilot on load."""

    target = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = (
            f'<form id="f" method="post" action="{self.target}"><input name="reason" value="x"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


def _config(tmp_path: Path, base: str, smtp_port: int) -> Path:
    config = yaml.safe_load((DEMO_CASE / "config.yaml").read_text())
    config.update({
        "world": str(DEMO_CASE),
        "language": "en",
        "policy": {"verify_after_s": 0.2, "approval_from_rung": 3, "approval_link_ttl_s": 900},
        "notify": {"smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "alertpilot@example.test"}},
        "server": {"auth": {"public_url": base, "link_secret_env": "LINK_KEY"}},
    })  # fmt: skip
    config["users"] += [
        {"name": "ana", "email": "ana@example.test", "rollback_permission": True, "channels": ["email"]},
        {"name": "bob", "email": "bob@example.test", "role": "approver", "channels": ["email"]},
        {"name": "vera", "email": "vera@example.test", "channels": ["email"]},
    ]
    path = tmp_path / "alertpilot.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _cli(config: Path, home: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli", *args, "--config", str(config)], cwd=ROOT, env=cli_env(home), input=stdin,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _links(inbox: Inbox, who: str) -> dict[str, str]:
    """The links in the approval notice e-mailed to ``who``."""
    for message in inbox.messages:
        if message["To"] == f"{who}@example.test" and "approval needed" in message["Subject"]:
            text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            return {verdict.lower(): url for verdict, url in re.findall(r"(Approve|Reject): (\S+)", text)}
    return {}


def _forge(base: str, incident: str, action: str, user: str, *, expires: float, nonce: str) -> str:
    """A link signed with the configured key (what a notice would carry), for claims the test chooses."""
    return f"{base}/ui/links/" + sign(
        LINK_KEY.encode(), LinkClaims(incident, action, user, "approve", int(expires), nonce)
    )


def _login(browser: Any, base: str, user: str) -> Any:
    page = browser.new_context().new_page()
    page.goto(f"{base}/ui/login")
    page.fill("#password-login input[name=user]", user)
    page.fill("#password-login input[name=password]", PASSWORDS[user])
    page.click("#login")
    assert page.inner_text("#whoami").startswith(f"{user} (approver)")
    return page


def _api_refusals(base: str, tokens: dict[str, str], incident: str) -> None:
    def post(who: str, **body: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        return httpx.post(f"{base}/incidents/{incident}/approve", headers=headers, json=body or None, timeout=10)

    assert post("hook").status_code == 403  # the webhook token posts alerts, nothing else
    assert httpx.get(f"{base}/incidents", headers={"Authorization": f"Bearer {HOOK}"}, timeout=10).status_code == 403
    assert post("vera").status_code == 403  # a viewer
    refused = post("bob")
    assert refused.status_code == 403 and "'bob' has no rollback_permission" in refused.json()["error"]
    assert post("bob", by="ana").status_code == 400  # a name in the body is never the approver


def _bob_cannot_approve(browser: Any, base: str, incident: str, ana_link: str) -> None:
    page = _login(browser, base, "bob")
    page.goto(ana_link)
    assert "this link was sent to ana" in page.inner_text("#message")
    bob_link = _forge(base, incident, _action(page, base, incident), "bob", expires=time.time() + 600, nonce="bob-1")
    page.goto(bob_link)
    page.click("#confirm")
    assert "no rollback_permission" in page.inner_text("#message")
    page.goto(f"{base}/ui/incidents/{incident}")
    page.click("#approve")
    assert "no rollback_permission" in page.inner_text("#message")
    assert page.inner_text("#status") == "awaiting_approval"
    page.context.close()


def _action(page: Any, base: str, incident: str) -> str:
    """The action hash the incident page's forms carry."""
    page.goto(f"{base}/ui/incidents/{incident}")
    return str(page.locator("#approval input[name=action]").first.get_attribute("value"))


def _forgery_refused(page: Any, base: str, incident: str, attacker: str) -> None:
    page.goto(attacker)  # the attacker's page submits its form to alertpilot at once
    page.wait_for_url(f"{base}/**")
    assert page.inner_text("h1") == "403"
    page.goto(f"{base}/ui/incidents/{incident}")
    csrf = page.locator("#approval input[name=csrf_token]").first.get_attribute("value")
    action = page.locator("#approval input[name=action]").first.get_attribute("value")
    path = f"{base}/ui/incidents/{incident}/approve"
    evil = page.request.post(path, form={"csrf_token": csrf, "action": action}, headers={"Origin": "http://evil.test"})
    assert evil.status == 403 and "cross-origin" in evil.text()
    missing = page.request.post(path, form={"action": action}, headers={"Origin": base})
    assert missing.status == 403 and "CSRF" in missing.text()
    page.reload()
    assert page.inner_text("#status") == "awaiting_approval"


def _bad_links_refused(page: Any, base: str, incident: str) -> None:
    action = _action(page, base, incident)
    expired = _forge(base, incident, action, "ana", expires=time.time() - 1, nonce="late")
    page.goto(expired)
    assert "expired" in page.inner_text("#message")
    changed = _forge(base, incident, "0" * 64, "ana", expires=time.time() + 600, nonce="other-action")
    page.goto(changed)
    assert "this link is void" in page.inner_text("#message")
    genuine = _forge(base, incident, action, "ana", expires=time.time() + 600, nonce="tampered")
    page.goto(genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB"))
    assert "not genuine" in page.inner_text("#message")


def test_only_an_authenticated_permitted_person_approves(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    chromium = require_binary("chromium", "chromium-browser")
    from playwright.sync_api import sync_playwright

    inbox, smtp_port = smtp
    port, attacker_port = free_port(), free_port()
    base, home = f"http://127.0.0.1:{port}", tmp_path / "home"
    config = _config(tmp_path, base, smtp_port)
    tokens = {"hook": HOOK, **{n: person_token(config, home, n, r) for n, r in
                               (("ana", "approver"), ("bob", "approver"), ("vera", "viewer"))}}  # fmt: skip
    for name, password in PASSWORDS.items():
        _cli(config, home, "users", "password", name, stdin=password + "\n")
    Attacker.target = f"{base}/ui/incidents/PLACEHOLDER/approve"
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--config", str(config)], cwd=ROOT,
        env=cli_env(home, ALERTPILOT_WEBHOOK_TOKEN=HOOK, LINK_KEY=LINK_KEY), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    evil_site = ThreadingHTTPServer(("127.0.0.1", attacker_port), Attacker)
    threading.Thread(target=evil_site.serve_forever, daemon=True).start()
    try:
        wait_for_port(port, timeout=30)
        alert = json.loads((DEMO_CASE / "alert.json").read_text())
        hook = {"Authorization": f"Bearer {HOOK}"}
        assert httpx.post(f"{base}/webhooks/alertmanager", json=alert, headers=hook, timeout=10).status_code == 200
        reader = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['vera']}"}, timeout=10)
        rows = wait_until("an incident waiting for approval",
                     lambda: [r for r in reader.get("/incidents").json() if r["status"] == "awaiting_approval"], 40)  # fmt: skip
        incident = rows[0]["id"]
        Attacker.target = f"{base}/ui/incidents/{incident}/approve"
        _api_refusals(base, tokens, incident)

        ana_links = wait_until("ana's approval notice", lambda: _links(inbox, "ana"), 40)
        assert set(ana_links) == {"approve", "reject"} and all(
            u.startswith(f"{base}/ui/links/") for u in ana_links.values()
        )
        assert set(wait_until("bob's approval notice", lambda: _links(inbox, "bob"), 40)) == {
            "reject"
        }  # may not approve
        assert not _links(inbox, "vera")  # a viewer's notice carries no link

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            _bob_cannot_approve(browser, base, incident, ana_links["approve"])
            page = _login(browser, base, "ana")
            _forgery_refused(page, base, incident, f"http://127.0.0.1:{attacker_port}/")
            _bad_links_refused(page, base, incident)

            page.goto(ana_links["approve"])
            impact = page.inner_text("#impact")
            assert "version_rollback" in impact and "v2.1" in impact  # the preview comes before the button
            page.click("#confirm")
            assert "approve queued by ana" in page.inner_text("#message")
            status = wait_until("the incident to resolve",
                           lambda: reader.get(f"/incidents/{incident}").json()["status"] == "resolved", 40)  # fmt: skip
            assert status
            page.goto(ana_links["approve"])
            assert "already used" in page.inner_text("#message")
            page.goto(ana_links["reject"])
            assert "not waiting for approval" in page.inner_text("#message")
            page.goto(f"{base}/ui/incidents/{incident}")
            answers = page.inner_text("#answers")
            browser.close()
        assert re.search(r"ana\s+approved\s+link:\S+\s+link", answers), answers
        audit = reader.get(f"/incidents/{incident}").json()["audit"]
        answered = [(a["actor"], a["detail"]["source"]) for a in audit if a["kind"] == "answer"]
        assert answered == [("ana", "link")]
        decisions = reader.get(f"/incidents/{incident}").json()["decisions"]
        assert any(d["summary"] == "approved by ana" for d in decisions)
        events = json.loads(_cli(config, home, "users", "audit", "--json"))
        logins = {(e["principal"], e["credential"], e["source"]) for e in events if e["kind"] == "login"}
        assert {("ana", "password", "page"), ("bob", "password", "page")} <= logins
    finally:
        evil_site.shutdown()
        serve.terminate()
        serve.wait(timeout=15)
        print((tmp_path / "serve.log").read_text()[-3000:])
