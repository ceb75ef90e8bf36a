"""``GET /stats``, ``/ui/stats``, ``alertpilot stats`` and the assistant's stats tool over the same history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from server.app import create_app
from server.assistant import Assistant
from state.config import UserConfig, load_settings
from state.store import Store
from tests.conftest import run_cli
from tests.history_data import NOW, load_history

TOKEN = "hook-token"


@pytest.fixture
def client(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", TOKEN)
    settings = load_settings(None, home=home)
    settings.users.append(UserConfig(name="vera"))
    load_history(Store.from_url(settings.db_url))
    with TestClient(create_app(settings, run_worker=False)) as test_client:
        yield test_client


def _viewer(client: TestClient) -> dict[str, str]:
    token, _info = client.app.state.ctx.identity.create_token("vera", "viewer")  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


def test_stats_needs_a_person_s_credential(client: TestClient) -> None:
    assert client.get("/stats").status_code == 401
    assert client.get("/stats?since=banana").status_code == 401  # the credential is checked before the parameters
    assert client.get("/stats", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403  # webhook token
    page = client.get("/ui/stats", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/login")


def test_stats_answers_the_numbers_and_filters(client: TestClient) -> None:
    me = _viewer(client)
    body = client.get("/stats", headers=me).json()
    assert body["incidents"] == 16 and body["by_status"] == {"resolved": 14, "escalated": 2}
    assert {n["rule"] for n in body["noisy"]} == {"HighLatencyP99", "CPUNearLimit"}
    cart = client.get("/stats?service=cart&noise_min=2", headers=me).json()
    assert cart["incidents"] == 2 and [r["operation"] for r in cart["rungs"]] == ["restart", "version_rollback"]


@pytest.mark.parametrize(
    ("query", "field"), [("since=yesterday", "since: "), ("noise_min=0", "noise_min: "), ("noise_min=x", "noise_min: ")]
)
def test_a_bad_parameter_is_a_422_naming_it(client: TestClient, query: str, field: str) -> None:
    answer = client.get(f"/stats?{query}", headers=_viewer(client))
    assert answer.status_code == 422 and answer.json()["error"].startswith(field)


def test_the_page_shows_the_numbers_with_inline_svg_charts(client: TestClient) -> None:
    page = client.get("/ui/stats", headers=_viewer(client))
    assert page.status_code == 200
    assert '<td id="incident-count">16</td>' in page.text
    for chart in ("daily", "rungs", "patterns", "escalations", "budget"):
        assert f'id="chart-{chart}" src="data:image/svg+xml;base64,' in page.text
    assert "HighLatencyP99" in page.text and "raise its `for:` duration or threshold" in page.text
    bad = client.get("/ui/stats?since=soon", headers=_viewer(client))
    assert bad.status_code == 422 and "since: expected a date" in bad.text


def test_the_cli_prints_one_json_document_and_refuses_a_bad_since(home: Path) -> None:
    load_history(Store.from_url(f"sqlite:///{home / 'alertpilot.db'}"))
    done = run_cli("stats", "--json", "--service", "checkout", home=home)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["incidents"] == 5 and body["approvals"]["rejected"] == 1
    text = run_cli("stats", home=home)
    assert text.returncode == 0 and "per rung" in text.stdout and "version_rollback" in text.stdout
    bad = run_cli("stats", "--since", "last tuesday", home=home)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("alertpilot: --since: expected a date")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_suggest_weights_prints_a_suggestion_and_changes_nothing(home: Path, tmp_path: Path) -> None:
    config = tmp_path / "alertpilot.yaml"
    config.write_text(yaml.safe_dump({"triage": {"weights": {"impact": 0.7, "severity": 0.1, "business": 0.1,
                                                             "time_sensitivity": 0.1}}}))  # fmt: skip
    before = config.read_text()
    load_history(Store.from_url(f"sqlite:///{home / 'alertpilot.db'}"))
    done = run_cli("stats", "--suggest-weights", "--json", "--config", str(config), home=home)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["current"]["impact"] == 0.7 and body["applied"] is False
    assert body["incidents"] == 13  # the informational alerts are not triage's to rank
    assert body["suggested"] is None and body["reason"].startswith("not enough history")  # 13 < 30
    assert config.read_text() == before


def test_the_assistant_speaks_the_week(home: Path) -> None:
    settings = load_settings(None, home=home)
    settings.language = "en"
    load_history(Store.from_url(settings.db_url))
    spoken = Assistant(settings, clock=lambda: NOW).operations_stats(days=7)["response"]
    # the last 7 days: checkout's failed and rejected rollbacks (still escalated), search back to healthy, a feed info
    assert spoken.startswith("In the last 7 days: 4 incidents, 2 resolved, 2 still with people.")
    assert "The most common escalation: approval_rejected (release), 1 of them." in spoken
    month = Assistant(settings, clock=lambda: NOW).operations_stats(days=60)["response"]
    assert "HighLatencyP99 needed no action all 4 times: consider tuning or silencing it." in month
    zh = settings.model_copy(update={"language": "zh"})
    assert Assistant(zh, clock=lambda: NOW).operations_stats(days=30)["response"].startswith("过去 30 天共有")
