"""End to end: real Prometheus fires a rule, real Alertmanager posts to `alertpilot serve`."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ROOT, cli_env, free_port, person_token, require_binary, wait_for_port

pytestmark = pytest.mark.integration
TOKEN = "e2e-token"


class Gauge:
    """A scrape target whose error ratio the test sets."""

    def __init__(self) -> None:
        self.value = 0.3
        gauge = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = f'demo_error_ratio{{service="checkout",namespace="shop"}} {gauge.value}\n'.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, env=env)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Gauge, str, str]]:
    prometheus = require_binary("prometheus")
    alertmanager = require_binary("prometheus-alertmanager", "alertmanager")
    gauge = Gauge()
    prom_port, am_port, serve_port = free_port(), free_port(), free_port()
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "checkout",
                        "interval": "1s",
                        "rules": [
                            {
                                "alert": "HighErrorRate",
                                "expr": "demo_error_ratio > 0.05",
                                "labels": {"severity": "critical"},
                                "annotations": {"summary": "checkout 5xx ratio above 5%"},
                            }
                        ],
                    }
                ]
            }
        )
    )
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(tmp_path / "rules.yml")],
                "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
                "scrape_configs": [
                    {"job_name": "checkout", "static_configs": [{"targets": [f"127.0.0.1:{gauge.port}"]}]}
                ],
            }
        )
    )
    (tmp_path / "alertmanager.yml").write_text(
        yaml.safe_dump(
            {
                "route": {
                    "receiver": "alertpilot",
                    "group_by": ["alertname", "service"],
                    "group_wait": "1s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "alertpilot",
                        "webhook_configs": [
                            {
                                "url": f"http://127.0.0.1:{serve_port}/webhooks/alertmanager",
                                "send_resolved": True,
                                "http_config": {"authorization": {"type": "Bearer", "credentials": TOKEN}},
                            }
                        ],
                    }
                ],
            }
        )
    )
    (tmp_path / "alertpilot.yaml").write_text(
        yaml.safe_dump(
            {
                "prometheus": {"url": f"http://127.0.0.1:{prom_port}"},
                "services": {"checkout": {"criticality": 90, "users": 40000}},
                "policy": {"verify_after_s": 1},
                "schedule": {"waiting_batch": "0 5 * * *"},
                "users": [{"name": "reader"}],
            }
        )
    )
    reader = person_token(tmp_path / "alertpilot.yaml", tmp_path / "home", "reader")
    procs = [
        start(
            [
                sys.executable,
                "-m",
                "cli",
                "serve",
                "--port",
                str(serve_port),
                "--config",
                str(tmp_path / "alertpilot.yaml"),
            ],
            tmp_path / "serve.log",
            cli_env(tmp_path / "home", ALERTPILOT_WEBHOOK_TOKEN=TOKEN),
        ),
        start(
            [
                alertmanager,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            tmp_path / "alertmanager.log",
        ),
        start(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--rules.alert.resend-delay=2s",
            ],
            tmp_path / "prometheus.log",
        ),
    ]
    try:
        for port in (serve_port, am_port, prom_port):
            wait_for_port(port, timeout=30)
        yield gauge, f"http://127.0.0.1:{serve_port}", reader
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        gauge.server.shutdown()
        for log in ("serve.log", "alertmanager.log", "prometheus.log"):
            print(f"--- {log}\n" + (tmp_path / log).read_text()[-3000:])


def wait_for(what: str, probe: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_a_firing_rule_becomes_an_incident_with_a_report_and_resolves(stack: tuple[Gauge, str, str]) -> None:
    gauge, base, reader = stack
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {reader}"}, timeout=10)

    def reported() -> dict[str, Any] | None:
        rows = api.get("/incidents").json()
        if not rows:
            return None
        doc = api.get(f"/incidents/{rows[0]['id']}").json()
        return doc if doc.get("report") else None

    doc = wait_for("an incident with a report", reported, timeout=40)
    assert doc["alert"]["source"] == "alertmanager" and doc["alert"]["name"] == "HighErrorRate"
    assert doc["alert"]["expression"] == "demo_error_ratio > 0.05"  # from the generatorURL
    assert doc["report"]["status"] == "completed"
    assert "demo_error_ratio > 0.05" in doc["report"]["promQL"]

    gauge.value = 0.0  # the service recovers: Prometheus resolves, Alertmanager sends "resolved"

    def resolved() -> dict[str, Any] | None:
        latest = api.get(f"/incidents/{doc['id']}").json()
        return latest if latest["alert"]["status"] == "resolved" else None

    final = wait_for("the resolved notification", resolved, timeout=40)
    assert final["alert"]["ends_at"]
    assert final["status"] in ("resolved", "escalated")
    assert any(a["kind"] == "worker" for a in final["audit"])  # the in-process worker ran it
    assert len(api.get("/incidents").json()) == 1  # the resolved notice joined, it did not open a new one
    metrics = api.get("/metrics").text
    assert 'alertpilot_alerts_received_total{outcome="accepted",source="alertmanager"}' in metrics
    assert "alertpilot_graph_step_seconds_count" in metrics
