"""Who may do what over HTTP: webhook credentials only post alerts; people act as themselves (issue 21)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from graph.runner import open_runner
from server.app import create_app
from state.alert import parse_alerts
from state.config import ConfigError, Settings, UserConfig, load_settings
from tests.conftest import DEMO_CASE

HOOK = "hook-token"
ORIGIN = "http://testserver"


def settings_for(home: Path, **auth: object) -> Settings:
    settings = load_settings(DEMO_CASE / "config.yaml", home=home)
    settings.policy.approval_from_rung = 3
    settings.users += [
        UserConfig(name="ana", rollback_permission=True, email="ana@example.test"),
        UserConfig(name="bob", role="approver"),  # may answer, but not approve: no rollback_permission
        UserConfig(name="vera"),  # a viewer
    ]
    for key, value in auth.items():
        setattr(settings.server.auth, key, value)
    return settings


def waiting_incident(settings: Settings) -> str:
    """Run the demo alert until it waits for approval of its version rollback (rung 3)."""
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    with open_runner(settings) as runner:
        doc = runner.start(alert).document
    assert doc["status"] == "awaiting_approval", doc["status"]
    return str(doc["id"])


@dataclass
class Service:
    client: TestClient
    tokens: dict[str, str]
    incident: str

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.get(who, who)}"}


@pytest.fixture
def service(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", HOOK)
    settings = settings_for(home)
    incident = waiting_incident(settings)
    with TestClient(create_app(settings, run_worker=False)) as client:
        identity = client.app.state.ctx.identity  # type: ignore[attr-defined]
        tokens = {name: identity.create_token(name, role)[0] for name, role in
                  (("ana", "approver"), ("bob", "approver"), ("vera", "viewer"))}  # fmt: skip
        identity.set_password("ana", "ana's long password")
        identity.set_password("bob", "bob's long password")
        yield Service(client, tokens, incident)


def login(client: TestClient, user: str, password: str, origin: str = ORIGIN) -> str:
    """Log in through the form; returns the session's CSRF token (as the incident page's forms carry it)."""
    form = client.get("/ui/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    done = client.post(
        "/ui/login", data={"user": user, "password": password, "csrf_token": csrf.group(1), "next": "/ui"},
        headers={"Origin": origin}, follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303, done.text
    page = client.get("/ui")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_the_webhook_token_posts_alerts_and_nothing_else(service: Service) -> None:
    hook = service.bearer(HOOK)
    for method, path in (("get", "/incidents"), ("get", f"/incidents/{service.incident}"), ("get", "/ui"),
                         ("post", f"/incidents/{service.incident}/approve"),
                         ("post", f"/incidents/{service.incident}/reject")):  # fmt: skip
        answer = getattr(service.client, method)(path, headers=hook, follow_redirects=False)
        assert answer.status_code == 403, (path, answer.status_code)
    assert "webhook credential" in service.client.post(f"/incidents/{service.incident}/approve", headers=hook).text
    alert = json.loads((DEMO_CASE / "alert.json").read_text())
    assert service.client.post("/webhooks/alertmanager", json=alert, headers=hook).status_code == 200
    # A person's token is no webhook credential either.
    assert service.client.post("/webhooks/alertmanager", json=alert, headers=service.bearer("ana")).status_code == 401


def test_who_may_approve_over_the_api(service: Service) -> None:
    path = f"/incidents/{service.incident}/approve"
    assert service.client.post(path).status_code == 401
    assert service.client.post(path, headers=service.bearer("apt_0000000000_forged")).status_code == 401
    viewer = service.client.post(path, headers=service.bearer("vera"))
    assert viewer.status_code == 403 and "viewer" in viewer.json()["error"]
    no_permission = service.client.post(path, headers=service.bearer("bob"))
    assert no_permission.status_code == 403 and "'bob' has no rollback_permission" in no_permission.json()["error"]
    impostor = service.client.post(path, headers=service.bearer("bob"), json={"by": "ana"})
    assert impostor.status_code == 400 and "by" in impostor.json()["error"]
    assert service.client.get(f"/incidents/{service.incident}", headers=service.bearer("vera")).json()["status"] == (
        "awaiting_approval"
    )
    approved = service.client.post(path, headers=service.bearer("ana"), json={"by": "ana"})
    assert approved.status_code == 202 and approved.json()["by"] == "ana"
    # The race's loser (a reject right after) gets 409, whoever it is.
    late = service.client.post(
        f"/incidents/{service.incident}/reject", headers=service.bearer("bob"), json={"reason": "no"}
    )
    assert late.status_code == 409 and "already answered" in late.json()["error"]
    audit = service.client.get(f"/incidents/{service.incident}", headers=service.bearer("vera")).json()["audit"]
    answers = [a for a in audit if a["kind"] == "answer"]
    assert len(answers) == 1 and answers[0]["actor"] == "ana"
    assert answers[0]["detail"]["source"] == "api" and answers[0]["detail"]["credential"].startswith("token:")


def test_auth_is_checked_before_the_body_is_read(service: Service) -> None:
    path = f"/incidents/{service.incident}/approve"
    assert service.client.post(path, content=b"{not json").status_code == 401
    assert service.client.post(path, content=b"{not json", headers=service.bearer(HOOK)).status_code == 403
    bad = service.client.post(path, content=b"{not json", headers=service.bearer("ana"))
    assert bad.status_code == 422 and bad.json()["field"] == "body"
    unknown = service.client.post(path, json={"approver": "ana"}, headers=service.bearer("ana"))
    assert unknown.status_code == 422 and unknown.json()["field"] == "approver"
    assert service.client.get("/incidents?limit=lots").status_code == 401


def test_a_revoked_token_stops_working_at_once(service: Service) -> None:
    identity = service.client.app.state.ctx.identity  # type: ignore[attr-defined]
    token_id = identity.verify_token(service.tokens["vera"]).id
    assert service.client.get("/incidents", headers=service.bearer("vera")).status_code == 200
    identity.revoke_token(token_id)
    assert service.client.get("/incidents", headers=service.bearer("vera")).status_code == 401


def test_page_forms_need_the_session_csrf_token_and_our_origin(service: Service) -> None:
    csrf = login(service.client, "ana", "ana's long password")
    page = service.client.get(f"/ui/incidents/{service.incident}").text
    assert 'name="user"' not in page and "Approve as ana" in page  # no name box: the approver is the login
    action = re.search(r'name="action" value="([0-9a-f]+)"', page)
    assert action is not None
    path = f"/ui/incidents/{service.incident}/approve"
    for data, headers in (
        ({"action": action.group(1)}, {"Origin": ORIGIN}),  # no CSRF token
        ({"action": action.group(1), "csrf_token": "guess"}, {"Origin": ORIGIN}),
        ({"action": action.group(1), "csrf_token": csrf}, {"Origin": "https://evil.example"}),
        ({"action": action.group(1), "csrf_token": csrf}, {"Referer": "https://evil.example/x"}),
        ({"action": action.group(1), "csrf_token": csrf}, {"Sec-Fetch-Site": "cross-site"}),
    ):
        refused = service.client.post(path, data=data, headers=headers, follow_redirects=False)
        assert refused.status_code == 403, (data, headers)
    assert service.client.get(f"/incidents/{service.incident}", headers=service.bearer("vera")).json()["status"] == (
        "awaiting_approval"
    )
    done = service.client.post(
        path, data={"action": action.group(1), "csrf_token": csrf}, headers={"Origin": ORIGIN}, follow_redirects=False
    )
    assert done.status_code == 303 and "approve%20queued%20by%20ana" in done.headers["location"]
    shown = service.client.get(done.headers["location"]).text
    assert re.search(r"<td>ana</td>\s*<td>approved</td>\s*<td>password</td><td>page</td>", shown), shown


def test_the_login_form_refuses_cross_origin_posts_and_sets_a_strict_cookie(service: Service) -> None:
    form = service.client.get("/ui/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    data = {"user": "ana", "password": "ana's long password", "csrf_token": csrf.group(1), "next": "/ui"}
    evil = service.client.post("/ui/login", data=data, headers={"Origin": "https://evil.example"},
                               follow_redirects=False)  # fmt: skip
    assert evil.status_code == 403
    wrong = service.client.post("/ui/login", data={**data, "password": "nope"}, headers={"Origin": ORIGIN})
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    again = re.search(r'name="csrf_token" value="([^"]+)"', wrong.text)  # each rendered form has a fresh token
    assert again is not None and again.group(1) != csrf.group(1)
    data = {**data, "csrf_token": again.group(1), "next": "//evil.example/"}
    good = service.client.post("/ui/login", data=data, headers={"Origin": ORIGIN}, follow_redirects=False)
    assert good.status_code == 303 and good.headers["location"] == "/ui"  # no open redirect
    cookie = next(h for h in good.headers.get_list("set-cookie") if h.startswith("alertpilot_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Secure" not in cookie
    events = service.client.app.state.ctx.identity.events()  # type: ignore[attr-defined]
    assert [e["kind"] for e in events[:2]] == ["login", "login_failed"]
    assert events[0]["principal"] == "ana" and events[0]["source"] == "page"


def test_a_viewer_on_the_page_sees_no_buttons_and_cannot_post(service: Service) -> None:
    service.client.app.state.ctx.identity.set_password("vera", "vera's long password")  # type: ignore[attr-defined]
    csrf = login(service.client, "vera", "vera's long password")
    page = service.client.get(f"/ui/incidents/{service.incident}").text
    assert 'id="approve"' not in page and "an approver answers this" in page
    refused = service.client.post(f"/ui/incidents/{service.incident}/reject", data={"csrf_token": csrf,
                                  "reason": "x"}, headers={"Origin": ORIGIN})  # fmt: skip
    assert refused.status_code == 403


def test_logout_ends_the_session(service: Service) -> None:
    csrf = login(service.client, "bob", "bob's long password")
    assert service.client.post("/ui/logout", data={"csrf_token": csrf}, headers={"Origin": ORIGIN}).status_code == 200
    after = service.client.get("/ui", follow_redirects=False)
    assert after.status_code == 303 and after.headers["location"].startswith("/ui/login")


def test_sso_header_counts_only_from_a_trusted_proxy(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", HOOK)
    settings = settings_for(home, trusted_header="X-Forwarded-Email", trusted_proxies=["10.1.2.0/24"])
    header = {"X-Forwarded-Email": "ana@example.test"}
    with TestClient(create_app(settings, run_worker=False), client=("10.1.2.3", 4000)) as proxied:
        page = proxied.get("/ui", headers=header)
        assert page.status_code == 200 and "ana (approver)" in page.text
        assert any(h.startswith("alertpilot_session=") for h in page.headers.get_list("set-cookie"))
    with TestClient(create_app(settings, run_worker=False), client=("192.0.2.9", 4000)) as direct:
        assert direct.get("/ui", headers=header, follow_redirects=False).status_code == 303  # to the login
        assert direct.get("/incidents", headers=header).status_code == 401


def test_per_source_webhook_tokens_replace_the_default_for_their_source(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", HOOK)
    monkeypatch.setenv("TENCENT_HOOK", "tencent-only")
    settings = settings_for(home, webhook_tokens={"tencent": "TENCENT_HOOK"})
    tencent = json.loads((Path(__file__).resolve().parents[1] / "data" / "tencent-metric-alarm.json").read_text())
    alert = json.loads((DEMO_CASE / "alert.json").read_text())
    with TestClient(create_app(settings, run_worker=False)) as client:
        assert client.post("/webhooks/tencent?token=tencent-only", json=tencent).status_code == 200
        assert client.post(f"/webhooks/tencent?token={HOOK}", json=tencent).status_code == 401
        assert (
            client.post("/webhooks/alertmanager", json=alert, headers={"Authorization": f"Bearer {HOOK}"}).status_code
            == 200
        )
        assert client.post("/webhooks/alertmanager?token=tencent-only", json=alert).status_code == 401
        assert client.get("/incidents", headers={"Authorization": "Bearer tencent-only"}).status_code == 403
    monkeypatch.delenv("TENCENT_HOOK")
    with (
        pytest.raises(ConfigError, match="server.auth.webhook_tokens.tencent"),
        TestClient(create_app(settings, run_worker=False)),
    ):
        pass


def test_protect_metrics_puts_metrics_and_the_schema_behind_a_viewer(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", HOOK)
    for protect, anonymous in ((False, 200), (True, 401)):
        with TestClient(create_app(settings_for(home, protect_metrics=protect), run_worker=False)) as client:
            token, _ = client.app.state.ctx.identity.create_token("vera", "viewer")  # type: ignore[attr-defined]
            for path in ("/metrics", "/openapi.json"):
                assert client.get(path).status_code == anonymous, (protect, path)
                assert client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
            schema = client.get("/openapi.json", headers={"Authorization": f"Bearer {token}"}).json()
            body = schema["paths"]["/incidents/{incident_id}/approve"]["post"]["requestBody"]
            assert "by" in body["content"]["application/json"]["schema"]["properties"]


def test_an_admin_manages_tokens_over_the_api_and_nobody_else_does(service: Service) -> None:
    identity = service.client.app.state.ctx.identity  # type: ignore[attr-defined]
    admin = {"Authorization": f"Bearer {identity.create_token('vera', 'admin')[0]}"}
    for who in ("ana", HOOK):  # an approver, the webhook token
        assert service.client.get("/users", headers=service.bearer(who)).status_code == 403
        assert service.client.post("/users/bob/tokens", headers=service.bearer(who), content=b"{bad").status_code == 403
    listed = {u["name"]: u for u in service.client.get("/users", headers=admin).json()}
    assert listed["ana"]["password"] and listed["ana"]["tokens"][0]["state"] == "active"
    assert "token" not in listed["ana"]["tokens"][0]  # no secret is ever listed
    made = service.client.post("/users/bob/tokens", headers=admin, json={"role": "approver", "expires_days": 7})
    assert made.status_code == 201 and made.json()["token"].startswith("apt_")
    assert (
        service.client.get("/incidents", headers={"Authorization": f"Bearer {made.json()['token']}"}).status_code == 200
    )
    assert service.client.post("/users/alertpilot/tokens", headers=admin, json={}).status_code == 404  # the agent
    assert service.client.post("/users/bob/tokens", headers=admin, json={"role": "root"}).json()["field"] == "role"
    revoked = service.client.delete(f"/users/tokens/{made.json()['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert (
        service.client.get("/incidents", headers={"Authorization": f"Bearer {made.json()['token']}"}).status_code == 401
    )
    kinds = [(e["kind"], e["principal"], e["source"]) for e in identity.events()[:2]]
    assert kinds == [("token_revoked", "vera", "api"), ("token_created", "vera", "api")]


def test_cookies_are_secure_behind_https(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", HOOK)
    settings = settings_for(home, trusted_proxies=["10.1.2.3"])
    with TestClient(create_app(settings, run_worker=False), base_url="https://alertpilot.test") as direct:
        assert "Secure" in direct.get("/ui/login").headers["set-cookie"]
    with TestClient(create_app(settings, run_worker=False), client=("10.1.2.3", 1)) as proxied:
        assert "Secure" in proxied.get("/ui/login", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    with TestClient(create_app(settings, run_worker=False), client=("10.9.9.9", 1)) as untrusted:
        assert "Secure" not in untrusted.get("/ui/login", headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]


def test_a_repeat_of_the_alert_does_not_reopen_an_answered_approval(service: Service) -> None:
    path = f"/incidents/{service.incident}"
    assert service.client.post(f"{path}/approve", headers=service.bearer("ana")).status_code == 202
    settings = service.client.app.state.ctx.settings  # type: ignore[attr-defined]
    with open_runner(settings) as runner:  # Alertmanager re-sends the firing alert while the answer is queued
        doc = runner.join(service.incident, parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0])
    assert doc["status"] == "awaiting_approval"
    late = service.client.post(f"{path}/reject", headers=service.bearer("bob"), json={"reason": "too late"})
    assert late.status_code == 409
