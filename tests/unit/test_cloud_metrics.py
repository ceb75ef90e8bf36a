"""TKE's Cloud Monitor metrics as PromQL at the documented level: a pod's worst, a workload's sum, a node's own.

The values are checked by evaluating each expression over a world of raw cAdvisor and
node-exporter series (tools/world_promql.py), not by comparing query text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.cloud_metrics import equivalents
from state.subject import Subject
from tools.world import SimClock, World, WorldSpec

NOW = datetime(2026, 12, 14, 6, 30, tzinfo=UTC)
RANKER = Subject(kind="workload", name="search-ranker", namespace="search", workload_kind="Deployment")
PODS = [f"search-ranker-6f7d8c9b5d-{s}" for s in ("k2x8p", "m4qzt", "p9w2r", "t5v7n")]


def world(tmp_path: Path) -> World:
    # four pods of search-ranker at 0.75 cores each (2700 CPU-seconds an hour), 512 MiB working set each;
    # a neighbour whose name shares the prefix must not be counted
    cpu = {"metric": "container_cpu_usage_seconds_total", "signal": "cpu_s", "per_pod": True,
           "labels": {"job": "kubelet", "metrics_path": "/metrics/cadvisor"}}  # fmt: skip
    wss = {"metric": "container_memory_working_set_bytes", "signal": "wss", "per_pod": True, "scale": 1048576}
    ranker = {
        "name": "search-ranker", "namespace": "search", "replicas": 4, "pods": PODS,
        "releases": [{"version": "v4.1.3", "deployed_at": "2026-12-14T03:00:00Z"}],
        "signals": {"cpu_s": {"default": {"start": 0, "slope_per_h": 2700}}, "wss": {"default": 512}},
        "series": [cpu, wss],
    }  # fmt: skip
    canary = ranker | {"name": "search-ranker-canary", "replicas": 1, "pods": ["search-ranker-canary-5c6d7f8b9-x1y2z"]}
    # a TKE node is named by its private IP; node-exporter reports it as instance IP:9100
    node = {"name": "172.19.0.34", "signals": {"avail": {"default": 0.3}, "total": {"default": 1.0}},
            "series": [{"metric": "node_memory_MemAvailable_bytes", "signal": "avail", "scale": 1e9,
                        "labels": {"instance": "172.19.0.34:9100"}},
                       {"metric": "node_memory_MemTotal_bytes", "signal": "total", "scale": 1e9,
                        "labels": {"instance": "172.19.0.34:9100"}}]}  # fmt: skip
    spec = WorldSpec.model_validate({"workloads": [ranker, canary], "nodes": [node]})
    return World(spec, tmp_path / "state.json", clock=SimClock(NOW))


def value(w: World, query: str) -> float:
    answer = w.instant(query)
    assert answer, f"no answer for {query}"
    return float(answer[0]["value"][1])


def test_a_workload_metric_is_the_sum_over_its_own_pods(tmp_path: Path) -> None:
    w = world(tmp_path)
    [query] = equivalents("K8sWorkloadCpuCoreUsed", RANKER)
    assert value(w, query) == pytest.approx(3.0, rel=0.02)  # 4 x 0.75 cores, the canary's pod not among them


def test_a_pod_metric_is_the_worst_pod_not_the_sum(tmp_path: Path) -> None:
    w = world(tmp_path)
    [query] = equivalents("k8s_pod_cpu_core_used", RANKER)
    assert value(w, query) == pytest.approx(0.75, rel=0.02)


def test_memory_metrics_keep_the_documented_unit_of_megabytes(tmp_path: Path) -> None:
    w = world(tmp_path)
    assert value(w, equivalents("K8sWorkloadMemNoCacheBytes", RANKER)[0]) == pytest.approx(4 * 512)
    # usage is not scraped here: the working set stands for it
    usage = equivalents("K8sPodMemUsageBytes", RANKER)
    assert len(usage) == 2 and value(w, usage[1]) == pytest.approx(512)


def test_a_node_metric_reads_node_exporter_for_that_node(tmp_path: Path) -> None:
    w = world(tmp_path)
    node = Subject(kind="node", name="172.19.0.34", node="172.19.0.34")
    assert value(w, equivalents("K8sNodeMemUsage", node)[0]) == pytest.approx(70.0)
    assert equivalents("K8sNodeMemUsage", RANKER) == []  # a workload names no node


def test_unknown_metrics_and_subjects_without_a_workload_have_no_equivalent() -> None:
    assert equivalents("K8sWorkloadAbnormal", RANKER) == []
    assert equivalents("K8sWorkloadCpuCoreUsed", Subject(kind="cluster", name="cls-7m2q9x4k")) == []
