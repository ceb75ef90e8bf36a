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
