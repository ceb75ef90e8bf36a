"""Cases run against a real Prometheus loaded with promtool (``alertpilot eval --world prometheus``).

Each episode gets its own Prometheus (127.0.0.1, a free port, the case's metrics moved
so the alert started five minutes ago). The diagnosis must name the same release as in
the simulated world, with the same MCP call accuracy, from series it read over HTTP.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evals.case import load_case
from evals.episodes import run_case
from evals.harness import episode_schemas, expectation
from evals.scoring import score_episode
from evals.worlds import schemas_of, static_catalog
from tests.conftest import ROOT, require_binary, run_cli

pytestmark = pytest.mark.integration
CASES = ROOT / "evals" / "cases"
# two with committed metrics.om (Alertmanager error ratio, Tencent CPU), one written at run time with logs
RELEASE_CASES = ["am-cart-errors-bad-release", "tc-orders-cpu-bad-release"]


@pytest.fixture(autouse=True)
def _binaries() -> None:
    require_binary("prometheus")
    require_binary("promtool")


def _accuracy(case_id: str, mode: str):  # type: ignore[no-untyped-def]
    case = load_case(CASES / case_id)
    (episode,) = run_case(case, None, 1, mode)  # type: ignore[arg-type]
    score = score_episode(expectation(case, episode), episode, schemas_of(static_catalog()) | episode_schemas(case))
    return case, episode, score


@pytest.mark.parametrize("case_id", RELEASE_CASES)
def test_real_prometheus_names_the_same_release_as_the_simulated_world(case_id: str) -> None:
    case, simulated, sim_score = _accuracy(case_id, "live")
    _, real, score = _accuracy(case_id, "prometheus")
    release = case.expect.root_cause[-1]
    assert release in simulated.entities and release in real.entities
    assert sorted(real.entities) == sorted(simulated.entities)
    assert score.correct == score.union == sim_score.union and score.success
    # diagnosis read Prometheus over HTTP (its answers carry __name__, the world's do not); verify read the world
    assert real.answered["prometheus"] >= 5 and real.answered["world"] >= 1
    versions = next(c for c in real.calls if c.tool == "execute_range_query" and "build_info" in c.args["query"])
    series = versions.result["result"]
    assert {s["metric"]["__name__"] for s in series} == {"build_info"} and len(series) >= 2
    assert real.status == "resolved" and real.version == case.expect.mitigation.version  # type: ignore[union-attr]


def test_moved_logs_still_explain_a_config_edit() -> None:
    case, episode, score = _accuracy("am-checkout-config-edit", "prometheus")
    assert "alice" in episode.entities and episode.status == "escalated"
    assert score.success and episode.answered["prometheus"] >= 5


def test_cli_eval_in_the_prometheus_world(home: Path) -> None:
    done = run_cli("eval", "--world", "prometheus", "--case", RELEASE_CASES[0], "--json", home=home, timeout=60)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["world"] == "prometheus" and doc["mcp_call_accuracy"] == 1.0 and doc["diagnosis_score"] == 1.0


def test_without_the_binaries_every_case_is_skipped_with_the_reason(home: Path, tmp_path: Path) -> None:
    done = run_cli(
        "eval", "--world", "prometheus", "--case", RELEASE_CASES[0], "--json", home=home, timeout=60, PATH=str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["cases"] == [] and doc["skipped_cases"] == 1
    assert doc["skipped"][0]["reason"] == "the prometheus world needs the prometheus and promtool binaries on PATH"


# Alert expressions in the shapes public rule sets use (kube-prometheus, Micrometer, gRPC, node-exporter)
RULE_SHAPES = [
    'sum(rate(http_requests_total{service="cart",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="cart"}[5m]))',
    'sum(rate(grpc_server_handled_total{grpc_service="cart.Cart",grpc_code!="OK"}[5m])) / sum(rate(grpc_server_handled_total{grpc_service="cart.Cart"}[5m]))',
    'sum(increase(http_server_requests_seconds_count{application="cart",status=~"5.."}[10m])) / sum(increase(http_server_requests_seconds_count{application="cart"}[10m]))',
    'histogram_quantile(0.99, sum by (le) (rate(http_server_requests_seconds_bucket{application="cart"}[5m])))',
    'max_over_time(kube_pod_container_status_waiting_reason{namespace="shop",pod=~"cart-.*",reason="CrashLoopBackOff"}[5m])',
    'topk(1, rate(kube_pod_container_status_restarts_total{namespace="shop",container="cart"}[10m])) * 600',
    'max(rate(container_cpu_usage_seconds_total{namespace="shop",container="cart"}[5m])) / max(kube_pod_container_resource_limits{namespace="shop",container="cart",resource="cpu"})',
    '100 * max by (pod) (container_memory_working_set_bytes{container="cart"}) / max by (pod) (kube_pod_container_resource_limits{container="cart",resource="memory"})',
]


def test_a_real_prometheus_answers_every_written_rule_shape_with_the_worlds_value(tmp_path: Path) -> None:
    import httpx

    from evals.openmetrics import LEAD, shift, synthesize
    from evals.prom_world import serve_openmetrics
    from tools.world import WorldSpec

    alert_at = datetime(2026, 11, 8, 3, 0, tzinfo=UTC)
    queries = [{"expr": expr, "signal": f"s{i}"} for i, expr in enumerate(RULE_SHAPES)]
    values = {q["signal"]: {"default": 0.02 + i / 100, "v2": 0.3 + i / 20} for i, q in enumerate(queries)}
    spec = WorldSpec.model_validate(
        {
            "service": "cart",
            "namespace": "shop",
            "releases": [
                {"version": "v1", "deployed_at": (alert_at - timedelta(days=2)).isoformat()},
                {"version": "v2", "deployed_at": (alert_at - timedelta(minutes=30)).isoformat()},
            ],
            "signals": values,
            "queries": queries,
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
    now = datetime.now(UTC).replace(microsecond=0)
    offset = int((now - (alert_at + LEAD)).total_seconds())
    text = shift(synthesize(spec, alert_at), offset, until=int(now.timestamp()))
    wants = {q["expr"]: values[q["signal"]]["v2"] for q in queries} | {spec.nodes[0].queries[0].expr: 0.04}
    with serve_openmetrics(text, tmp_path / "prometheus") as url:
        for expr, want in wants.items():
            answer = httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": now.timestamp()}).json()
            result = answer["data"]["result"]
            assert len(result) == 1, (expr, answer)
            assert float(result[0]["value"][1]) == pytest.approx(want, rel=0.02), expr


def _release_world(alert_at: datetime, release: datetime) -> tuple[dict[str, Any], dict[str, tuple[float, float]]]:
    """A world whose workloads and nodes declare whole public rules; each rule's (v1, v2) value."""
    from tests import public_rules as rules

    def workload(name: str, kind: str, queries: list[dict[str, Any]], signals: dict[str, Any]) -> dict[str, Any]:
        history = [(alert_at - timedelta(days=2)).isoformat(), release.isoformat()]
        releases = [{"version": v, "deployed_at": at} for v, at in zip(("v1", "v2"), history, strict=True)]
        return {"name": name, "namespace": "shop", "kind": kind, "image": f"registry.example.com/shop/{name}"} | {
            "versions": [],
            "releases": releases,
            "queries": queries,
            "signals": signals,
        }

    kubelet = {"instance": "10.0.3.17:10250", "namespace": "shop", "service": "kube-prometheus-stack-kubelet"}
    throttling = kubelet | {"container": "recommender", "pod": "recommender-5f7c9d8b6-2kqzn"}
    fs = {"device": "/dev/nvme0n1p1", "fstype": "xfs", "instance": "10.0.4.23:9100", "job": "node-exporter"}
    spec = {
        "workloads": [
            workload(
                "recommender",
                "Deployment",
                [
                    {"expr": rules.CPU_THROTTLING_HIGH, "signal": "throttle", "labels": throttling},
                    {"expr": rules.INFO_INHIBITOR, "signal": "info", "labels": {"namespace": "shop"}},
                ],
                {"throttle": {"default": 0.1, "v2": 0.3241}, "info": {"default": 1.0}},
            ),
            workload(
                "ledger",
                "StatefulSet",
                [
                    {
                        "expr": rules.KUBE_POD_NOT_READY,
                        "signal": "not_ready",
                        "labels": {"job": "kube-state-metrics", "namespace": "shop", "pod": "ledger-2"},
                    }
                ],
                {"not_ready": {"default": 0.0, "v2": 1.0}},
            ),
        ],
        "nodes": [
            {
                "name": "ip-10-0-4-23",
                "signals": {"avail": {"default": 3.2}, "over": {"default": 3.25}, "pods": {"default": 0.9655}},
                "queries": [
                    {
                        "expr": rules.NODE_FILESYSTEM_ALMOST_OUT_OF_SPACE,
                        "signal": "avail",
                        "labels": fs | {"mountpoint": "/"},
                    },
                    {"expr": rules.KUBE_CPU_OVERCOMMIT, "signal": "over", "labels": {}},
                    {
                        "expr": rules.KUBELET_TOO_MANY_PODS,
                        "signal": "pods",
                        "labels": {"instance": "10.0.4.23:10250", "node": "ip-10-0-4-23"},
                    },
                ],
            }
        ],
    }
    values = {
        rules.CPU_THROTTLING_HIGH: (0.1, 0.3241),
        rules.INFO_INHIBITOR: (1.0, 1.0),
        rules.KUBE_POD_NOT_READY: (0.0, 1.0),
        rules.NODE_FILESYSTEM_ALMOST_OUT_OF_SPACE: (3.2, 3.2),
        rules.KUBE_CPU_OVERCOMMIT: (3.25, 3.25),
        rules.KUBELET_TOO_MANY_PODS: (0.9655, 0.9655),
    }
    return spec, values


