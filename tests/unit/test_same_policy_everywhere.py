"""The same policy under every entry point (issue 14, item 4): one limit, run through each.

``policy.max_actions_per_hour: 1`` and two alerts about the same service, each its own
incident: the first acts, the second is refused by the rate limit, whether the alerts come
through ``alertpilot run``, a queue ``worker``, ``serve``'s webhooks, the voice assistant's
approvals or the eval harness. (Under ``serve``/``worker`` the worker used not to set up the
action log the limit counts: 10 actions in 38 s against a limit of 2.) Every entry point
builds its runner through ``graph.runner.open_runner``/``store_backed`` and its guard facts
through ``tools.guard.context``.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.conftest import DEMO_CASE

TOKEN = "same-policy-token"


def _payloads() -> list[dict[str, Any]]:
    base = json.loads((DEMO_CASE / "alert.json").read_text())
    out = []
    for name in ("one", "two"):
        payload = copy.deepcopy(base)
        payload["groupKey"] += f"/{name}"
        for alert in payload["alerts"]:
            alert["fingerprint"] += f"-{name}"
        out.append(payload)
    return out


def _world(tmp_path: Path) -> Path:
    """The demo world, except that its rollback fails: the first incident's action does not heal the second's signal."""
    world = tmp_path / "world-case"
    if not world.exists():
        shutil.copytree(DEMO_CASE, world)
        spec = yaml.safe_load((world / "world.yaml").read_text())
        spec["effects"]["version_rollback"] = {"fails": True, "detail": "the registry refused the image"}
        (world / "world.yaml").write_text(yaml.safe_dump(spec))
    return world


def _config(tmp_path: Path, **policy: Any) -> Path:
    data = yaml.safe_load((DEMO_CASE / "config.yaml").read_text())
    data.update(world=str(_world(tmp_path)), server={"worker_mode": "thread", "poll_s": 0.05, "lease_s": 5})
    data["policy"] = {**data["policy"], "verify_after_s": 0, "max_actions_per_hour": 1, **policy}
    data["users"] = [*data["users"], {"name": "ana", "rollback_permission": True}]
    path = tmp_path / "alertpilot.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _settings(tmp_path: Path, home: Path, **policy: Any) -> Any:
    from state.config import load_settings

    return load_settings(_config(tmp_path, **policy), home=home)


def _verdicts(docs: list[dict[str, Any]]) -> list[str]:
    """For each incident: 'acted' or the guard's refusal."""
    out = []
    for doc in docs:
        executed = [a for a in doc["attempts"] if a.get("result")]
        out.append("acted" if executed else doc.get("escalation_reason") or doc["status"])
    return out


def _check(docs: list[dict[str, Any]]) -> None:
    first, second = _verdicts(docs)
    assert first == "acted", first
    assert "rate limit" in second and "policy.max_actions_per_hour=1" in second, second


def _ordered(store: Any) -> list[dict[str, Any]]:
    rows = sorted(store.list(limit=10), key=lambda r: r["created_at"])
    return [store.get(r["id"]) for r in rows]


def test_run(tmp_path: Path, home: Path) -> None:
    from cli import app

    config = _config(tmp_path)
    docs = []
    for n, payload in enumerate(_payloads()):
        path = tmp_path / f"alert-{n}.json"
        path.write_text(json.dumps(payload))
        result = CliRunner().invoke(app, ["run", str(path), "--config", str(config), "--json"])
        assert result.exit_code == 0, result.output
        docs.append(json.loads(result.stdout))
    _check(docs)


def test_worker(tmp_path: Path, home: Path) -> None:
    from server.worker import open_worker
    from state.alert import parse_alerts
    from tests.unit.test_worker_queue import drain

    with open_worker(_settings(tmp_path, home), name="w", lease_s=5, poll_s=0.05) as worker:
        for payload in _payloads():
            worker.queue.enqueue_alerts(parse_alerts(payload))
        drain(worker)
        _check(_ordered(worker.store))


def test_serve(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from server.app import create_app
    from state.store import Store

    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", TOKEN)
    settings = _settings(tmp_path, home)
    with TestClient(create_app(settings)) as client:  # with its own worker (a thread here)
        for payload in _payloads():
            answer = client.post("/webhooks/alertmanager", json=payload, headers={"Authorization": f"Bearer {TOKEN}"})
            assert answer.status_code == 200
        store = Store.from_url(settings.db_url)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = store.list()
            if len(rows) == 2 and all(r["status"] in ("resolved", "escalated") for r in rows):
                break
            time.sleep(0.2)
        _check(_ordered(store))


def test_the_assistants_approvals(tmp_path: Path, home: Path) -> None:
    from graph.runner import open_runner
    from server.assistant import Assistant
    from state.alert import parse_alerts

    settings = _settings(tmp_path, home, approval_from_rung=1)
    settings.language = "en"
    ana = settings.user("ana")
    assert ana is not None
    ana.speaker = "voice-ana"  # approvals by voice need a speaker the voiceprint identifies (issue 21)
    with open_runner(settings) as runner:
        ids = [runner.start(parse_alerts(p)[0]).incident_id for p in _payloads()]
        assert all(runner.interrupted(i) for i in ids)  # both wait for a person; the limit is checked on answer
    assistant = Assistant(settings)
    for incident_id in ids:
        asked = assistant.approve_rollback(incident_id, "voice-ana")["response"]
        code = re.search(r"action code is ([0-9a-f ]+)\.", asked)
        assert code is not None, asked
        done = assistant.confirm_rollback(incident_id, code.group(1), "voice-ana")["response"]
        assert done.startswith("Approved, ana."), done
    _check([assistant.store().get(i) for i in ids])


def test_the_eval_harness(tmp_path: Path) -> None:
    from evals.case import load_case
    from evals.episodes import run_case

    case_dir = tmp_path / "two-alerts"
    shutil.copytree(_world(tmp_path), case_dir)
    first, second = _payloads()
    first["alerts"] += second["alerts"]  # one delivery, two alerts about checkout: two investigations
    del first["groupKey"]  # (each joins its own incident by fingerprint)
    (case_dir / "alert.json").write_text(json.dumps(first))
    (case_dir / "config.yaml").write_text(_config(tmp_path).read_text().replace(str(_world(tmp_path)), "."))
    expect = yaml.safe_load((DEMO_CASE / "expect.yaml").read_text())
    entries = [{**expect, "alert": 0}, {k: v for k, v in expect.items() if k not in ("mutations",)} | {"alert": 1}]
    (case_dir / "expect.yaml").write_text(yaml.safe_dump(entries))
    episodes = run_case(load_case(case_dir), None, 0)
    mutating = [[c for c in e.calls if c.mutating] for e in episodes]
    assert [c.tool for c in mutating[0]] == ["version_rollback"]  # it acted (the world refused the image)
    assert [c.status for c in mutating[1]] == ["denied"]
    assert "rate limit" in mutating[1][0].error
