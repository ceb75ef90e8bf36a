"""Webhook intake: auth, limits, bad input, idempotent redelivery, Tencent's answer, the API."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from state.config import UserConfig, load_settings
from tests.conftest import DEMO_CASE

DATA = Path(__file__).resolve().parents[1] / "data"

TOKEN = "s3cret-token"


@pytest.fixture
def client(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", TOKEN)
    settings = load_settings(DEMO_CASE / "config.yaml", home=home)
    with TestClient(create_app(settings, run_worker=False)) as test_client:
        yield test_client


def am_payload() -> dict:
    return json.loads((DEMO_CASE / "alert.json").read_text())


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def stored(client: TestClient) -> int:
    counts = client.get("/healthz").json()["queue"]
    return counts["pending"] + counts["done"]


def test_unauthenticated_requests_are_refused_and_store_nothing(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        for source in ("alertmanager", "tencent", "cls", "generic"):
            response = client.post(f"/webhooks/{source}", json=am_payload(), headers=headers)
            assert response.status_code == 401, source
    assert client.post("/webhooks/alertmanager?token=nope", json=am_payload()).status_code == 401
    assert client.get("/incidents").status_code == 401
    assert stored(client) == 0


def test_malformed_payloads_get_4xx_naming_the_problem_and_store_nothing(client: TestClient) -> None:
    not_json = client.post("/webhooks/alertmanager", content=b"{nope", headers=auth())
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
    no_alerts = {k: v for k, v in am_payload().items() if k != "alerts"}
    missing = client.post("/webhooks/alertmanager", json=no_alerts, headers=auth())
    assert missing.status_code == 422 and missing.json()["field"] == "alerts"
    bad_status = copy.deepcopy(am_payload())
    bad_status["alerts"][0]["status"] = "on fire"
    response = client.post("/webhooks/alertmanager", json=bad_status, headers=auth())
    assert response.status_code == 422 and response.json()["field"] == "alerts[0].status"
    tencent = json.loads((DATA / "tencent-metric-alarm.json").read_text())
    tencent["alarmStatus"] = "7"
    response = client.post(f"/webhooks/tencent?token={TOKEN}", json=tencent)
    assert response.status_code == 422 and "alarmStatus" in response.json()["error"]
    too_big = client.post("/webhooks/generic", content=b"x" * (1024 * 1024 + 1), headers=auth())
    assert too_big.status_code == 413
    assert stored(client) == 0


def test_redelivery_is_folded(client: TestClient) -> None:
    first = client.post("/webhooks/alertmanager", json=am_payload(), headers=auth())
    again = client.post("/webhooks/alertmanager", json=am_payload(), headers=auth())
    assert first.json() == {"status": "stored", "accepted": 1, "duplicates": 0}
    assert again.json() == {"status": "stored", "accepted": 0, "duplicates": 1}
    assert stored(client) == 1


def test_tencent_callback_gets_its_session_id_back_with_token_in_url(client: TestClient) -> None:
    payload = json.loads((DATA / "tencent-metric-alarm.json").read_text())
    response = client.post(f"/webhooks/tencent?token={TOKEN}", json=payload)
    assert response.status_code == 200
    assert response.json() == {"sessionId": payload["sessionId"], "retCode": 0}
    assert stored(client) == 1


def signed(body: bytes, delivery: str, at: float | None = None, key: str = TOKEN) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    content = f"{stamp}.{delivery}.".encode() + body
    return {
        "X-Alertpilot-Signature": "sha256=" + hmac.new(key.encode(), content, hashlib.sha256).hexdigest(),
        "X-Alertpilot-Timestamp": stamp,
        "X-Alertpilot-Delivery": delivery,
    }


def test_generic_accepts_an_hmac_signature_instead_of_the_token(client: TestClient) -> None:
    body = json.dumps({"name": "DiskFull", "service": "checkout", "severity": "warning"}).encode()
    response = client.post("/webhooks/generic", content=body, headers=signed(body, "d-1"))
    assert response.status_code == 200 and response.json()["accepted"] == 1
    forged = client.post("/webhooks/generic", content=body + b" ", headers=signed(body, "d-2"))
    assert forged.status_code == 401
    # A signature is not accepted on sources that cannot sign.
    assert client.post("/webhooks/cls", content=body, headers=signed(body, "d-3")).status_code == 401


def test_a_replayed_signed_delivery_is_not_a_new_alert(client: TestClient) -> None:
    """Issue 14: the HMAC had no timestamp or nonce, so 5 of 5 replays were accepted as new alerts."""
    body = json.dumps({"name": "DiskFull", "service": "checkout", "fingerprint": "fp-r"}).encode()
    headers = signed(body, "delivery-42")
    assert client.post("/webhooks/generic", content=body, headers=headers).json()["accepted"] == 1
    for _ in range(5):
        replay = client.post("/webhooks/generic", content=body, headers=headers)
        assert replay.status_code == 200 and replay.json() == {"status": "stored", "accepted": 0, "duplicates": 1}
    assert stored(client) == 1
    # a changed delivery id breaks the signature; a fresh one with a new id is a new delivery
    moved = {**headers, "X-Alertpilot-Delivery": "delivery-43"}
    assert client.post("/webhooks/generic", content=body, headers=moved).status_code == 401


@pytest.mark.parametrize("age_s", [301, 3600, -400])
def test_a_signature_older_than_5_minutes_is_refused(client: TestClient, age_s: int) -> None:
    body = json.dumps({"name": "DiskFull", "service": "checkout"}).encode()
    old = client.post("/webhooks/generic", content=body, headers=signed(body, f"d-{age_s}", time.time() - age_s))
    assert old.status_code == 401 and "X-Alertpilot-Timestamp" in old.json()["error"]
    assert stored(client) == 0


def test_a_signature_without_timestamp_or_delivery_is_refused(client: TestClient) -> None:
    body = json.dumps({"name": "DiskFull", "service": "checkout"}).encode()
    bare = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()  # the old, replayable form
    assert client.post("/webhooks/generic", content=body, headers={"X-Alertpilot-Signature": bare}).status_code == 401
    headers = signed(body, "d-x")
    headers.pop("X-Alertpilot-Delivery")
    assert client.post("/webhooks/generic", content=body, headers=headers).status_code == 401


def test_metrics_count_alerts_by_source_and_outcome(client: TestClient) -> None:
    client.post("/webhooks/alertmanager", json=am_payload(), headers=auth())
    client.post("/webhooks/alertmanager", json=am_payload(), headers=auth())
    client.post("/webhooks/alertmanager", json=am_payload())
    text = client.get("/metrics").text
    assert 'alertpilot_alerts_received_total{outcome="accepted",source="alertmanager"} 1.0' in text
    assert 'alertpilot_alerts_received_total{outcome="duplicate",source="alertmanager"} 1.0' in text
    assert 'alertpilot_alerts_received_total{outcome="rejected",source="alertmanager"} 1.0' in text


def test_approving_an_unknown_or_idle_incident_is_a_4xx(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", TOKEN)
    settings = load_settings(DEMO_CASE / "config.yaml", home=home)
    settings.users.append(UserConfig(name="ana", rollback_permission=True))
    with TestClient(create_app(settings, run_worker=False)) as client:
        token, _info = client.app.state.ctx.identity.create_token("ana", "approver")  # type: ignore[attr-defined]
        ana = {"Authorization": f"Bearer {token}"}
        assert client.post("/incidents/inc-nope/approve", headers=ana).status_code == 404
        assert client.get("/incidents/inc-nope", headers=ana).status_code == 404
