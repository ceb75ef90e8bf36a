"""The world's own PromQL evaluator: the operators public rules lean on behave as Prometheus' do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tools.world import World, WorldSpec

T0 = datetime(2026, 11, 8, 3, 0, tzinfo=UTC)


def _world(tmp_path: Path) -> World:
    def workload(name: str, namespace: str, value: object, replicas: int) -> dict[str, object]:
        return {
            "name": name,
            "namespace": namespace,
            "replicas": replicas,
            "versions": [],
            "releases": [{"version": "v1", "deployed_at": (T0 - timedelta(hours=2)).isoformat()}],
            "signals": {"mem": {"default": value}},
            "series": [{"metric": "mem_bytes", "signal": "mem", "per_pod": True}],
        }

    spec = WorldSpec.model_validate(
        {
            "workloads": [
                workload("cart", "shop", {"start": 100, "slope_per_h": 60}, 1),
                workload("ledger", "pay", 50, 3),
            ]
        }
    )
    return World(spec, tmp_path / "state.json", clock=lambda: T0)


def test_topk_by_keeps_the_top_series_of_each_group(tmp_path: Path) -> None:
    world = _world(tmp_path)
    answer = world.instant("topk by (namespace) (1, mem_bytes)")
    assert sorted(entry["metric"]["namespace"] for entry in answer) == ["pay", "shop"]
    assert len(world.instant("topk(1, mem_bytes)")) == 1


def test_predict_linear_extrapolates_the_least_squares_trend(tmp_path: Path) -> None:
    world = _world(tmp_path)
    (leak,) = world.instant('predict_linear(mem_bytes{namespace="shop"}[1h], 3600)')
    assert float(leak["value"][1]) == pytest.approx(100 + 60 * 2 + 60)  # now 220, climbing 60 an hour
    flat = world.instant('predict_linear(mem_bytes{namespace="pay"}[1h], 4 * 60 * 60) < 0')
    assert flat == []  # a level that does not fall is never predicted to run out


def _kubelet_world(tmp_path: Path) -> World:
    kubelet = {"instance": "10.0.7.14:10250", "job": "kubelet"}
    spec = WorldSpec.model_validate(
        {
            "workloads": [
                {
                    "name": "kubelet",
                    "versions": [],
                    "releases": [{"version": "v1", "deployed_at": (T0 - timedelta(hours=2)).isoformat()}],
                    "signals": {"pods": {"default": 106}, "one": {"default": 1}, "half": {"default": 2.5}},
                    "series": [
                        {"metric": "kubelet_running_pods", "signal": "pods", "labels": kubelet},
                        {"metric": "kubelet_node_name", "signal": "one", "labels": kubelet | {"node": "ip-10-0-7-14"}},
                        {"metric": "half", "signal": "half", "labels": {"instance": "10.0.7.14:10250"}},
                    ],
                }
            ]
        }
    )
    return World(spec, tmp_path / "state.json", clock=lambda: T0)


def test_group_left_copies_the_listed_labels_and_one_to_one_on_keeps_only_its_own(tmp_path: Path) -> None:
    world = _kubelet_world(tmp_path)
    (joined,) = world.instant("kubelet_running_pods * on (instance) group_left (node) kubelet_node_name")
    assert joined["metric"] == {"instance": "10.0.7.14:10250", "job": "kubelet", "namespace": "default"} | {
        "node": "ip-10-0-7-14"
    }
    (ratio,) = world.instant("kubelet_running_pods / on (instance) kubelet_node_name")
    assert ratio["metric"] == {"instance": "10.0.7.14:10250"} and float(ratio["value"][1]) == 106
    (kept,) = world.instant("kubelet_running_pods / ignoring (node) kubelet_node_name")
    assert kept["metric"] == {"instance": "10.0.7.14:10250", "job": "kubelet", "namespace": "default"}


def test_round_goes_half_up_to_a_multiple_of_its_second_argument(tmp_path: Path) -> None:
    world = _kubelet_world(tmp_path)
    assert float(world.instant("round(half)")[0]["value"][1]) == 3  # Prometheus rounds 2.5 up, not to even
    assert float(world.instant("round(kubelet_running_pods / 110, 0.1)")[0]["value"][1]) == pytest.approx(1.0)
    assert float(world.instant("round(kubelet_running_pods / 110, 0.01)")[0]["value"][1]) == pytest.approx(0.96)
