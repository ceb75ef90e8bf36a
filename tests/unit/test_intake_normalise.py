"""Accepted means processed (issue 14): what the intake accepts can be checkpointed, stored and shown.

Each payload below was answered 200 and then lost (no thread, a 500 on every read, a
wedged incident) before the edge normalised it; now it is either refused with a 4xx
naming the field, or accepted and worked to the end by a real worker.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from graph.checkpoint import serializer
from server.app import create_app
from server.worker import open_worker
from state.alert import AlertParseError, parse_alerts
from state.config import UserConfig, load_settings
from state.incident import IncidentState
from tests.conftest import DEMO_CASE

TOKEN = "s3cret-token"
REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
RECEIVED = datetime(2026, 11, 20, 3, 30, tzinfo=UTC)


def am() -> dict[str, Any]:
    return json.loads((DEMO_CASE / "alert.json").read_text())


def tencent() -> dict[str, Any]:
    return json.loads((REFERENCE / "tencent-metric-alarm.json").read_text())


def checkpointable(payload: dict[str, Any], source: str = "auto") -> None:
    """The parsed alert survives the checkpoint serializer and strict JSON (what the store and API need)."""
    for alert in parse_alerts(payload, source):
        state = IncidentState(incident_id="inc-x", alert=alert)
        serde = serializer()
        assert serde.loads_typed(serde.dumps_typed(state.model_dump())) is not None
        json.dumps(alert.model_dump(mode="json"), allow_nan=False)


def test_an_integer_past_64_bits_anywhere_is_kept_as_its_decimal_string() -> None:
    payload = am()
    payload["alerts"][0]["labels"]["request_id"] = 2**64 + 7
    payload["alerts"][0]["annotations"]["value"] = -(2**70)
    payload["alerts"][0]["extra"] = {"counter": 10**30}  # an unknown field lives on in ``raw``
    checkpointable(payload)
    alert = parse_alerts(payload)[0]
    assert alert.labels["request_id"] == str(2**64 + 7)
    assert alert.raw["extra"]["counter"] == str(10**30)


def test_nan_and_infinity_literals_are_refused_naming_the_field() -> None:
    body = json.dumps(am()).replace('"startsAt"', '"score": NaN, "startsAt"', 1)
    with pytest.raises(AlertParseError) as caught:
        parse_alerts(body)
    assert caught.value.field == "alerts[0].score"
    generic = b'{"name": "X", "service": "checkout", "condition": {"metric": "m", "threshold": Infinity}}'
    with pytest.raises(AlertParseError, match="condition.threshold"):
        parse_alerts(generic, "generic")


def test_a_nan_string_where_a_number_is_computed_is_dropped_and_said() -> None:
    payload = tencent()
    payload["alarmPolicyInfo"]["conditions"]["currentValue"] = "NaN"
    checkpointable(payload, "tencent")
    alert = parse_alerts(payload, "tencent")[0]
    assert alert.condition is not None and alert.condition.current is None
    assert "currentValue: 'NaN' is not a finite number" in alert.annotations["alertpilot_normalised"]
    with pytest.raises(AlertParseError, match="condition"):
        parse_alerts({"name": "X", "condition": {"metric": "m", "current": "nan"}}, "generic")


def test_grafanas_zero_starts_at_means_the_time_the_payload_was_received() -> None:
    payload = am()
    payload["alerts"][0]["startsAt"] = "0001-01-01T00:00:00Z"
    alert = parse_alerts(payload, received=RECEIVED)[0]
    assert alert.starts_at == RECEIVED
    assert alert.ends_at is None  # a zero endsAt still means "not ended"


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("startsAt", "1900-01-01T00:00:00Z"),
        ("startsAt", "9999-12-31T23:59:59Z"),
        ("startsAt", "0001-01-01T00:00:00+08:00"),
        ("startsAt", 10**400),  # a Unix time past any calendar
        ("startsAt", True),
        ("endsAt", "2400-01-01T00:00:00Z"),
    ],
)
def test_times_out_of_range_are_refused_naming_the_field(where: str, value: Any) -> None:
    payload = am()
    payload["alerts"][0][where] = value
    with pytest.raises(AlertParseError) as caught:
        parse_alerts(payload)
    assert caught.value.field == f"alerts[0].{where}"


def test_sizes_and_depths_are_bounded() -> None:
    payload = am()
    payload["alerts"][0]["labels"]["alertname"] = "A" * 300
    with pytest.raises(AlertParseError, match="at most 256"):
        parse_alerts(payload)
    deep: Any = "leaf"
    for _ in range(40):
        deep = {"d": deep}
    with pytest.raises(AlertParseError, match="nested deeper than 32"):
        parse_alerts({**am(), "extra": deep})
    with pytest.raises(AlertParseError) as caught:
        parse_alerts(b'{"name": ' + b"9" * 5000 + b"}", "generic")
    assert caught.value.field == "body"
    long_group = {**am(), "groupKey": "{}:" + "x" * 600}
    alert = parse_alerts(long_group)[0]
    assert alert.group_key == long_group["groupKey"] and alert.dedup_key.startswith("sha256:")
    assert len(alert.dedup_key) <= 200


@pytest.mark.parametrize(
    ("source", "payload"),
    [
        ("generic", {"name": "X", "group_key": {"a": 1}}),
        ("generic", {"name": "X", "expression": 5}),
        ("generic", {"name": "X", "service": ["a"]}),
        ("cls", {"alarm": "X", "alarm_id": "1", "severity": 3, "start_time_unix": "1763608200"}),
        ("alertmanager", {**am(), "alerts": [{**am()["alerts"][0], "generatorURL": 7}]}),
    ],
)
def test_fields_of_the_wrong_type_are_4xx_material_not_crashes(source: str, payload: dict[str, Any]) -> None:
    with contextlib.suppress(AlertParseError):  # refused naming the field is as good as accepted-and-processed
        checkpointable(payload, source)


# ---------------------------------------------------------------------- through the service and a worker


@pytest.fixture
def service(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Any]]:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", TOKEN)
    settings = load_settings(DEMO_CASE / "config.yaml", home=home, policy={"verify_after_s": 0})
    settings.users.append(UserConfig(name="vic"))  # a person who reads what was accepted
    with TestClient(create_app(settings, run_worker=False)) as client:
        yield client, settings


def _work(settings: Any) -> None:
    with open_worker(settings, name="w", lease_s=30, poll_s=0.01) as worker:
        while worker.run_once():
            pass


def test_accepted_payloads_are_processed_and_shown(service: tuple[TestClient, Any]) -> None:
    client, settings = service
    headers = {"Authorization": f"Bearer {TOKEN}"}
    big = am()
    big["alerts"][0]["labels"]["trace"] = 2**64
    zero = copy.deepcopy(am())
    zero["groupKey"] = "grafana"
    zero["alerts"][0].update(startsAt="0001-01-01T00:00:00Z", fingerprint="grafana-1")
    nan = tencent()
    nan["alarmPolicyInfo"]["conditions"]["currentValue"] = "NaN"
    for source, body in (("alertmanager", big), ("alertmanager", zero), ("tencent", nan)):
        answer = client.post(f"/webhooks/{source}", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
    bad = client.post("/webhooks/alertmanager", content='{"v": NaN, ' + json.dumps(am())[1:], headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "v"
    _work(settings)
    token, _info = client.app.state.ctx.identity.create_token("vic", "viewer")  # type: ignore[attr-defined]
    reader = {"Authorization": f"Bearer {token}"}  # the webhook token only posts alerts (issue 21)
    listed = client.get("/incidents", headers=reader).json()
    assert len(listed) == 3
    for row in listed:
        shown = client.get(f"/incidents/{row['id']}", headers=reader)
        assert shown.status_code == 200, shown.text
        assert shown.json()["status"] != "open", shown.json()["status"]  # worked to the end, not wedged
        assert shown.json()["triage"] is not None
