"""The prometheus world writes the series behind whole public alerting rules (set operators, joins, gates).

synthesize checks each written rule with the evaluator: the main branch answers the
signal, the whole rule answers it while it fires and nothing while it does not; a
rule whose series cannot be made to behave so is refused with the reason. These tests
pin what is written (the gates, the empty mutes, a base read from the world) and the
refusals; tests/integration/test_prometheus_world.py asks a real Prometheus.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evals.openmetrics import LEAD, UnsupportedQuery, synthesize
from tests import public_rules as rules
from tools.world import WorldSpec

T0 = datetime(2026, 11, 8, 3, 0, tzinfo=UTC)
RELEASE = T0 - timedelta(minutes=20)


def _workload(name: str, query: dict[str, Any], values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "shop",
        "image": f"registry.example.com/shop/{name}",
        "versions": [],
        "releases": _releases(),
        "signals": {query["signal"]: values},
        "queries": [query],
        **extra,
    }


def _nodes(query: dict[str, Any], value: float | dict[str, float], **node: Any) -> WorldSpec:
    """A world of one workload (nothing of it queried) and a node whose query measures ``value`` (or a ramp)."""
    node |= {"name": "ip-10-0-4-23", "signals": {query["signal"]: {"default": value}}, "queries": [query]}
    workload = {"name": "node-exporter", "kind": "DaemonSet", "versions": [], "releases": [_releases()[0]]}
    return WorldSpec.model_validate({"workloads": [workload], "nodes": [node]})


def _releases() -> list[dict[str, str]]:
    return [
        {"version": "v1", "deployed_at": (T0 - timedelta(days=2)).isoformat()},
        {"version": "v2", "deployed_at": RELEASE.isoformat()},
    ]


def _series(text: str) -> dict[str, list[tuple[int, float]]]:
    """Series text (``name{labels}``) → its samples (time, value)."""
    out: dict[str, list[tuple[int, float]]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            head, _, stamp = line.rpartition(" ")
            series, _, value = head.rpartition(" ")
            out.setdefault(series, []).append((int(float(stamp)), float(value)))
    return out


def _named(text: str, metric: str) -> dict[str, list[tuple[int, float]]]:
    return {k: v for k, v in _series(text).items() if re.match(rf"{re.escape(metric)}(\{{|$)", k)}


def _at(samples: list[tuple[int, float]], when: datetime) -> float:
    return dict(samples)[int(when.timestamp()) // 30 * 30]


FS_LABELS = {"device": "/dev/nvme0n1p1", "fstype": "xfs", "instance": "10.0.4.23:9100", "job": "node-exporter"}
FS_LABELS |= {"mountpoint": "/"}


def test_a_threshold_written_as_arithmetic_is_a_number_and_the_ratio_joins_on_its_labels() -> None:
    labels = {"container": "recommender", "instance": "10.0.3.17:10250", "namespace": "shop"}
    labels |= {"pod": "recommender-5f7c9d8b6-2kqzn", "service": "kube-prometheus-stack-kubelet"}
    query = {"expr": rules.CPU_THROTTLING_HIGH, "signal": "throttle", "labels": labels}
    spec = WorldSpec.model_validate({"workloads": [_workload("recommender", query, {"default": 0.1, "v2": 0.3241})]})
    text = synthesize(spec, T0)  # raises unless the rule fires (> 0.25) under v2 only
    (throttled,) = _named(text, "container_cpu_cfs_throttled_periods_total").values()
    (periods,) = _named(text, "container_cpu_cfs_periods_total").values()
    end = T0 + LEAD
    share = (_at(throttled, end) - _at(throttled, end - timedelta(minutes=5))) / (
        _at(periods, end) - _at(periods, end - timedelta(minutes=5))
    )
    assert share == pytest.approx(0.3241, rel=1e-3)
    series = next(iter(_named(text, "container_cpu_cfs_throttled_periods_total")))
    assert 'job="kubelet"' in series and 'metrics_path="/metrics/cadvisor"' in series and 'pod="recommender-' in series


def test_an_and_gate_is_written_so_that_it_holds_beside_the_main_branch() -> None:
    query = {"expr": rules.NODE_FILESYSTEM_ALMOST_OUT_OF_SPACE, "signal": "avail_pct", "labels": FS_LABELS}
    text = synthesize(_nodes(query, 3.2), T0)
    (avail,) = _named(text, "node_filesystem_avail_bytes").items()
    (size,) = _named(text, "node_filesystem_size_bytes").values()
    (readonly,) = _named(text, "node_filesystem_readonly").items()
    assert 100 * avail[1][-1][1] / size[-1][1] == pytest.approx(3.2, rel=1e-5)
    assert {v for _, v in readonly[1]} == {0.0}  # writable: the gate holds
    assert readonly[0].removeprefix("node_filesystem_readonly") == avail[0].removeprefix("node_filesystem_avail_bytes")


def test_a_count_gate_is_one_series_and_an_or_side_gets_nothing_of_its_own() -> None:
    query = {"expr": rules.KUBE_CPU_OVERCOMMIT, "signal": "over", "labels": {}}
    text = synthesize(_nodes(query, 3.25), T0)
    requests = _named(text, "namespace_cpu:kube_pod_container_resource_requests:sum")
    allocatable = _named(text, "kube_node_status_allocatable")
    assert list(_named(text, "kube_node_role")) == ['kube_node_role{job="kube-state-metrics",role="control-plane"}']
    assert len(requests) == len(allocatable) == 1  # the or side reads the same two series, nothing more
    [(_, req)], [(_, alloc)] = requests.items(), allocatable.items()
    assert req[-1][1] - alloc[-1][1] == pytest.approx(3.25)


@pytest.mark.parametrize("expr", [rules.KUBE_POD_NOT_READY, rules.KUBE_POD_NOT_READY_MIXIN])
def test_unless_sides_are_left_empty_and_a_join_reads_the_owner_series_the_world_has(expr: str) -> None:
    labels = {"namespace": "shop", "pod": "ledger-2"} | (
        {"job": "kube-state-metrics"} if "job, cluster" in expr else {}
    )
    query = {"expr": expr, "signal": "not_ready", "labels": labels}
    ledger = _workload("ledger", query, {"default": 0.0, "v2": 1.0}, kind="StatefulSet")
    text = synthesize(WorldSpec.model_validate({"workloads": [ledger]}), T0)  # fires under v2 only
    (phase,) = _named(text, "kube_pod_status_phase").items()
    assert 'phase="Pending"' in phase[0] and 'pod="ledger-2"' in phase[0]
    assert _at(phase[1], RELEASE - timedelta(minutes=5)) == 0 and _at(phase[1], T0) == 1
    owners = _named(text, "kube_pod_owner")
    assert len(owners) == 3 and all('owner_kind="StatefulSet"' in s for s in owners)  # the world's, none made up
    for muted in ("kube_pod_status_reason", "kube_pod_status_ready", "kube_pod_status_unschedulable"):
        assert not _named(text, muted)


def test_info_inhibitor_writes_the_info_alert_and_no_warning_that_would_mute_it() -> None:
    query = {"expr": rules.INFO_INHIBITOR, "signal": "info_firing", "labels": {"namespace": "shop"}}
    spec = WorldSpec.model_validate({"workloads": [_workload("recommender", query, {"default": 1.0})]})
    text = synthesize(spec, T0)
    assert list(_named(text, "ALERTS")) == ['ALERTS{namespace="shop",severity="info"}']


def test_a_rule_the_world_s_own_series_answer_is_not_written_again() -> None:
    labels = {"job": "kube-state-metrics", "namespace": "shop", "statefulset": "rabbitmq"}
    raw = [
        {"metric": m, "signal": s, "labels": labels}
        for m, s in (
            ("kube_statefulset_status_replicas_ready", "ready"),
            ("kube_statefulset_replicas", "spec"),
            ("kube_statefulset_status_replicas_updated", "spec"),
        )
    ]
    query = {"expr": rules.KUBE_STATEFULSET_REPLICAS_MISMATCH, "signal": "ready", "labels": labels}
    rabbitmq = _workload("rabbitmq", query, {"default": 3.0, "v2": 2.0}, kind="StatefulSet", series=raw)
    rabbitmq["signals"]["spec"] = {"default": 3.0}
    text = synthesize(WorldSpec.model_validate({"workloads": [rabbitmq]}), T0)
    assert len(_named(text, "kube_statefulset_status_replicas_ready")) == 1


def test_a_gate_over_the_main_branch_s_own_series_that_cannot_hold_is_refused_with_the_reason() -> None:
    """A constant free-space share never predicts a full disk: a real Prometheus would not fire this rule."""
    query = {"expr": rules.NODE_FILESYSTEM_SPACE_FILLING_UP, "signal": "avail_pct", "labels": FS_LABELS}
    with pytest.raises(UnsupportedQuery) as refused:
        synthesize(_nodes(query, 6.84), T0)
    reason = str(refused.value)
    assert "while its main branch answers 6.84" in reason
    assert "'predict_linear(node_filesystem_avail_bytes" in reason and "< 0' does not hold" in reason
    assert "it reads the main branch's series" in reason


def test_a_disk_filling_since_a_moment_is_predicted_to_run_out_and_the_rule_fires() -> None:
    """Free space falling 3 points an hour: predict_linear over the written series is below 0 four hours out."""
    query = {"expr": rules.NODE_FILESYSTEM_SPACE_FILLING_UP, "signal": "avail_pct", "labels": FS_LABELS}
    filling = {"start": 30.0, "slope_per_h": -3.0, "min": 0.0}
    since = T0 - timedelta(hours=23.16 / 3)  # 6.84% left at T0
    text = synthesize(_nodes(query, filling, since=since.isoformat()), T0)  # raises unless it fires
    (avail,) = _named(text, "node_filesystem_avail_bytes").values()
    (size,) = _named(text, "node_filesystem_size_bytes").values()
    share = [100 * _at(avail, T0 - timedelta(hours=h)) / _at(size, T0) for h in (1, 0)]
    assert share == [pytest.approx(9.84, rel=1e-4), pytest.approx(6.84, rel=1e-4)]


def test_a_join_to_the_node_over_its_pod_capacity_is_written_with_the_info_side_fixed() -> None:
    node = {"instance": "10.0.7.14:10250", "node": "ip-10-0-7-14.ap-southeast-1.compute.internal"}
    query = {"expr": rules.KUBELET_TOO_MANY_PODS, "signal": "pods_ratio", "labels": node}
    text = synthesize(_nodes(query, 0.9655), T0)  # raises unless the whole rule answers 0.9655
    (running,) = _named(text, "kubelet_running_pods").values()
    (capacity,) = _named(text, "kube_node_status_capacity").items()
    (name,) = _named(text, "kubelet_node_name").items()
    assert {v for _, v in capacity[1]} == {110.0} and 'resource="pods"' in capacity[0]  # kubelet's default maxPods
    assert {v for _, v in name[1]} == {1.0} and f'node="{node["node"]}"' in name[0]  # carries the node it joins
    assert _at(running, T0) == pytest.approx(0.9655 * 110)


def test_one_expression_declared_by_two_workloads_is_one_series_each() -> None:
    expr = (
        'sum by (namespace, service) (rate(http_server_requests_seconds_count{namespace="fintech",status=~"5.."}[5m]))'
        ' / sum by (namespace, service) (rate(http_server_requests_seconds_count{namespace="fintech"}[5m]))'
    )
    workloads = [
        _workload(name, {"expr": expr, "signal": "err", "labels": {"namespace": "fintech", "service": name}}, values)
        for name, values in (("wallet", {"default": 0.001, "v2": 0.2871}), ("ledger-sync", {"default": 0.46}))
    ]
    text = synthesize(WorldSpec.model_validate({"workloads": workloads}), T0)  # each service checked on its own
    errors = _named(text, "http_server_requests_seconds_count")
    assert sorted(re.search(r'service="([^"]+)"', k)[1] for k in errors if 'status="5' in k) == [
        "ledger-sync",
        "wallet",
    ]
    twice = [_workload(name, {"expr": expr, "signal": "err", "labels": {"namespace": "fintech"}}, {"default": v})
             for name, v in (("wallet", 0.2), ("ledger-sync", 0.4))]  # fmt: skip
    with pytest.raises(UnsupportedQuery, match="declared twice for the series"):
        synthesize(WorldSpec.model_validate({"workloads": twice}), T0)


def test_a_series_of_the_world_s_own_that_mutes_the_rule_is_refused_with_the_reason() -> None:
    labels = {"job": "kube-state-metrics", "namespace": "shop", "pod": "ledger-2"}
    query = {"expr": rules.KUBE_POD_NOT_READY, "signal": "not_ready", "labels": labels}
    gated = {"job": "kube-state-metrics", "pod": "ledger-0", "reason": "SchedulingGated"}
    raw = [{"metric": "kube_pod_status_reason", "signal": "gated", "labels": gated}]
    ledger = _workload("ledger", query, {"default": 0.0, "v2": 1.0}, kind="StatefulSet", series=raw)
    ledger["signals"]["gated"] = {"default": 1.0}
    synthesize(WorldSpec.model_validate({"workloads": [ledger]}), T0)  # another pod is gated: ledger-2 still fires
    gated["pod"] = "ledger-2"
    with pytest.raises(
        UnsupportedQuery, match=r"kube_pod_status_reason\{.*reason=\"SchedulingGated\"\} == 1' answers and mutes"
    ):
        synthesize(WorldSpec.model_validate({"workloads": [ledger]}), T0)


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        (rules.KUBE_STATEFULSET_REPLICAS_MISMATCH, "vector != vector is not written (a comparison with a number is)"),
        ('count(up{job="cart"}) > 1 and up{job="cart"}', "count() is not written"),
        ('up{job="cart"} and count(kube_node_role{role="control-plane"}) > 2', "count() > 2 is not written"),
        ("rate(x_total[5m]) > bool 0.5", "a > bool comparison is not written"),
    ],
)
def test_set_operator_shapes_it_cannot_write_are_refused_with_the_reason(expr: str, reason: str) -> None:
    query = {"expr": expr, "signal": "s", "labels": {}}
    spec = WorldSpec.model_validate({"workloads": [_workload("cart", query, {"default": 2.0})]})
    with pytest.raises(UnsupportedQuery, match=re.escape(reason)):
        synthesize(spec, T0)
