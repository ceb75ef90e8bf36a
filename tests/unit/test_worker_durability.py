"""Nothing accepted is lost (issue 14): timers armed with their step, a reaper, dead letters, heartbeats."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from server.app import create_app
from server.worker import Worker, open_worker
from state.alert import parse_alerts
from state.queue import ItemRow, Queue
from state.queue_health import QueueHealth
from state.store import Store
from tests.conftest import DEMO_CASE
from tests.unit.test_worker_queue import drain, group, settings_for


class Killed(BaseException):
    """The worker process dies here (SIGKILL): nothing after this line runs."""


class DiesAfterFinishingAStep(Queue):
    """A queue whose worker dies right after the first item is committed as done."""

    def done(self, item: Any, note: str = "", then: Any = None) -> None:  # type: ignore[override]
        super().done(item, note, then=then) if then is not None else super().done(item, note)
        raise Killed


def test_a_worker_killed_after_finishing_a_step_leaves_its_timer_armed(home: Path) -> None:
    settings = settings_for(home, verify_after_s=0.3)
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    with open_worker(settings, name="doomed", lease_s=0.5) as doomed:
        doomed.queue = DiesAfterFinishingAStep(doomed.store.engine)
        doomed.queue.enqueue_alerts([alert])
        with pytest.raises(Killed):
            doomed.run_once()  # it ran the incident up to the verify timer, finished the item, and died
        incident_id = doomed.store.list()[0]["id"]
        assert doomed.store.get(incident_id)["waiting_until"]
    time.sleep(0.6)  # its lease runs out
    with open_worker(settings, name="next", lease_s=5, poll_s=0.05) as successor:
        drain(successor)
        doc = successor.store.get(incident_id)
    assert doc["status"] == "resolved", doc["status"]  # the timer fired: verified, not left open mid-ladder
    assert doc["attempts"][0]["verified"] is True


def _lose_queued_work(queue: Queue) -> None:
    """What a crash in an older version (or a hand-cleared table) leaves: no item for a waiting incident."""
    with queue._sessions.begin() as session:
        session.execute(update(ItemRow).where(ItemRow.done_at.is_(None)).values(done_at=time.time(), note="lost"))


def test_the_reaper_resumes_an_open_incident_nobody_works_on(home: Path) -> None:
    settings = settings_for(home, verify_after_s=0.2)
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    with open_worker(settings, name="w", lease_s=0.5, poll_s=0.05) as worker:
        worker.queue.enqueue_alerts([alert])
        assert worker.run_once()
        incident_id = worker.store.list()[0]["id"]
        assert worker.store.get(incident_id)["waiting_until"]
        _lose_queued_work(worker.queue)
        time.sleep(0.7)
        drain(worker)  # without a reaper: nothing is due, the incident stays open forever
        assert worker.store.get(incident_id)["status"] == "open"
        assert worker.reap(force=True) == [incident_id]
        assert worker.reap(force=True) == []  # queued once: not idle any more
        drain(worker)
        for _ in range(3):  # the re-armed verify timer, then the hold timer
            time.sleep(0.3)
            drain(worker)
        doc = worker.store.get(incident_id)
    assert doc["status"] == "resolved", doc["status"]


def test_the_reaper_leaves_incidents_waiting_for_a_person_alone(home: Path) -> None:
    settings = settings_for(home, approval_from_rung=1, verify_after_s=0)
    with open_worker(settings, name="w", lease_s=0.2, poll_s=0.05) as worker:
        worker.queue.enqueue_alerts(parse_alerts((DEMO_CASE / "alert.json").read_bytes()))
        drain(worker)
        incident_id = worker.store.list()[0]["id"]
        assert worker.store.get(incident_id)["status"] == "awaiting_approval"
        time.sleep(0.3)
        assert worker.reap(force=True) == []


def test_a_poison_item_is_dead_lettered_and_never_blocks_its_fingerprint(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", "t")
    settings = settings_for(home, verify_after_s=0)
    good = parse_alerts(group(1, "g-poison"))[0]
    store = Store.from_url(settings.db_url)
    queue = Queue(store.engine)
    queue.enqueue(good.dedup_key, "alert", {"alert": {"name": "not an alert"}}, key="poison-1")
    # and an incident an earlier start left without a thread (its checkpoint could not be written)
    store.create_incident("inc-orphan", good.dedup_key, {"status": "open", "alert": good.model_dump(mode="json")})
    queue.enqueue_alerts([good])
    with open_worker(settings, name="w", lease_s=5, poll_s=0.05) as worker:
        drain(worker)
    letters = QueueHealth(store.engine).dead_letters()
    assert len(letters) == 1 and letters[0]["kind"] == "alert"
    assert "ValidationError" in letters[0]["reason"] and letters[0]["worker"] == "w"
    rows = {row["id"]: row for row in store.list()}
    assert rows["inc-orphan"]["status"] == "failed"
    worked = [row for row in rows.values() if row["id"] != "inc-orphan"]
    assert len(worked) == 1 and worked[0]["status"] in ("resolved", "escalated")
    with TestClient(create_app(settings, run_worker=False)) as client:
        token, _info = client.app.state.ctx.identity.create_token("ana", "viewer")  # type: ignore[attr-defined]
        listed = client.get("/dead-letters", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200 and listed.json()[0]["reason"] == letters[0]["reason"]
        assert client.get("/dead-letters").status_code == 401
        assert client.get("/dead-letters", headers={"Authorization": "Bearer t"}).status_code == 403  # webhook's
        text = client.get("/metrics").text
    assert "alertpilot_dead_letters_total 1.0" in text
    assert "alertpilot_queue_depth 0.0" in text


def test_healthz_fails_without_a_live_worker_and_metrics_show_the_queue(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", "t")
    settings = settings_for(home)
    with TestClient(create_app(settings, run_worker=False)) as client:
        down = client.get("/healthz")
        assert down.status_code == 503 and down.json()["status"] == "no live worker"
        client.post("/webhooks/alertmanager", json=group(1, "g-h"), headers={"Authorization": "Bearer t"})
        time.sleep(0.2)
        text = client.get("/metrics").text
        assert "alertpilot_queue_depth 1.0" in text
        age = next(line for line in text.splitlines() if line.startswith("alertpilot_queue_oldest_item_age_seconds"))
        assert float(age.split()[-1]) > 0
        with open_worker(settings, name="w", lease_s=2, poll_s=0.05) as worker:
            worker.beat(force=True)
            up = client.get("/healthz")
            assert up.status_code == 200 and up.json()["workers"]["w"]["live"] is True
            assert 'alertpilot_worker_alive{worker="w"} 1.0' in client.get("/metrics").text
            _expire(worker)
            assert client.get("/healthz").status_code == 503  # its lease passed without a heartbeat


def _expire(worker: Worker) -> None:
    worker.health.beat(worker.name, time.time() - 10, lease_s=1)


def test_an_incident_the_reaper_cannot_resume_is_failed_once_not_reaped_forever(home: Path) -> None:
    settings = settings_for(home, verify_after_s=0.2)
    with open_worker(settings, name="w", lease_s=0.3, poll_s=0.05) as worker:
        worker.queue.enqueue_alerts(parse_alerts((DEMO_CASE / "alert.json").read_bytes()))
        assert worker.run_once()
        incident_id = worker.store.list()[0]["id"]
        _lose_queued_work(worker.queue)
        time.sleep(0.4)

        def broken(_incident_id: str) -> Any:
            raise RuntimeError("checkpoint unreadable")

        worker.runner.waiting_until = lambda _i: None  # type: ignore[method-assign]  # as if it stopped mid-run
        worker.runner.resume = broken  # type: ignore[method-assign]
        assert worker.reap(force=True) == [incident_id]
        drain(worker)
        assert worker.store.get(incident_id)["status"] == "failed"
        assert "checkpoint unreadable" in worker.store.get(incident_id)["escalation_reason"]
        time.sleep(0.4)
        assert worker.reap(force=True) == []  # failed is closed: not reaped again
    assert len(QueueHealth(worker.store.engine).dead_letters()) == 1
