"""Alertmanager groups: each member about its own subject is its own investigation, shown under its group.

One member resolving closes only its own investigation; the last alert of an investigation
resolving closes it even when it was escalated; a later firing starts a new one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agents.deps import Deps
from graph.checkpoint import serializer
from graph.runner import IncidentRunner
from state.alert import parse_alerts
from state.config import load_settings
from state.store import Store
from tests.conftest import DEMO_CASE
from tools.catalog import build_registry, open_world


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[IncidentRunner]:
    settings = load_settings(DEMO_CASE / "config.yaml", home=tmp_path)
    deps = Deps(settings=settings, tools=build_registry(settings, open_world(settings)), sleep=lambda _s: None)
    store = Store.from_url(settings.db_url)
    yield IncidentRunner(deps, store, InMemorySaver(serde=serializer()))
    store.engine.dispose()


def group(*members: dict[str, str], status: str = "firing") -> list:
    """One notification of group ``g1`` whose alerts carry ``members``' labels (fingerprint as given)."""
    payload = json.loads((DEMO_CASE / "alert.json").read_text())
    template = payload["alerts"][0]
    payload |= {"groupKey": "g1", "status": status, "alerts": []}
    for member in members:
        alert = copy.deepcopy(template)
        labels = {k: v for k, v in member.items() if k != "fingerprint"}
        alert |= {"status": status, "labels": {**template["labels"], **labels}, "fingerprint": member["fingerprint"]}
        if status == "resolved":
            alert["endsAt"] = "2026-11-20T04:00:00Z"
        payload["alerts"].append(alert)
    return parse_alerts(payload)


CHECKOUT = {"fingerprint": "fp-checkout", "service": "checkout"}
PAYMENTS_POD = {"fingerprint": "fp-payments-pod", "service": "payments", "pod": "payments-7d9f8b6c5-x2x9k"}
PAYMENTS = {"fingerprint": "fp-payments", "service": "payments"}


def test_members_about_different_subjects_are_investigated_apart_under_one_group(runner: IncidentRunner) -> None:
    results = [runner.start(alert) for alert in group(CHECKOUT, PAYMENTS)]
    assert [r.joined for r in results] == [False, False]
    first, second = (runner.store.get(r.incident_id) for r in results)
    assert first["alert"]["service"] == "checkout" and second["alert"]["service"] == "payments"
    assert first["alert"]["group_key"] == second["alert"]["group_key"] == "g1"  # shown together under their group


def test_one_member_resolving_closes_only_its_own_investigation(runner: IncidentRunner) -> None:
    started = [runner.start(alert) for alert in group(CHECKOUT, PAYMENTS)]
    payments = started[1].incident_id
    assert runner.store.get(payments)["status"] == "escalated"  # nothing known about payments: a person looks
    (resolved,) = group(PAYMENTS, status="resolved")
    assert runner.start(resolved).incident_id == payments
    assert runner.store.get(payments)["status"] == "resolved"  # an escalated incident closes when its alert does
    assert runner.store.get(started[0].incident_id)["status"] == "resolved"  # checkout's own ladder resolved it
    again = runner.start(group(PAYMENTS)[0])
    assert not again.joined and again.incident_id != payments  # a later firing is a new investigation


def test_members_about_one_subject_are_one_investigation_closed_by_its_last_alert(runner: IncidentRunner) -> None:
    a, b = group(PAYMENTS, PAYMENTS | {"fingerprint": "fp-payments-2", "instance": "10.0.0.9:8080"})
    first = runner.start(a)
    assert runner.start(b).incident_id == first.incident_id
    assert runner.state(first.incident_id).firing == ["fp-payments", "fp-payments-2"]
    runner.start(group(PAYMENTS, status="resolved")[0])
    assert runner.store.get(first.incident_id)["status"] == "escalated"  # one of its two alerts still fires
    runner.start(group(PAYMENTS | {"fingerprint": "fp-payments-2"}, status="resolved")[0])
    assert runner.store.get(first.incident_id)["status"] == "resolved"


def test_a_pod_alert_and_a_service_alert_about_one_workload_fold(runner: IncidentRunner) -> None:
    first, second = (runner.start(alert) for alert in group(PAYMENTS, PAYMENTS_POD))
    assert second.joined and second.incident_id == first.incident_id
