"""The executor service: exactly the protocol of shared/reference/executor-protocol.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.audit_log import verify
from server.executor_app import build_service, create_app
from tools.executor import ProcessExecutor
from tools.world import load_world

CASE = Path(__file__).resolve().parents[1].parent / "evals" / "cases" / "checkout-bad-release"
SEED = {"method": "version_rollback", "params": '{"target":"v2.1"}'}
TOKEN = "s3cret-token"


@pytest.fixture
def world_and_client(tmp_path: Path):
    world = load_world(CASE, tmp_path)
    service = build_service(ProcessExecutor(world), "process", TOKEN, tmp_path, None)
    with TestClient(create_app(service)) as client:
        yield world, client, service


def test_seed_request_rolls_back_and_answers_success(world_and_client) -> None:
    world, client, service = world_and_client
    response = client.post("/mcp", json=SEED, headers={"X-Auth-Token": TOKEN})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["detail"] == "Rollback to v2.1 completed"
    assert body["error"] == ""
    assert isinstance(body["execution_time"], float)
    assert world.state().version == "v2.1"
    record = json.loads(service.audit.path.read_text().splitlines()[-1])
    assert (record["operation"], record["params"], record["status"]) == (
        "version_rollback",
        {"target": "v2.1"},
        "success",
    )


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "wrong"}, {"X-Auth-Token": ""}])
def test_missing_or_wrong_token_is_401_and_nothing_happens(world_and_client, headers) -> None:
    world, client, _ = world_and_client
    response = client.post("/mcp", json=SEED, headers=headers)
    assert response.status_code == 401
    assert response.json()["field"] == "X-Auth-Token"
    assert world.state().version == "v2.2"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "version_rollback", "params": {"target": "v2.1"}}, "params"),  # object, not a JSON string
        ({"method": "version_rollback", "params": "target=v2.1"}, "params"),  # not JSON
        ({"method": "version_rollback", "params": "[1, 2]"}, "params"),  # JSON, not an object
        ({"params": "{}"}, "method"),
        ({"method": "version_rollback", "params": '{"revision": 0}'}, "params.revision"),
        ({"method": "version_rollback", "params": '{"rm": "-rf"}'}, "params.rm"),
        ({"method": "scale", "args": "{}"}, "args"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(world_and_client, body, field) -> None:
    world, client, _ = world_and_client
    response = client.post("/mcp", json=body, headers={"X-Auth-Token": TOKEN})
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["error"].startswith(field + ":")
    assert world.state().operations == []


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b""])
def test_malformed_body_is_400(world_and_client, raw) -> None:
    _, client, _ = world_and_client
    response = client.post("/mcp", content=raw, headers={"X-Auth-Token": TOKEN, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["field"] == "body"


def test_unknown_method_is_404(world_and_client) -> None:
    _, client, _ = world_and_client
    response = client.post("/mcp", json={"method": "delete_namespace", "params": "{\"namespace\":\"prod\"}"},
                           headers={"X-Auth-Token": TOKEN})  # fmt: skip
    assert response.status_code == 404
    assert "unknown method 'delete_namespace'" in response.json()["error"]


def test_repeated_idempotency_key_acts_once_and_returns_the_first_answer(world_and_client) -> None:
    world, client, service = world_and_client
    headers = {"X-Auth-Token": TOKEN, "Idempotency-Key": "inc-1:1"}
    first = client.post("/mcp", json={"method": "scale", "params": '{"delta": 2}'}, headers=headers)
    second = client.post("/mcp", json={"method": "scale", "params": '{"delta": 2}'}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert world.state().replicas == 5  # 3 + 2, once
    assert len(world.state().operations) == 1
    reused = client.post("/mcp", json={"method": "restart", "params": "{}"}, headers=headers)
    assert reused.status_code == 409
    records = [json.loads(line) for line in service.audit.path.read_text().splitlines()]
    assert [r["replayed"] for r in records] == [False, True]


def test_idempotency_keys_survive_a_restart_of_the_service(tmp_path: Path) -> None:
    world = load_world(CASE, tmp_path)
    for _ in range(2):  # two service lifetimes over the same home
        service = build_service(ProcessExecutor(world), "process", TOKEN, tmp_path, None)
        with TestClient(create_app(service)) as client:
            response = client.post("/mcp", json=SEED, headers={"X-Auth-Token": TOKEN, "Idempotency-Key": "inc-9:1"})
            assert response.json()["status"] == "success"
        service.idempotency.close()
    assert len(world.state().operations) == 1
    assert verify(tmp_path / "audit.jsonl").ok


def test_backend_failure_is_200_with_status_error(world_and_client) -> None:
    world, client, _ = world_and_client
    response = client.post("/mcp", json={"method": "version_rollback", "params": "{\"target\":\"v9\"}"},
                           headers={"X-Auth-Token": TOKEN})  # fmt: skip
    assert response.status_code == 200
    assert response.json()["status"] == "error"
    assert response.json()["error"] == "target 'v9' was never deployed"


# issue 14: the executor enforces its own policy, whatever the agent (or its guard) decided
def _scale(client: TestClient, key: str | None = None, **params: object):
    headers = {"X-Auth-Token": TOKEN, **({"Idempotency-Key": key} if key else {})}
    return client.post("/mcp", json={"method": "scale", "params": json.dumps({"service": "checkout", **params})},
                       headers=headers)  # fmt: skip


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"replicas": 0}, "params.replicas"),  # the guard bypass of issue 14: a service scaled to 0
        ({"delta": -3}, "params.replicas"),  # 3 replicas - 3 = 0, however it is expressed
        ({"delta": -10}, "params.replicas"),
        ({"replicas": 500}, "params.replicas"),
        ({"replicas": 2, "delta": 1}, "params.delta"),
    ],
)
def test_a_scale_outside_the_executors_bounds_is_refused_and_nothing_changes(world_and_client, params, field) -> None:
    world, client, service = world_and_client
    response = _scale(client, **params)
    assert response.status_code == 403, response.text
    assert response.json()["field"] == field
    assert world.state().replicas == 3
    record = json.loads(service.audit.path.read_text().splitlines()[-1])
    assert record["status"] == "refused"


def test_a_scale_within_bounds_acts_and_a_delta_is_made_absolute(world_and_client) -> None:
    world, client, _ = world_and_client
    response = _scale(client, key="inc-1:2", delta=-2)
    assert response.status_code == 200 and response.json()["status"] == "success", response.text
    assert world.state().replicas == 1  # the floor itself is allowed
    assert _scale(client, key="inc-1:2", delta=-2).json()["status"] == "success"  # the key replays, acts once
    assert world.state().replicas == 1


def test_namespaces_and_operations_outside_the_executors_policy_are_refused(tmp_path: Path) -> None:
    from server.executor_policy import ExecutorPolicy

    world = load_world(CASE, tmp_path)
    policy = ExecutorPolicy(operations=frozenset({"restart", "scale"}), allowed_namespaces=frozenset({"shop"}))
    service = build_service(ProcessExecutor(world), "process", TOKEN, tmp_path, None, policy)
    with TestClient(create_app(service)) as client:
        other = client.post("/mcp", json={"method": "restart", "params": '{"service":"checkout","namespace":"kube-system"}'},
                            headers={"X-Auth-Token": TOKEN})  # fmt: skip
        assert other.status_code == 403 and other.json()["field"] == "params.namespace"
        rollback = client.post("/mcp", json=SEED, headers={"X-Auth-Token": TOKEN})
        assert rollback.status_code == 403 and rollback.json()["field"] == "method"
        assert world.state().version != "v2.1"
        ok = client.post("/mcp", json={"method": "restart", "params": '{"service":"checkout","namespace":"shop"}'},
                         headers={"X-Auth-Token": TOKEN})  # fmt: skip
        assert ok.status_code == 200 and ok.json()["status"] == "success"


def test_deeply_nested_params_are_400_not_500(world_and_client) -> None:
    _, client, _ = world_and_client
    deep = "[" * 20_000 + "]" * 20_000  # under the 64 KiB body limit, deeper than any parser stack
    response = client.post("/mcp", json={"method": "scale", "params": deep}, headers={"X-Auth-Token": TOKEN})
    assert response.status_code == 400 and response.json()["field"] == "params"
    body = '{"method": "scale", "params": ' + "[" * 20_000 + "]" * 20_000 + "}"
    response = client.post("/mcp", content=body.encode(), headers={"X-Auth-Token": TOKEN})
    assert response.status_code == 400


def test_params_of_another_operation_are_refused_not_ignored(world_and_client) -> None:
    world, client, _ = world_and_client
    body = {"method": "restart", "params": '{"service":"checkout","replicas":0}'}
    response = client.post("/mcp", json=body, headers={"X-Auth-Token": TOKEN})
    assert response.status_code == 400 and response.json()["field"] == "params.replicas"
    assert world.state().operations == []
