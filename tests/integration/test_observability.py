"""Diagnosis and the observability MCP server against a real Prometheus loaded with promtool.

The scenario: checkout ships v2.2 25 minutes ago; its 5xx share jumps from 0.5% to 25%
and its pods start restarting. Blocks are built with ``promtool tsdb
create-blocks-from openmetrics`` at timestamps ending now, so they are inside retention
and instant queries at "now" see them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.diagnosis import investigate
from state.alert import parse_alerts
from tests.conftest import DEMO_CASE, ROOT, cli_env, free_port, require_binary, wait_for_port
from tools.metrics import PrometheusMetrics, metrics_tools
from tools.registry import ToolRegistry, ToolSession

pytestmark = pytest.mark.integration
STEP = 15
SPAN = timedelta(minutes=110)


def _openmetrics(now: datetime) -> tuple[str, datetime, datetime]:
    end = int(now.timestamp()) // STEP * STEP
    start = end - int(SPAN.total_seconds())
    release = end - 25 * 60
    lines = [
        "# TYPE http_requests counter",
        "# TYPE build_info gauge",
        "# TYPE kube_pod_container_status_restarts counter",
    ]
    ok = bad = restarts = 0.0
    series: dict[str, list[str]] = {"ok": [], "bad": [], "info": [], "restarts": []}
    for t in range(start, end + 1, STEP):
        new = t >= release
        ok += 20 * STEP * (0.75 if new else 0.995)
        bad += 20 * STEP * (0.25 if new else 0.005)
        restarts += 0.05 if new else 0.0
        series["ok"].append(f'http_requests_total{{service="checkout",code="200"}} {ok:.3f} {t}')
        series["bad"].append(f'http_requests_total{{service="checkout",code="500"}} {bad:.3f} {t}')
        version = "v2.2" if new else "v2.1"
        series["info"].append(f'build_info{{service="checkout",version="{version}"}} 1 {t}')
        series["restarts"].append(
            f'kube_pod_container_status_restarts_total{{namespace="shop",pod="checkout-7d9f8b6c5-x2x4q"}} '
            f"{restarts:.2f} {t}"
        )
    body = "\n".join(
        [lines[0], *series["ok"], *series["bad"], lines[1], *series["info"], lines[2], *series["restarts"]]
    )
    return body + "\n# EOF\n", datetime.fromtimestamp(release, UTC), datetime.fromtimestamp(end, UTC)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    binary = require_binary("prometheus")
    promtool = require_binary("promtool")
    base = tmp_path_factory.mktemp("prom")
    text, release, end = _openmetrics(datetime.now(UTC))
    (base / "metrics.om").write_text(text)
    data = base / "data"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(base / "metrics.om"), str(data)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (base / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={base / 'prometheus.yml'}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=30d",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        url = f"http://127.0.0.1:{port}"
        metrics = PrometheusMetrics(url)
        for _ in range(100):  # the HTTP port opens before the TSDB is ready
            try:
                if metrics.instant('build_info{service="checkout"}'):
                    break
            except Exception:  # noqa: BLE001 - 503 while starting
                pass
            subprocess.run(["sleep", "0.1"])
        yield {"url": url, "release": release, "end": end, "base": base}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _alert(starts_at: datetime):  # type: ignore[no-untyped-def]
    payload = json.loads((DEMO_CASE / "alert.json").read_text())
    payload["alerts"][0]["startsAt"] = starts_at.isoformat().replace("+00:00", "Z")
    return parse_alerts(json.dumps(payload).encode())[0]


def test_diagnosis_names_the_release_from_real_prometheus(prometheus: dict) -> None:
    session = ToolSession(ToolRegistry(metrics_tools(PrometheusMetrics(str(prometheus["url"])))), agent="diagnosis")
    alert = _alert(prometheus["release"] + timedelta(minutes=8))
    diagnosis, findings = investigate(session, alert, "build_info", prometheus["end"])
    assert diagnosis.suspected_release == "v2.2" and diagnosis.known_good_release == "v2.1"
    assert diagnosis.release_confidence >= 0.7
    assert diagnosis.signal_value is not None and 0.2 < diagnosis.signal_value < 0.3
    titles = [f.title for f in findings]
    assert any(t.startswith("alert expression rose") for t in titles), titles
    assert any(t.startswith("restarts rose") for t in titles), titles
    assert all(c.status == "success" for c in session.calls)


def test_prometheus_down_becomes_a_finding() -> None:
    session = ToolSession(ToolRegistry(metrics_tools(PrometheusMetrics(f"http://127.0.0.1:{free_port()}", 2))), "d")
    alert = _alert(datetime.now(UTC) - timedelta(minutes=5))
    diagnosis, findings = investigate(session, alert, "build_info", datetime.now(UTC))
    unavailable = [f for f in findings if f.kind == "data"]
    assert any("unreachable" in f.detail for f in unavailable), [f.title for f in findings]
    assert diagnosis.suspected_release is None


def test_metadata_and_targets_tools(prometheus: dict) -> None:
    registry = ToolRegistry(metrics_tools(PrometheusMetrics(str(prometheus["url"]))))
    targets = registry.invoke("get_targets", {})
    assert targets.ok and "activeTargets" in targets.data
    assert registry.invoke("get_metric_metadata", {}).ok
    assert "build_info" in registry.invoke("list_metrics", {}).data


def _mcp_config(base: Path, url: str) -> Path:
    config = base / "mcp.yaml"
    logs = DEMO_CASE / "logs"
    config.write_text(f"prometheus:\n  url: {url}\nlogs:\n  files: [{logs}]\n")
    return config


def test_observability_server_over_http_and_stdio_as_external_tools(prometheus: dict, tmp_path: Path) -> None:
    from tools.mcp.external import external_tools

    config = _mcp_config(tmp_path, str(prometheus["url"]))
    env = cli_env(tmp_path / "home")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "mcp",
            "serve",
            "observability",
            "--transport",
            "http",
            "--port",
            str(port),
            "--config",
            str(config),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        servers = {
            "obs-http": {"transport": "streamable_http", "url": f"http://127.0.0.1:{port}/mcp"},
            "obs-stdio": {
                "transport": "stdio",
                "command": sys.executable,
                "args": ["-m", "cli", "mcp", "serve", "observability", "--config", str(config)],
                "cwd": str(ROOT),
                "env": env,
                "tools": ["execute_query", "classify_logs"],
            },
        }
        tools = external_tools(servers)
        by_server: dict[str, set[str]] = {}
        for tool in tools:
            by_server.setdefault(tool.description.split("]")[0][1:], set()).add(tool.name)
        assert by_server["obs-http"] >= {
            "execute_query",
            "execute_range_query",
            "list_metrics",
            "get_metric_metadata",
            "get_targets",
            "search_logs",
            "classify_logs",
            "trace_chain",
        }
        assert by_server["obs-stdio"] == {"execute_query", "classify_logs"}
        registry = ToolRegistry(tools)  # the stdio server's tools replace the HTTP ones: names match
        session = ToolSession(registry, agent="diagnosis")
        answer = session.call("execute_query", query='build_info{service="checkout"}')
        assert answer.ok and answer.data["result"][0]["metric"]["version"] == "v2.2"
        logs = session.call("classify_logs", source="files")
        assert logs.ok and logs.data["counts"]["audit"] == 5
        bad = session.call("execute_query", query="sum(")
        assert bad.status == "error" and "rejected" in bad.error
        assert [c.tool for c in session.calls] == ["execute_query", "classify_logs", "execute_query"]
    finally:
        server.terminate()
        server.wait(timeout=10)
