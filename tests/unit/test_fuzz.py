"""Property-based fuzzing (issue 14, item 8): no bad input gets a 5xx or a traceback, anywhere.

- hypothesis mutates real payloads of every source (and throws arbitrary JSON at them): the
  parser either refuses with :class:`AlertParseError` naming a field, or returns alerts that
  every store, checkpoint and page can hold;
- hypothesis throws arbitrary bodies at the executor's request parsing and policy;
- schemathesis drives every route of the service's OpenAPI schema (the webhook bodies are
  described in it) in-process, and no answer may be a 5xx.

Example counts are bounded so CI stays fast; the seed is derandomized so a failure reproduces.
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.checkpoint import serializer
from server.app import create_app
from server.executor_app import BadRequest, parse_request, validate_params
from server.executor_policy import ExecutorPolicy, Refusal
from state.alert import AlertParseError, parse_alerts
from state.config import load_settings
from state.incident import IncidentState
from state.queue_health import QueueHealth
from tests.conftest import DEMO_CASE

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
TOKEN = "fuzz-token"
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

SAMPLES = {
    "alertmanager": json.loads((DEMO_CASE / "alert.json").read_text()),
    "tencent": json.loads((REFERENCE / "tencent-metric-alarm.json").read_text()),
    "generic": {"name": "HighErrorRate", "service": "checkout", "namespace": "shop", "severity": "critical",
                "condition": {"metric": "err", "threshold": 5, "current": 9}},
    "cls": {"alarm": "ErrorBurst", "alarm_id": "a-1", "topic_id": "t-1", "notify_type": "1",
            "start_time_unix": "1763608200", "labels": {"service": "checkout"}},
}  # fmt: skip

NASTY_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "NaN", "-Infinity", "1e400", "", "1" * 30]),
)
JSON = st.recursive(
    NASTY_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*prefix, index))
    return out


@st.composite
def mutated(draw: st.DrawFn, source: str) -> bytes:
    """A real payload of ``source`` with one to three fields replaced by nasty values."""
    payload = copy.deepcopy(SAMPLES[source])
    paths = _paths(payload)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths))
        target: Any = payload
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = draw(JSON)
        except (KeyError, IndexError, TypeError):
            continue
    return json.dumps(payload, allow_nan=True).encode()


def _holds(body: bytes, source: str) -> None:
    try:
        alerts = parse_alerts(body, source)
    except AlertParseError as exc:
        assert exc.field and "\n" not in str(exc)
        return
    serde = serializer()
    for alert in alerts:
        json.dumps(alert.model_dump(mode="json"), allow_nan=False)  # the API can show it
        state = IncidentState(incident_id="inc-fuzz", alert=alert)
        serde.loads_typed(serde.dumps_typed(state.model_dump()))  # a checkpoint can hold it
        assert len(alert.dedup_key) <= 200 and len(alert.name) <= 256  # the store's columns can


@pytest.mark.parametrize("source", sorted(SAMPLES))
def test_mutated_payloads_are_refused_by_field_or_held_whole(source: str) -> None:
    @FUZZ
    @given(body=mutated(source))
    def check(body: bytes) -> None:
        _holds(body, source)

    check()


@FUZZ
@given(value=JSON)
def test_arbitrary_json_is_refused_by_field_or_held_whole(value: Any) -> None:
    _holds(json.dumps(value, allow_nan=True).encode(), "auto")


@FUZZ
@given(raw=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v, allow_nan=True).encode()))
def test_arbitrary_bytes_are_refused_by_field(raw: bytes) -> None:
    _holds(raw, "auto")


@FUZZ
@given(
    method=st.sampled_from(["scale", "restart", "version_rollback", "isolate"]) | st.text(max_size=8),
    params=st.dictionaries(
        st.sampled_from(["service", "namespace", "replicas", "delta", "target", "revision", "undo", "x"]), JSON
    ),
)
def test_the_executor_refuses_bad_requests_by_field(method: str, params: dict[str, Any]) -> None:
    raw = json.dumps({"method": method, "params": json.dumps(params, allow_nan=True)}, allow_nan=True).encode()
    policy = ExecutorPolicy(allowed_namespaces=frozenset({"shop"}), default_namespace="shop")
    try:
        name, decoded = parse_request(raw)
        admitted = policy.admit(name, validate_params(decoded, name), lambda _s, _n: 3)
    except (BadRequest, Refusal) as exc:
        assert exc.field
        return
    replicas = admitted.get("replicas")
    assert replicas is None or admitted.get("undo") or 1 <= replicas <= 50  # never outside the executor's bounds


# ---------------------------------------------------------------------- schemathesis over the service


@pytest.fixture
def service_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    for key in [k for k in os.environ if k.startswith("ALERTPILOT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", TOKEN)
    app = create_app(load_settings(DEMO_CASE / "config.yaml", home=tmp_path / "home"), run_worker=False)
    with TestClient(app):  # runs the lifespan: the store, the queue, the metrics
        # a live worker's heartbeat, so /healthz answers 200 (its 503 without one is the point elsewhere)
        QueueHealth(app.state.ctx.store.engine).beat("fuzz-worker", time.time(), lease_s=3600)
        yield app


def test_no_route_answers_a_5xx(service_app: FastAPI) -> None:
    """Every operation of the OpenAPI schema, with schemathesis's generated cases (authenticated)."""
    from schemathesis.checks import not_a_server_error

    api = schemathesis.openapi.from_asgi("/openapi.json", service_app)
    operations = [result.ok() for result in api.get_all_operations()]
    labels = {f"{op.method.upper()} {op.path}" for op in operations}
    assert {"POST /webhooks/alertmanager", "POST /webhooks/generic", "GET /incidents/{incident_id}"} <= labels
    for operation in operations:

        @settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
            case.validate_response(response, checks=[not_a_server_error])

        call()
