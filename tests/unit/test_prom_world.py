"""The Prometheus world's pure parts: OpenMetrics from world.yaml, re-anchoring, metrics routing."""

from __future__ import annotations

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


def test_a_query_without_known_raw_series_is_refused() -> None:
    with pytest.raises(UnsupportedQuery):
        synthesize(_spec('topk(3, rate(x_total{service="cart"}[1m]))'), T0)
    with pytest.raises(UnsupportedQuery, match="names no single series"):
        synthesize(_spec('k8s_ratio{workload=~"cart.*"}'), T0)


def test_shift_moves_samples_and_drops_the_future() -> None:
    text = '# TYPE g gauge\ng{a="b c"} 1 100\ng{a="b c"} 2 200\n# EOF\n'
    assert shift(text, 1000, until=1150) == '# TYPE g gauge\ng{a="b c"} 1 1100\n# EOF\n'


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
    from agents.diagnosis import release_changes

    def values(*spans: range) -> list[list[Any]]:
        return [[t, "1"] for span in spans for t in span]

    series = [
        {"metric": {"version": "A"}, "values": values(range(0, 900, 60), range(1200, 1500, 60))},
        {"metric": {"version": "B"}, "values": values(range(600, 1500, 60))},
    ]
    changes = [(c.previous, c.version, int(c.at.timestamp())) for c in release_changes(series)]
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