def test_a_real_prometheus_fires_whole_public_rules_only_while_the_world_says_they_do(tmp_path: Path) -> None:
    """Set operators, joins and gates: the rule answers the value while it fires, its main branch always."""
    import httpx
    import promql_parser

    from evals.openmetrics import LEAD, shift, synthesize
    from evals.prom_world import serve_openmetrics
    from evals.promql_tree import HOLDS, main_branch
    from tools.world import WorldSpec

    alert_at = datetime(2026, 11, 8, 3, 0, tzinfo=UTC)
    release = alert_at - timedelta(minutes=30)
    spec, values = _release_world(alert_at, release)
    now = datetime.now(UTC).replace(microsecond=0)
    offset = int((now - (alert_at + LEAD)).total_seconds())
    text = shift(synthesize(WorldSpec.model_validate(spec), alert_at), offset, until=int(now.timestamp()))
    before = now - (alert_at + LEAD - release) - timedelta(minutes=10)  # v1 still ran
    with serve_openmetrics(text, tmp_path / "prometheus") as url:

        def ask(expr: str, at: datetime) -> list[float]:
            answer = httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": at.timestamp()}).json()
            return [float(r["value"][1]) for r in answer["data"]["result"]]

        for expr, (old, new) in values.items():
            branch = main_branch(promql_parser.parse(expr))
            for at, want in ((before, old), (now, new)):
                assert ask(str(branch.value), at) == [pytest.approx(want, rel=0.02)], (expr, at)
                fires = branch.op is None or HOLDS[branch.op](want, branch.threshold or 0.0)
                assert ask(expr, at) == ([pytest.approx(want, rel=0.02)] if fires else []), (expr, at)


