"""Shared fixtures: an isolated ALERTPILOT_HOME, the CLI as a subprocess, real servers.

Integration tests need real binaries (Prometheus, Alertmanager, PostgreSQL, Chromium).
Locally a missing binary skips the test; under CI (``CI=true``) it fails, because
``.ci/run`` installs them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "data" / "reference"  # copies of ../shared/reference samples
DEMO_CASE = ROOT / "evals" / "cases" / "checkout-bad-release"


def require_binary(*names: str) -> str:
    """Path of the first binary found; skip locally, fail under CI, when none is."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    message = f"needs {' or '.join(names)} (installed by .ci/run)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """An unused loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Block until something listens on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def wait_until(what: str, probe: Any, timeout: float = 60.0, every: float = 0.3) -> Any:
    """Poll ``probe`` until it answers something truthy (returned); fail the test naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what}")


def llm_config(tmp_path: Path, base_url: str, llm: dict[str, Any] | None = None, **policy: Any) -> Path:
    """The demo's config (its world, the process executor) in LLM mode against the server at ``base_url``."""
    import yaml

    config = yaml.safe_load((DEMO_CASE / "config.yaml").read_text())
    config["world"] = str(DEMO_CASE)
    config["logs"] = {"files": [str(DEMO_CASE / "logs")]}
    config["llm"] = {"model": "openai:scripted-1", "base_url": base_url, "timeout_s": 20, "max_retries": 0,
                     "max_output_tokens": 256, **(llm or {})}  # fmt: skip
    config["policy"] = {**config["policy"], **policy}
    path = tmp_path / "alertpilot.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for running the CLI from this checkout with an isolated home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTPILOT_")}
    env.update({"ALERTPILOT_HOME": str(home), "PYTHONPATH": str(ROOT), **extra})
    return env


def run_cli(*args: str, home: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``alertpilot ARGS`` from this checkout as a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env=cli_env(home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def person_token(config: Path, home: Path, name: str, role: str = "viewer") -> str:
    """A personal API token for ``name`` (a user in ``config``), made as an operator does: ``users token create``."""
    done = run_cli("users", "token", "create", name, "--role", role, "--config", str(config), home=home)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@contextmanager
def executor_service(home: Path, token: str, *flags: str, port: int | None = None) -> Iterator[str]:
    """``alertpilot executor serve --backend process [FLAGS]`` on the demo world; yields its base URL."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "executor", "serve", "--port", str(port), "--backend", "process",
         "--config", str(DEMO_CASE / "config.yaml"), *flags],
        cwd=ROOT, env=cli_env(home, ALERTPILOT_EXECUTOR_TOKEN=token),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def _no_real_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Real model calls are impossible in the suite: no provider key reaches a test, and any
    connection or name lookup for a host off the machine fails (tests/network_audit.py)."""
    from tests.network_audit import forbid_remote

    for key in ("OPENAI_API_KEY", "DASHSCOPE_API_KEY", "DEEPSEEK_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    with forbid_remote():
        yield


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ALERTPILOT_HOME for this test (and no config from the environment)."""
    path = tmp_path / "home"
    path.mkdir()
    for key in list(os.environ):
        if key.startswith("ALERTPILOT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ALERTPILOT_HOME", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def _pg_bin(name: str) -> str | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return shutil.which(name)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for this session: $ALERTPILOT_TEST_POSTGRES_URL, or a throwaway cluster."""
    given = os.environ.get("ALERTPILOT_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        require_binary("initdb")
    assert initdb and pg_ctl
    # Not under pytest's tmp dir: initdb runs as the postgres user, who cannot enter root's 0700 dirs.
    data = Path(tempfile.mkdtemp(prefix="alertpilot-pg-"))
    port = free_port()
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(data, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_postgres, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"], check=True, capture_output=True
    )
    subprocess.run(
        [
            *as_postgres,
            pg_ctl,
            "-D",
            str(data),
            "-o",
            f"-p {port} -k /tmp -c listen_addresses=127.0.0.1",
            "-w",
            "start",
            "-l",
            str(data / "log"),
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def pg_database(postgres_url: str) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"
