"""The Prometheus world's pure parts: OpenMetrics from world.yaml, re-anchoring, metrics routing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from evals.case import load_case
from evals.openmetrics import LEAD, UnsupportedQuery, _quantile_counts, shift, synthesize
from evals.prom_world import METRICS_FILE, Anchor, PrometheusUntilActed
from tools.registry import Tool, ToolRegistry
from tools.world import WorldSpec

CASES = Path(__file__).resolve().parents[2] / "evals" / "cases"
T0 = datetime(2026, 11, 8, 3, 0, tzinfo=UTC)


def _spec(expr: str, signal: str = "s", values: dict[str, float] | None = None) -> WorldSpec:
    return WorldSpec.model_validate(
        {
            "service": "cart",
            "releases": [
                {"version": "v1", "deployed_at": (T0 - timedelta(days=2)).isoformat()},
                {"version": "v2", "deployed_at": (T0 - timedelta(minutes=20)).isoformat()},
            ],
            "signals": {signal: values or {"default": 0.01, "v2": 0.3}},
            "queries": [{"expr": expr, "signal": signal}],
        }
    )


def _samples(text: str, prefix: str) -> list[tuple[int, float]]:
    out = []
    for line in text.splitlines():
        if line.startswith(prefix):
            head, _, stamp = line.rpartition(" ")
            out.append((int(float(stamp)), float(head.rpartition(" ")[2])))
    return out


def test_committed_openmetrics_is_what_world_yaml_writes() -> None:
    committed = sorted(CASES.glob(f"*/{METRICS_FILE}"))
    assert len(committed) >= 2
    for path in committed:
        case = load_case(path.parent)
        assert path.read_text() == synthesize(WorldSpec.load(case.path), case.alert.starts_at), path


def test_error_ratio_counters_rate_to_the_version_s_value_and_build_info_follows_releases() -> None:
    expr = 'sum(rate(http_requests_total{service="cart",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="cart"}[5m]))'
    text = synthesize(_spec(expr), T0)
    bad = dict(_samples(text, 'http_requests_total{code="500",service="cart"}'))
    ok = dict(_samples(text, 'http_requests_total{code="200",service="cart"}'))
    end = int((T0 + LEAD).timestamp()) // 30 * 30
    before = int((T0 - timedelta(minutes=40)).timestamp()) // 30 * 30
    for t, want in ((end, 0.3), (before, 0.01)):  # the 5-minute rate's ratio, as Prometheus computes it
        d_bad, d_ok = bad[t] - bad[t - 300], ok[t] - ok[t - 300]
        assert d_bad / (d_bad + d_ok) == pytest.approx(want, rel=1e-3)
    versions = [line for line in text.splitlines() if line.startswith("build_info{")]
    first_v2 = min(int(line.rsplit(" ", 1)[1]) for line in versions if 'version="v2"' in line)
    assert T0 - timedelta(minutes=20) <= datetime.fromtimestamp(first_v2, UTC) < T0 - timedelta(minutes=19)
    assert text.endswith("# EOF\n") and "# TYPE http_requests counter" in text


@pytest.mark.parametrize("value", [0.007, 0.03, 0.3, 0.42, 1.7, 7.0])
def test_histogram_buckets_interpolate_to_the_quantile(value: float) -> None:
    shares = sorted(_quantile_counts(0.99, value).items())
    rank, previous = 0.99, (0.0, 0.0)
    for bound, share in shares:  # Prometheus' bucketQuantile: first bucket reaching the rank, linear inside it
        if share >= rank:
            low, below = previous
            got = low + (bound - low) * (rank - below) / (share - below)
            break
        previous = (bound, share)
    assert got == pytest.approx(value, rel=0.02)


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        (
            'predict_linear(node_filesystem_avail_bytes{mountpoint="/"}[6h], 14400) < 0',
            "predict_linear() is not written",
        ),
        (
            'kube_deployment_spec_replicas{deployment="cart"} != kube_deployment_status_replicas_available{deployment="cart"}',
            "vector != vector is not written",
        ),
        ('count(up{job="cart"})', "count() is not written"),
        (  # Prometheus would answer nothing: the right side carries resource="memory", the left does not
            'container_memory_working_set_bytes{container="cart"} / kube_pod_container_resource_limits{container="cart",resource="memory"}',
            "the two sides of the ratio would not match",
        ),
        ("rate(x_total[5m] offset 1h)", "offset/@ modifiers are not written"),
    ],
)
def test_a_query_whose_raw_series_cannot_be_written_is_refused_with_the_reason(expr: str, reason: str) -> None:
    with pytest.raises(UnsupportedQuery, match=re.escape(reason)):
        synthesize(_spec(expr), T0)


@pytest.mark.parametrize(
    "expr",
    [
        'sum(rate(grpc_server_handled_total{grpc_service="cart.Cart",grpc_code!="OK"}[5m])) / sum(rate(grpc_server_handled_total{grpc_service="cart.Cart"}[5m]))',
        'sum(increase(http_server_requests_seconds_count{application="cart",status=~"5.."}[10m])) / sum(increase(http_server_requests_seconds_count{application="cart"}[10m]))',
        'max_over_time(kube_pod_container_status_waiting_reason{namespace="shop",pod=~"cart-.*",reason="CrashLoopBackOff"}[5m])',
        'topk(1, rate(kube_pod_container_status_restarts_total{namespace="shop",container="cart"}[10m])) * 600',
        'node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"}',
        '100 * max by (pod) (container_memory_working_set_bytes{container="cart"}) / max by (pod) (kube_pod_container_resource_limits{container="cart",resource="memory"})',
    ],
)
def test_real_rule_shapes_are_written_so_that_they_answer_the_signal(expr: str) -> None:
    """synthesize checks each query over the series it wrote; the integration test asks a real Prometheus."""
    values = {"default": 0.04, "v2": 0.35}
    text = synthesize(_spec(expr, values=values), T0)  # raises when the written series would answer otherwise
    assert text.endswith("# EOF\n") and text.count("# TYPE") >= 2


def test_ramps_and_events_follow_time_and_move_with_the_world() -> None:
    spec = WorldSpec.model_validate(
        {
            "service": "cart",
            "releases": [{"version": "v2", "deployed_at": (T0 - timedelta(hours=3)).isoformat()}],
            "signals": {"mem": {"default": {"start": 0.2, "slope_per_h": 0.1}}, "err": {"default": 0.01}},
            "queries": [
                {"expr": 'mem_ratio{service="cart"}', "signal": "mem"},
                {"expr": 'err_ratio{service="cart"}', "signal": "err"},
            ],
            "events": [
                {"at": (T0 - timedelta(minutes=30)).isoformat(), "until": T0.isoformat(), "signal": "err", "set": 0.4}
            ],
        }
    )
    text = synthesize(spec, T0)
    mem = dict(_samples(text, 'mem_ratio{service="cart"}'))
    err = dict(_samples(text, 'err_ratio{service="cart"}'))
    hour = int((T0 - timedelta(hours=1)).timestamp())
    assert mem[hour] == pytest.approx(0.4) and mem[int(T0.timestamp())] == pytest.approx(0.5)  # 0.2 + 0.1/h
    assert err[int((T0 - timedelta(minutes=10)).timestamp())] == 0.4  # the outage
    assert err[int((T0 + timedelta(minutes=1)).timestamp())] == 0.01  # it recovered by itself
    moved = spec.moved(timedelta(days=30))
    assert moved.events[0].at == spec.events[0].at + timedelta(days=30)
    again = synthesize(moved, T0 + timedelta(days=30))
    assert shift(text, 30 * 86400) == again  # the same history, thirty days later


def test_nodes_versions_from_images_and_raw_series_are_served() -> None:
    spec = WorldSpec.model_validate(
        {
            "workloads": [
                {
                    "name": "cart",
                    "namespace": "shop",
                    "image": "registry.example.com/shop/cart",
                    "versions": [{"metric": "app_info", "labels": {"application": "cart"}, "per_pod": False}],
                    "releases": [{"version": "v2", "deployed_at": (T0 - timedelta(hours=1)).isoformat()}],
                    "signals": {"mem": {"default": 0.5}},
                    "series": [
                        {
                            "metric": "container_memory_working_set_bytes",
                            "signal": "mem",
                            "scale": 1000,
                            "per_pod": True,
                        }
                    ],
                    # the world's own raw series answer this one: nothing more is written for it
                    "queries": [
                        {"expr": 'max(container_memory_working_set_bytes{namespace="shop"}) / 1000', "signal": "mem"}
                    ],
                }
            ],
            "nodes": [
                {
                    "name": "ip-10-0-3-17",
                    "signals": {"free": {"default": 0.04}},
                    "queries": [
                        {
                            "expr": 'node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"}',
                            "signal": "free",
                            "labels": {"instance": "10.0.3.17:9100", "mountpoint": "/"},
                        }
                    ],
                }
            ],
        }
    )
    text = synthesize(spec, T0)
    assert 'app_info{application="cart",version="v2"} 1' in text
    assert 'image="registry.example.com/shop/cart:v2"' in text and "kube_pod_owner{" in text
    avail = _samples(text, 'node_filesystem_avail_bytes{instance="10.0.3.17:9100",mountpoint="/"}')
    size = _samples(text, 'node_filesystem_size_bytes{instance="10.0.3.17:9100",mountpoint="/"}')
    assert avail[-1][1] / size[-1][1] == pytest.approx(0.04, rel=1e-5)  # six significant digits a sample
    assert text.count("# TYPE container_memory_working_set_bytes ") == 1 and "max(" not in text
    inconsistent = spec.model_copy(deep=True)
    inconsistent.workloads[0].queries[0].expr = 'max(container_memory_working_set_bytes{namespace="shop"})'
    with pytest.raises(UnsupportedQuery, match="the world's own series answer 500"):
        synthesize(inconsistent, T0)


def test_shift_moves_samples_and_drops_the_future() -> None:
    text = '# TYPE g gauge\ng{a="b c"} 1 100\ng{a="b c"} 2 200\n# EOF\n'
    assert shift(text, 1000, until=1150) == '# TYPE g gauge\ng{a="b c"} 1 1100\n# EOF\n'
    # a value's own digits are never touched (4.00041e+09 once became 441e+09, a hundredfold spike)
    assert shift('g 4.00041e+09 100\ng{v="1.000"} 3.000 200\n', 50) == 'g 4.00041e+09 150\ng{v="1.000"} 3.000 250\n'


def test_a_value_that_is_a_unix_time_moves_with_the_case() -> None:
    """Re-anchored, a certificate still expires 2.4 days after the alert; a byte count stays a byte count."""
    expiry = int((T0 + timedelta(days=2.4)).timestamp())
    text = (
        f'# TYPE probe_ssl_earliest_cert_expiry gauge\nprobe_ssl_earliest_cert_expiry{{target="api"}} {expiry} 100\n'
        "# TYPE node_filesystem_avail_bytes gauge\nnode_filesystem_avail_bytes 1500000000 100\n# EOF\n"
    )
    moved = shift(text, -86400)
    assert f'probe_ssl_earliest_cert_expiry{{target="api"}} {expiry - 86400} -86300' in moved
    assert "node_filesystem_avail_bytes 1500000000 -86300" in moved
    series = {"metric": "probe_ssl_earliest_cert_expiry", "signal": "not_after", "labels": {"target": "api"}}
    spec = WorldSpec.model_validate(
        {
            "service": "gateway",
            "releases": [{"version": "v1", "deployed_at": (T0 - timedelta(days=1)).isoformat()}],
            "signals": {"not_after": {"default": expiry}, "free": {"default": {"start": 30.0, "slope_per_h": -3.0}}},
            "series": [series],
            "nodes": [{"name": "ip-10-0-4-23", "since": T0.isoformat(), "signals": {}}],
        }
    )
    later = spec.moved(timedelta(days=30))
    assert later.signals["not_after"]["default"] == expiry + 30 * 86400
    assert later.signals["free"] == spec.signals["free"]  # not read as a time
    assert later.nodes[0].since == T0 + timedelta(days=30)  # a node's ramps start as much later


def test_anchor_puts_the_alert_its_delivery_delay_before_now_and_moves_log_timestamps() -> None:
    case = load_case(CASES / "am-cart-errors-bad-release")
    now = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    anchor = Anchor.for_case(case, now)
    # the episode starts now, when the alert reached alertpilot: delivered_after_s (60 s) after its start
    assert (
        anchor.alert(case.alert).starts_at
        == now - timedelta(seconds=case.expect.delivered_after_s)
        == now - timedelta(seconds=60)
    )
    moved = anchor.spec(WorldSpec.load(case.path))
    assert moved.releases[-1].deployed_at - case.alert.starts_at.replace() == (
        WorldSpec.load(case.path).releases[-1].deployed_at - case.alert.starts_at + anchor.offset
    )
    record = {"time": "2026-11-08T03:00:45Z", "msg": "2026-11-08 is a date", "user": {"at": "2026-11-08T03:00:45Z"}}
    out = anchor.record(record)
    assert out["msg"] == record["msg"]
    assert (
        out["time"]
        == out["user"]["at"]
        == (datetime(2026, 11, 8, 3, 0, 45, tzinfo=UTC) + anchor.offset).isoformat().replace("+00:00", "Z")
    )


class _Q(BaseModel):
    query: str = ""


class _Op(BaseModel):
    service: str = ""


def _registry(side: str, op_status: str = "success") -> ToolRegistry:
    def query(query: str = "") -> dict[str, Any]:
        return {"side": side}

    def op(service: str = "") -> dict[str, Any]:
        return {"status": op_status}

    return ToolRegistry([Tool("execute_query", "q", _Q, query), Tool("restart", "r", _Op, op, mutating=True)])


def test_metrics_reads_come_from_prometheus_until_an_operation_changed_the_world() -> None:
    backend = PrometheusUntilActed(_registry("world", op_status="error"), _registry("prometheus"))
    assert backend.invoke("execute_query", {}).data == {"side": "prometheus"}
    backend.invoke("restart", {"service": "cart"})  # failed: nothing changed, Prometheus still describes the world
    assert backend.invoke("execute_query", {}).data == {"side": "prometheus"}
    backend.world = _registry("world")
    backend.invoke("restart", {"service": "cart"})
    assert backend.invoke("execute_query", {}).data == {"side": "world"}
    assert backend.answered == {"prometheus": 2, "world": 1}


def test_a_version_deployed_again_is_a_change_when_it_comes_back() -> None:
    """Real Prometheus keeps one series per version: A → B → A is one A series with a gap (and a lookback overlap)."""
    from agents.versions import VersionHistory, runs_of

    def values(*spans: range) -> list[list[Any]]:
        return [[t, "1"] for span in spans for t in span]

    series = [
        {"metric": {"version": "A"}, "values": values(range(0, 900, 60), range(1200, 1500, 60))},
        {"metric": {"version": "B"}, "values": values(range(600, 1500, 60))},
    ]
    history = VersionHistory(runs_of(series))
    changes = [(c.previous, c.version, int(c.at.timestamp())) for c in history.changes()]
    assert changes == [("A", "B", 600), ("B", "A", 1200)]


def test_epoch_times_under_time_keys_and_inside_json_content_move_too() -> None:
    case = load_case(CASES / "am-cart-errors-bad-release")
    anchor = Anchor.for_case(case, datetime(2027, 1, 2, tzinfo=UTC))
    seconds = int(anchor.offset.total_seconds())
    record = {"__TIMESTAMP__": 1795142410000, "content": '{"time": 1795142410, "order": 1795142410}', "count": 3}
    out = anchor.record(record)
    assert out["__TIMESTAMP__"] == 1795142410000 + seconds * 1000 and out["count"] == 3
    inner = __import__("json").loads(out["content"])
    assert inner == {"time": 1795142410 + seconds, "order": 1795142410}
