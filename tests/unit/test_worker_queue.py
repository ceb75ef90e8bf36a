"""The durable queue and the worker: storms fold, timers wait durably, leases recover, approvals apply."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.worker import Worker, open_worker
from state.alert import parse_alerts
from state.config import Settings, UserConfig, load_settings
from state.queue import Queue
from state.store import Store
from tests.conftest import DEMO_CASE


def settings_for(home: Path, **policy: object) -> Settings:
    settings = load_settings(DEMO_CASE / "config.yaml", home=home)
    settings.users.append(UserConfig(name="ana", rollback_permission=True))
    for key, value in policy.items():
        setattr(settings.policy, key, value)
    return settings


@pytest.fixture
def worker(home: Path) -> Iterator[Worker]:
    with open_worker(settings_for(home), name="w1", lease_s=5, poll_s=0.05) as w:
        yield w


def group(n_alerts: int, key: str, status: str = "firing") -> dict:
    payload = json.loads((DEMO_CASE / "alert.json").read_text())
    template = payload["alerts"][0]
    payload["groupKey"] = key
    payload["status"] = status
    payload["alerts"] = []
    for i in range(n_alerts):
        alert = copy.deepcopy(template)
        alert["status"] = status
        alert["labels"] = {**alert["labels"], "pod": f"checkout-{i}"}
        alert["fingerprint"] = f"{key}-{i}"
        if status == "resolved":
            alert["endsAt"] = "2026-11-20T04:00:00Z"
        payload["alerts"].append(alert)
    return payload


def drain(worker: Worker, seconds: float = 20.0) -> None:
    """Run the worker until nothing has been due for a short while (bounded)."""
    deadline = time.monotonic() + seconds
    idle_since = None
    while time.monotonic() < deadline:
        if worker.run_once():
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since > 0.6:
            return
        time.sleep(0.05)
    raise AssertionError("worker did not go idle")


def test_a_storm_of_500_alerts_in_5_groups_makes_5_incidents(worker: Worker) -> None:
    for g in range(5):
        for half in (0, 1):  # each group arrives in two notifications of 50
            alerts = parse_alerts(group(100, f"storm-{g}"))[half * 50 : (half + 1) * 50]
            worker.queue.enqueue_alerts(alerts)
    drain(worker)
    incidents = worker.store.list(limit=50)
    assert len(incidents) == 5
    docs = [worker.store.get(row["id"]) for row in incidents]
    assert sum(doc["alerts_seen"] for doc in docs) == 500
    assert worker.queue.counts()["pending"] == 0


def test_the_verify_and_hold_waits_are_durable_timers_any_worker_resumes(home: Path) -> None:
    settings = settings_for(home, verify_after_s=1.5)
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    with open_worker(settings, name="first", lease_s=5) as first:
        first.queue.enqueue_alerts([alert])
        assert first.run_once()
        incident_id = first.store.list()[0]["id"]
        doc = first.store.get(incident_id)
        assert doc["status"] == "open" and doc["waiting_until"]  # released while waiting, no thread held
        assert first.queue.counts()["leased_lanes"] == 0
        assert not first.run_once()  # the timer is not due yet
    time.sleep(1.6)
    with open_worker(settings, name="second", lease_s=5) as second:
        assert second.run_once()  # the first check: cleared, so a second timer holds it before it counts
        doc = second.store.get(incident_id)
        assert doc["status"] == "open" and doc["waiting_until"]
        assert doc["attempts"][0]["outcome"] == "holding"
    time.sleep(1.6)
    with open_worker(settings, name="third", lease_s=5) as third:
        assert third.run_once()
        doc = third.store.get(incident_id)
    assert doc["status"] == "resolved"
    assert doc["attempts"][0]["verified"] is True
    workers = [a["actor"] for a in Store.from_url(settings.db_url).audit_trail(incident_id) if a["kind"] == "worker"]
    assert workers == ["first", "second", "third"]


def test_a_resolved_notification_stops_a_waiting_ladder(home: Path) -> None:
    settings = settings_for(home, verify_after_s=60)
    with open_worker(settings, name="w", lease_s=5) as w:
        w.queue.enqueue_alerts(parse_alerts(group(1, "g-resolve")))
        assert w.run_once()
        incident_id = w.store.list()[0]["id"]
        assert w.store.get(incident_id)["waiting_until"]
        w.queue.enqueue_alerts(parse_alerts(group(1, "g-resolve", status="resolved")))
        assert w.run_once()
        doc = w.store.get(incident_id)
    assert doc["status"] == "resolved"
    assert doc["alert"]["status"] == "resolved"
    assert "waiting_until" not in doc
    assert any("resolved while the ladder waited" in d["summary"] for d in doc["decisions"])


def test_a_dead_workers_lane_is_reclaimed_after_its_lease_and_resumed(home: Path) -> None:
    settings = settings_for(home)
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    queue = Queue(Store.from_url(settings.db_url).engine)
    queue.enqueue_alerts([alert])
    dead = queue.claim("dead-worker", lease_s=0.5)  # claims, then never renews or releases
    assert dead is not None
    with open_worker(settings, name="rescuer", lease_s=5) as rescuer:
        assert not rescuer.run_once()  # the lease still holds
        time.sleep(0.6)
        assert rescuer.run_once()
        drain(rescuer)
        doc = rescuer.store.get(rescuer.store.list()[0]["id"])
    assert doc["status"] == "resolved"
    assert not queue.heartbeat(dead, 5)  # the dead holder cannot renew a lane it lost


API = {"credential": "token:test", "source": "api"}


def test_an_approval_queued_by_the_api_is_applied_by_a_worker(home: Path) -> None:
    from server.context import ServiceContext, queue_decision
    from server.decisions import Conflict

    settings = settings_for(home, approval_from_rung=3, verify_after_s=0)
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    with open_worker(settings, name="w", lease_s=5) as w:
        w.queue.enqueue_alerts([alert])
        drain(w)
        incident_id = w.store.list()[0]["id"]
        assert w.store.get(incident_id)["status"] == "awaiting_approval"
        ctx = ServiceContext(settings, w.store, w.queue, None, "t", None)  # type: ignore[arg-type]
        assert queue_decision(ctx, incident_id, approved=True, by="ana", reason="", **API)["queued"]
        with pytest.raises(Conflict, match="already answered"):  # the second answer loses (HTTP 409)
            queue_decision(ctx, incident_id, approved=False, by="ana", reason="changed my mind", **API)
        drain(w)
        doc = w.store.get(incident_id)
    assert doc["status"] == "resolved"
    assert any(d["summary"] == "approved by ana" for d in doc["decisions"])


def test_an_approval_by_a_user_without_rollback_permission_is_refused_and_not_queued(home: Path) -> None:
    from server.context import ServiceContext, queue_decision

    settings = settings_for(home, approval_from_rung=3, verify_after_s=0)
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    with open_worker(settings, name="w", lease_s=5) as w:
        w.queue.enqueue_alerts([alert])
        drain(w)
        incident_id = w.store.list()[0]["id"]
        ctx = ServiceContext(settings, w.store, w.queue, None, "t", None)  # type: ignore[arg-type]
        with pytest.raises(PermissionError, match="bob"):
            queue_decision(ctx, incident_id, approved=True, by="bob", reason="", **API)
        drain(w)
        assert w.store.get(incident_id)["status"] == "awaiting_approval"
        # Anyone on the page may still stop a rollback.
        assert queue_decision(ctx, incident_id, approved=False, by="bob", reason="not now", **API)["queued"]
        drain(w)
        assert w.store.get(incident_id)["status"] == "escalated"
