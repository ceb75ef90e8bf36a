"""Versions from any telemetry: the subject's version history found wherever its metrics show it.

Each world below shows the same history (v1.4.0 for a day, then v1.5.0 an hour before the
alert) through one source only; discovery must find it there and only for the subject
(``cart``, not ``cart-worker`` whose pods share the prefix).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest

from agents.versions import VersionHistory, VersionRun, discover, history_from_audit, runs_of
from state.subject import Subject, image_tag, version_of
from tools.metrics import WorldMetrics, metrics_tools
from tools.registry import ToolRegistry, ToolSession
from tools.world import SimClock, World, WorldSpec

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
CART = Subject(kind="workload", name="cart", namespace="shop", workload_kind="Deployment", container="cart")
RELEASES = [{"version": "v1.4.0", "deployed_at": "2026-11-19T01:00:00Z"},
            {"version": "v1.5.0", "deployed_at": "2026-11-20T02:00:00Z"}]  # fmt: skip
NEIGHBOUR = {
    "name": "cart-worker",
    "namespace": "shop",
    "image": "registry/shop/cart-worker",
    "releases": [{"version": "v9.9.9", "deployed_at": "2026-11-18T00:00:00Z"}],
}


def world(tmp_path: Path, **cart: Any) -> ToolSession:
    spec = WorldSpec.model_validate({"workloads": [{"name": "cart", "namespace": "shop", "releases": RELEASES, **cart},
                                                   NEIGHBOUR | {"versions": []}]})  # fmt: skip
    w = World(spec, tmp_path / "state.json", clock=SimClock(NOW))
    return ToolSession(ToolRegistry(metrics_tools(WorldMetrics(w))), agent="diagnosis")


def found(session: ToolSession) -> VersionHistory:
    return discover(session, CART, "build_info", NOW - timedelta(hours=24), NOW)


@pytest.mark.parametrize(
    ("cart", "source"),
    [
        ({}, "build_info by service"),
        ({"versions": [{"metric": "app_info", "labels": {"application": "cart", "namespace": "shop"},
                        "per_pod": False}]}, "app_info (a version label)"),
        ({"versions": [{"metric": "target_info", "label": "service_version",
                        "labels": {"service_name": "cart", "k8s_namespace_name": "shop"}, "per_pod": False}]},
         "target_info (a version label)"),
        ({"versions": [], "image": "registry/shop/cart"}, "kube_pod_container_info (image tag)"),
    ],
)  # fmt: skip
def test_the_version_history_from_each_kind_of_telemetry(tmp_path: Path, cart: dict[str, Any], source: str) -> None:
    history = found(world(tmp_path, **cart))
    assert history.source == source
    assert [(c.previous, c.version) for c in history.changes()] == [("v1.4.0", "v1.5.0")]
    assert "v9.9.9" not in {r.version for r in history.runs}  # cart-worker's pods match cart-.*, not cart's owner


def test_no_telemetry_of_the_version_is_an_empty_history(tmp_path: Path) -> None:
    assert found(world(tmp_path, versions=[])).runs == []


def test_a_version_that_comes_back_is_a_change_again_and_pods_of_one_version_are_one_run() -> None:
    def series(version: str, *spans: range, pod: str = "cart-6d9f7c8b5-x2k4p") -> dict[str, Any]:
        return {"metric": {"version": version, "pod": pod}, "values": [[t, "1"] for span in spans for t in span]}

    runs = runs_of([
        series("A", range(0, 900, 60), range(1200, 1500, 60)),
        series("A", range(0, 900, 60), pod="cart-6d9f7c8b5-m4qzt"),
        series("B", range(900, 1200, 60)),
    ])  # fmt: skip
    assert [r.version for r in runs] == ["A", "B", "A"]


def test_versions_are_read_from_version_and_image_labels() -> None:
    assert version_of({"version": "v2.1"}) == ("v2.1", "version")
    assert version_of({"image": "registry:5000/shop/cart:v3.1.0@sha256:abc"}) == ("v3.1.0", "image")
    assert version_of({"image": "cart:latest"}) is None and image_tag("cart") is None
    assert version_of({"service_version": "2.11.0"}) == ("2.11.0", "service_version")


def test_audited_image_changes_give_a_history_with_the_previous_image() -> None:
    history = history_from_audit(
        [{"when": "2026-11-20T02:00:00Z", "change": "image registry/cart:v1.4.0 → registry/cart:v1.5.0"}], NOW
    )
    assert [(c.previous, c.version) for c in history.changes()] == [("v1.4.0", "v1.5.0")]
    assert history.runs[-1] == VersionRun("v1.5.0", datetime(2026, 11, 20, 2, tzinfo=UTC), NOW)


def test_versions_on_the_alerts_own_series_come_first(tmp_path: Path) -> None:
    # an OTLP-fed Prometheus promoting service.version onto every series; no *_info metric, no image
    from agents.diagnosis import investigate
    from state.alert import parse_alertmanager

    expr = 'sum by (service_name, service_version) (app_error_ratio{service_name="cart"}) > 0.05'
    series = {"metric": "app_error_ratio", "signal": "errors", "labels": {"service_name": "cart"},
              "version_label": "service_version"}  # fmt: skip
    session = world(tmp_path, versions=[], series=[series], signals={"errors": {"default": 0.002, "v1.5.0": 0.2}})
    starts = (NOW - timedelta(minutes=40)).isoformat().replace("+00:00", "Z")
    url = "http://prometheus:9090/graph?g0.expr=" + quote_plus(expr)
    labels = {"alertname": "CartErrors", "service_name": "cart", "service_version": "v1.5.0", "severity": "critical"}
    payload = {"status": "firing", "alerts": [{"status": "firing", "labels": labels, "annotations": {},
               "startsAt": starts, "generatorURL": url, "fingerprint": "a1"}]}  # fmt: skip
    alert = parse_alertmanager(payload)[0]
    diagnosis, _ = investigate(session, alert, "build_info", NOW)
    assert diagnosis.version_source == "the alert's own series (a version label)"
    assert (diagnosis.pattern, diagnosis.suspected_release, diagnosis.known_good_release) == (
        "release", "v1.5.0", "v1.4.0",
    )  # fmt: skip
