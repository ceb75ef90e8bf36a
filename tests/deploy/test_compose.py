"""The compose stack: its wiring, its secrets, and its configs driving the real binaries.

No container engine runs on the CI machine, so the loop test runs the stack's own config
files (deploy/compose/) with real Prometheus, Alertmanager and `alertpilot serve` on
loopback, changing only the container host names into 127.0.0.1 ports.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from state.config import load_settings
from tests.conftest import ROOT, cli_env, free_port, person_token, require_binary, wait_for_port
from tests.deploy.tooling import DEPLOY, run

COMPOSE = DEPLOY / "compose"
ALERTPILOT_SERVICES = ("serve", "worker-1", "worker-2", "executor")


def stack() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    result = run(["sh", COMPOSE / "make-secrets.sh", tmp_path / "secrets"])
    assert result.returncode == 0, result.stderr
    return tmp_path / "secrets"


def test_the_stack_runs_every_role_from_one_image_with_postgres_prometheus_and_alertmanager() -> None:
    services = stack()["services"]
    assert set(services) == {*ALERTPILOT_SERVICES, "postgres", "prometheus", "alertmanager"}
    commands = {name: services[name]["command"] for name in ALERTPILOT_SERVICES}
    assert commands["serve"][:1] == ["serve"] and "--no-worker" in commands["serve"]
    assert commands["worker-1"][:1] == commands["worker-2"][:1] == ["worker"]
    assert commands["worker-1"] != commands["worker-2"]  # distinct names in the audit trail
    assert commands["executor"][:2] == ["executor", "serve"] and commands["executor"][-1] == "dry-run"
    assert {services[name]["image"] for name in ALERTPILOT_SERVICES} == {"alertpilot:local"}
    assert services["serve"]["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    for name in ALERTPILOT_SERVICES:
        service = services[name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert service["user"] == "10001:10001", name
    # Published ports stay on the host's loopback.
    for service in services.values():
        assert all(str(port).startswith("127.0.0.1:") for port in service.get("ports", []))


def test_no_secret_is_written_in_the_compose_files() -> None:
    services = stack()["services"]
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            assert not any(word in key for word in ("TOKEN", "PASSWORD", "SECRET", "DATABASE__URL")) or key.endswith(
                "_FILE"
            ), (name, key, value)
    for path in COMPOSE.glob("*.y*ml"):
        text = path.read_text()
        assert "credentials:" not in text and "password:" not in text.lower(), path


def test_make_secrets_writes_consistent_private_secrets_once(secrets: Path) -> None:
    app, executor = env_file(secrets / "alertpilot.env"), env_file(secrets / "executor.env")
    token = (secrets / "webhook_token").read_text()
    password = (secrets / "postgres_password").read_text()
    assert app["ALERTPILOT_WEBHOOK_TOKEN"] == token and len(token) >= 32
    assert app["ALERTPILOT_EXECUTOR_TOKEN"] == executor["ALERTPILOT_EXECUTOR_TOKEN"] != token
    assert app["ALERTPILOT_DATABASE__URL"] == f"postgresql://alertpilot:{password}@postgres:5432/alertpilot"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert stat.S_IMODE((secrets / "alertpilot.env").stat().st_mode) == 0o600
    # Re-running keeps every token (rotation is a deliberate act, docs/deploy.md).
    again = run(["sh", COMPOSE / "make-secrets.sh", secrets])
    assert again.returncode == 0 and (secrets / "webhook_token").read_text() == token


def test_every_file_the_stack_mounts_or_reads_exists(secrets: Path) -> None:
    document = stack()
    services = document["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).is_file(), (name, source)
            else:
                assert source in document["volumes"], (name, source)
        for path in service.get("env_file", []):
            assert (secrets / Path(path).name).is_file(), (name, path)
        for secret in service.get("secrets", []):
            assert (secrets / Path(document["secrets"][secret]["file"]).name).is_file(), (name, secret)


def test_the_compose_configs_pass_promtool_and_amtool(tmp_path: Path) -> None:
    promtool, amtool = require_binary("promtool"), require_binary("amtool")
    assert run([promtool, "check", "rules", COMPOSE / "demo-rules.yml"]).returncode == 0
    # promtool resolves rule_files on this machine: point the path at the file it names.
    config = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/demo-rules.yml"]
    config["rule_files"] = [str(COMPOSE / "demo-rules.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = run([promtool, "check", "config", tmp_path / "prometheus.yml"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    checked = run([amtool, "check-config", COMPOSE / "alertmanager.yml"])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_services_find_each_other_by_the_names_and_ports_the_stack_gives_them() -> None:
    services = stack()["services"]
    settings = load_settings(COMPOSE / "alertpilot.yaml")
    assert settings.prometheus.url == "http://prometheus:9090"
    executor_port = services["executor"]["command"][services["executor"]["command"].index("--port") + 1]
    assert settings.executor.backend == "http" and settings.executor.url == f"http://executor:{executor_port}"
    assert services["executor"]["environment"]["ALERTPILOT_HEALTH_PORT"] == executor_port
    serve_port = services["serve"]["command"][services["serve"]["command"].index("--port") + 1]
    receiver = yaml.safe_load((COMPOSE / "alertmanager.yml").read_text())["receivers"][0]["webhook_configs"][0]
    assert receiver["url"] == f"http://serve:{serve_port}/webhooks/alertmanager"
    assert receiver["http_config"]["authorization"]["credentials_file"] == "/run/secrets/webhook_token"
    prometheus = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert {"serve:8080"} == set(prometheus["scrape_configs"][1]["static_configs"][0]["targets"])


# ---------------------------------------------------------------------- the loop on loopback


def _start(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT, env=env)


@pytest.fixture
def loop(tmp_path: Path, secrets: Path) -> Iterator[str]:
    """The stack's Prometheus, Alertmanager and serve, with its own files, on loopback ports."""
    prometheus = require_binary("prometheus")
    alertmanager = require_binary("prometheus-alertmanager", "alertmanager")
    ports = {name: free_port() for name in ("prometheus", "alertmanager", "serve")}
    prom = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
    prom["rule_files"] = [str(COMPOSE / "demo-rules.yml")]
    prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{ports['alertmanager']}"]
    prom["scrape_configs"] = [
        {"job_name": "alertpilot", "static_configs": [{"targets": [f"127.0.0.1:{ports['serve']}"]}]}
    ]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prom))
    am = yaml.safe_load((COMPOSE / "alertmanager.yml").read_text())
    hook = am["receivers"][0]["webhook_configs"][0]
    hook["url"] = hook["url"].replace("http://serve:8080", f"http://127.0.0.1:{ports['serve']}")
    hook["http_config"]["authorization"]["credentials_file"] = str(secrets / "webhook_token")
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(am))
    app = yaml.safe_load((COMPOSE / "alertpilot.yaml").read_text())
    app["prometheus"]["url"] = f"http://127.0.0.1:{ports['prometheus']}"
    app["executor"]["url"] = f"http://127.0.0.1:{free_port()}"  # no executor here: nothing listens
    app["users"] = [*app.get("users", []), {"name": "reader"}]  # a person to read incidents as
    (tmp_path / "alertpilot.yaml").write_text(yaml.safe_dump(app))
    token = env_file(secrets / "alertpilot.env")["ALERTPILOT_WEBHOOK_TOKEN"]
    reader = person_token(tmp_path / "alertpilot.yaml", tmp_path / "home", "reader")
    procs = [
        _start(
            [sys.executable, "-m", "cli", "serve", "--port", str(ports["serve"]), "--config", str(tmp_path / "alertpilot.yaml")],
            tmp_path / "serve.log",
            cli_env(tmp_path / "home", ALERTPILOT_WEBHOOK_TOKEN=token, ALERTPILOT_EXECUTOR_TOKEN="unused"),
        ),
        _start(
            [alertmanager, f"--config.file={tmp_path / 'alertmanager.yml'}", f"--storage.path={tmp_path / 'am'}",
             f"--web.listen-address=127.0.0.1:{ports['alertmanager']}", "--cluster.listen-address="],
            tmp_path / "alertmanager.log",
        ),
        _start(
            [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{ports['prometheus']}", "--rules.alert.resend-delay=10s"],
            tmp_path / "prometheus.log",
        ),
    ]  # fmt: skip
    try:
        for port in ports.values():
            wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{ports['serve']}?token={reader}"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in ("serve.log", "alertmanager.log", "prometheus.log"):
            print(f"--- {log}\n" + (tmp_path / log).read_text()[-2000:])


@pytest.mark.integration
def test_the_demo_rule_becomes_a_triaged_incident_through_the_stacks_alertmanager_config(loop: str) -> None:
    base, _, query = loop.partition("?")
    headers = {"Authorization": f"Bearer {query.removeprefix('token=')}"}
    deadline = time.monotonic() + 150  # evaluation_interval 15 s + group_wait 10 s + triage, on a busy machine
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not found:
        answer = httpx.get(f"{base}/incidents", headers=headers, timeout=10)
        assert answer.status_code == 200
        found = [i for i in answer.json() if i["name"] == "CheckoutHighErrorRate" and i["score"] is not None]
        time.sleep(1)
    assert found, "the demo alert never became a triaged incident"
    (incident,) = found
    assert (incident["source"], incident["service"], incident["severity"]) == ("alertmanager", "checkout", "critical")
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    assert 'alertpilot_alerts_received_total{outcome="accepted",source="alertmanager"}' in metrics
    assert httpx.get(f"{base}/incidents", timeout=10).status_code == 401  # the token is really required
