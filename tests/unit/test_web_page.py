"""The incident page without a checkpointed thread, the chart route's refusals, and escaped ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from graph.runner import document
from server.app import create_app
from state.alert import parse_alertmanager
from state.config import UserConfig, load_settings
from state.incident import IncidentState
from tests.conftest import DEMO_CASE

TOKEN = "page-token"


@pytest.fixture
def client(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", TOKEN)
    settings = load_settings(DEMO_CASE / "config.yaml", home=home)
    settings.users.append(UserConfig(name="vera"))
    with TestClient(create_app(settings, run_worker=False)) as test_client:
        token, _info = test_client.app.state.ctx.identity.create_token("vera", "viewer")  # type: ignore[attr-defined]
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client


def test_an_incident_without_a_thread_shows_its_page_without_timeline_rows_or_chart(client: TestClient) -> None:
    # A worker that died before the first checkpoint leaves exactly this: a stored document, no thread.
    alert = parse_alertmanager(json.loads((DEMO_CASE / "alert.json").read_text()))[0]
    store = client.app.state.ctx.store  # type: ignore[attr-defined]
    store.create_incident(
        "inc-1", alert.dedup_key, document(IncidentState(incident_id="inc-1", alert=alert), interrupted=False)
    )
    page = client.get("/ui/incidents/inc-1")
    assert page.status_code == 200
    assert 'id="timeline"' in page.text and 'class="checkpoint"' not in page.text
    assert "chart.png" not in page.text
    assert client.get("/ui/incidents/inc-1/chart.png").status_code == 404


def test_the_chart_needs_a_person_s_credential_and_a_known_incident(client: TestClient) -> None:
    assert client.get("/ui/incidents/inc-1/chart.png", headers={"Authorization": "Bearer nope"}).status_code == 401
    webhook = client.get("/ui/incidents/inc-1/chart.png", headers={"Authorization": f"Bearer {TOKEN}"})
    assert webhook.status_code == 403
    missing = client.get("/ui/incidents/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E/chart.png")
    assert missing.status_code == 404
    assert "<img" not in missing.text and "&lt;img src=x onerror=alert(1)&gt;" in missing.text
