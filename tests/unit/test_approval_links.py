"""Signed approval links: once, for their user, for their action, before they expire; and the notice carrying them."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agents.escalation import approval_text
from server import links
from server.app import create_app
from server.approval_notice import announce
from server.decisions import action_hash
from state.identity import Identity
from state.store import Store
from tests.unit.test_auth_api import HOOK, ORIGIN, login, settings_for, waiting_incident

BASE = "http://testserver"  # the address the test client reaches the app at (https would make cookies Secure)


def test_a_token_is_refused_when_forged_tampered_or_expired() -> None:
    key = b"k" * 32
    claims = links.LinkClaims("inc-1", "a" * 64, "ana", "approve", int(time.time()) + 60, "n1")
    token = links.sign(key, claims)
    assert links.verify(key, token, time.time()) == claims
    payload, _, signature = token.partition(".")
    forged = links.sign(b"x" * 32, claims)
    swapped = links.sign(key, links.LinkClaims("inc-1", "a" * 64, "bob", "approve", claims.expires, "n1"))
    for bad in (forged, f"{swapped.partition('.')[0]}.{signature}", f"{payload}.", "garbage"):
        with pytest.raises(links.LinkError) as refused:
            links.verify(key, bad, time.time())
        assert refused.value.status == 403
    with pytest.raises(links.LinkError, match="expired") as late:
        links.verify(key, token, claims.expires)
    assert late.value.status == 410


def test_the_action_hash_binds_operation_and_params_whatever_their_order() -> None:
    one = {"operation": "version_rollback", "params": {"service": "checkout", "target": "v2.1"}}
    same = {"params": {"target": "v2.1", "service": "checkout"}, "operation": "version_rollback", "rung": 3}
    other = {"operation": "version_rollback", "params": {"service": "checkout", "target": "v2.0"}}
    assert action_hash(one) == action_hash(same) != action_hash(other)


def _link(client: TestClient, settings: object, incident: str, user: str, verdict: str = "approve",
          **change: object) -> str:  # fmt: skip
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    doc = ctx.store.get(incident)
    claims = links.LinkClaims(incident, action_hash(doc["pending"]), user, verdict, int(time.time()) + 600, "n")  # type: ignore[arg-type]
    claims = links.LinkClaims(**{**claims.__dict__, "nonce": f"nonce-{user}-{verdict}-{len(change)}", **change})
    return "/ui/links/" + links.sign(links.link_key(ctx.settings, ctx.identity), claims)


def test_a_link_works_once_for_its_user_and_its_action(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", HOOK)
    settings = settings_for(home, public_url=BASE)
    incident = waiting_incident(settings)
    with TestClient(create_app(settings, run_worker=False)) as client:
        identity = client.app.state.ctx.identity  # type: ignore[attr-defined]
        for name in ("ana", "bob"):
            identity.set_password(name, f"{name}'s long password")
        ana_link = _link(client, settings, incident, "ana")
        # Not logged in: the link sends you to the login first, and comes back.
        first = client.get(ana_link, follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"].startswith("/ui/login?next=%2Fui%2Flinks%2F")
        bob_csrf = login(client, "bob", "bob's long password")
        assert "sent to ana" in client.get(ana_link).text and client.get(ana_link).status_code == 403
        bob_link = _link(client, settings, incident, "bob")  # a link made for bob, who has no rollback_permission
        refused = client.post(bob_link, data={"csrf_token": bob_csrf}, headers={"Origin": ORIGIN})
        assert refused.status_code == 403 and "no rollback_permission" in refused.text
        client.cookies.clear()
        csrf = login(client, "ana", "ana's long password")
        void = _link(client, settings, incident, "ana", action="0" * 64)  # an action the incident no longer waits on
        assert client.get(void).status_code == 409 and "void" in client.get(void).text
        page = client.get(ana_link)
        assert page.status_code == 200 and 'id="impact"' in page.text and "version_rollback" in page.text
        assert client.post(ana_link, data={}, headers={"Origin": ORIGIN}).status_code == 403  # no CSRF token
        done = client.post(ana_link, data={"csrf_token": csrf}, headers={"Origin": ORIGIN}, follow_redirects=False)
        assert done.status_code == 303, done.text
        again = client.post(ana_link, data={"csrf_token": csrf}, headers={"Origin": ORIGIN})
        assert again.status_code == 410 and "already used" in again.text
        answers = [a for a in client.app.state.ctx.store.audit_trail(incident) if a["kind"] == "answer"]  # type: ignore[attr-defined]
    assert [(a["actor"], a["detail"]["source"]) for a in answers] == [("ana", "link")]
    assert answers[0]["detail"]["credential"].startswith("link:")


def test_the_notice_gives_each_person_the_links_they_may_use(home: Path) -> None:
    from state.config import UserConfig

    settings = settings_for(home, public_url=BASE)
    for user in settings.users:
        user.channels = ["email"]
    settings.users.append(UserConfig(name="carol", email="carol@example.test", rollback_permission=True, channels=[]))
    incident = waiting_incident(settings)
    store = Store.from_url(settings.db_url)
    sent: dict[str, str] = {}

    class Recorder:
        def send(self, user: UserConfig, message: object, **_: object) -> list[object]:
            sent[user.name] = message.text  # type: ignore[attr-defined]
            return []

    announce(settings, Identity(store), Recorder(), store.get(incident))  # type: ignore[arg-type]
    assert set(sent) == {"ana", "bob", "vera"}  # people with channels; never the agent's own account
    assert re.findall(r"(Approve|Reject|批准|拒绝): " + re.escape(BASE), sent["ana"]) == ["批准", "拒绝"]
    assert re.findall(r"(批准|拒绝): " + re.escape(BASE), sent["bob"]) == [
        "拒绝"
    ]  # an approver without rollback_permission
    assert BASE not in sent["vera"] and "请在页面、命令行或语音助手中批准或拒绝" in sent["vera"]


def test_the_english_notice_names_the_action() -> None:
    doc = {"id": "inc-1", "alert": {"name": "HighErrorRate", "service": "checkout"},
           "pending": {"rung": 3, "rung_name": "version rollback", "operation": "version_rollback",
                       "params": {"service": "checkout", "target": "v2.1"}}}  # fmt: skip
    subject, text, markdown = approval_text(doc, "en", {"approve": f"{BASE}/ui/links/x"})
    assert subject == "[approval needed] HighErrorRate on checkout"
    assert "rung 3: version rollback to v2.1" in text and "{" not in text and f"Approve: {BASE}/ui/links/x" in text
    assert f"[Approve]({BASE}/ui/links/x)" in markdown