def test_a_real_prometheus_sees_the_disk_fill_and_the_certificate_expire_in_the_moved_time(tmp_path: Path) -> None:
    """Moved to now, a node's disk still fills at the world's pace and a certificate expires 2.4 days out."""
    import httpx

    from evals.openmetrics import LEAD, shift, synthesize
    from evals.prom_world import serve_openmetrics
    from tests import public_rules as rules
    from tools.world import WorldSpec

    alert_at = datetime(2026, 11, 8, 3, 0, tzinfo=UTC)
    fs = {"device": "/dev/nvme0n1p1", "fstype": "xfs", "instance": "10.0.4.23:9100", "job": "node-exporter"}
    probe = {"instance": "https://partner-api.example.com", "job": "blackbox", "target": "partner-api"}
    not_after = (alert_at + LEAD + timedelta(days=2.4)).timestamp()
    spec = {
        "service": "partner-gateway",
        "releases": [{"version": "v1", "deployed_at": (alert_at - timedelta(days=3)).isoformat()}],
        "signals": {"days_left": {"default": 2.4}, "not_after": {"default": not_after}},
        "queries": [{"expr": rules.SSL_CERT_EXPIRING, "signal": "days_left", "labels": probe}],
        "series": [{"metric": "probe_ssl_earliest_cert_expiry", "signal": "not_after", "labels": probe}],
        "nodes": [
            {
                "name": "ip-10-0-4-23",
                "since": (alert_at - timedelta(hours=8)).isoformat(),  # 30% free then, 6% at the alert
                "signals": {"avail": {"default": {"start": 30.0, "slope_per_h": -3.0}}},
                "queries": [
                    {
                        "expr": rules.NODE_FILESYSTEM_SPACE_FILLING_UP,
                        "signal": "avail",
                        "labels": fs | {"mountpoint": "/"},
                    }
                ],
            }
        ],
    }
    now = datetime.now(UTC).replace(microsecond=0)
    offset = int((now - (alert_at + LEAD)).total_seconds())
    text = shift(synthesize(WorldSpec.model_validate(spec), alert_at), offset, until=int(now.timestamp()))
    with serve_openmetrics(text, tmp_path / "prometheus") as url:

        def ask(expr: str) -> list[float]:
            answer = httpx.get(f"{url}/api/v1/query", params={"query": expr, "time": now.timestamp()}).json()
            return [float(r["value"][1]) for r in answer["data"]["result"]]

        assert ask(rules.NODE_FILESYSTEM_SPACE_FILLING_UP) == [pytest.approx(6.0 - 3.0 * 5 / 60, rel=1e-3)]
        assert ask(rules.SSL_CERT_EXPIRING) == [pytest.approx(2.4)]
