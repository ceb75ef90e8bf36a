"""The Dockerfile really builds, and the image really runs each role.

No Docker daemon runs here and no container registry is reachable, so the image is built
with buildah (Debian package) by deploy/build-image.sh on a base made from Debian packages,
and its roles run with ``buildah run`` (chroot isolation, host loopback network).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import ROOT, free_port, require_binary, wait_for_port

pytestmark = pytest.mark.integration
TAG = "localhost/alertpilot:test"


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    """The image built from this checkout (layers cached between runs)."""
    buildah = require_binary("buildah")
    require_binary("mmdebstrap")
    result = subprocess.run(
        ["sh", str(ROOT / "deploy" / "build-image.sh"), TAG], cwd=ROOT, capture_output=True, text=True, timeout=1800
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    yield buildah


@contextmanager
def container(buildah: str) -> Iterator[str]:
    name = subprocess.run([buildah, "from", "--quiet", TAG], capture_output=True, text=True, check=True).stdout.strip()
    try:
        yield name
    finally:
        subprocess.run([buildah, "rm", name], capture_output=True, check=False)


def in_image(
    buildah: str, name: str, *command: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    flags = [f"--env={k}={v}" for k, v in (env or {}).items()]
    return subprocess.run(
        [buildah, "run", "--isolation", "chroot", "--network", "host", *flags, name, "--", *command],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@contextmanager
def serving(buildah: str, name: str, port: int, *command: str, env: dict[str, str]) -> Iterator[str]:
    """A long-running role inside the image; stopped (whole process group) afterwards."""
    flags = [f"--env={k}={v}" for k, v in env.items()]
    proc = subprocess.Popen(
        [buildah, "run", "--isolation", "chroot", "--network", "host", *flags, name, "--", *command],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=90)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.mark.timeout(1800)
def test_the_image_is_non_root_with_the_alertpilot_entrypoint_and_a_healthcheck(image: str) -> None:
    inspected = subprocess.run([image, "inspect", "--type", "image", TAG], capture_output=True, text=True, check=True)
    config = json.loads(inspected.stdout)["Docker"]["config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["alertpilot"]
    assert config["Cmd"] == ["serve", "--host", "0.0.0.0", "--port", "8080"]
    assert "/healthz" in " ".join(config["Healthcheck"]["Test"])
    with container(image) as name:
        who = in_image(image, name, "id", "-u")
        assert who.stdout.strip() == "10001"
        # No compiler, no make, no installer in the venv: nothing to build or fetch code with.
        tools = in_image(image, name, "sh", "-c", "for t in gcc cc c++ make pip pip3; do command -v $t; done; true")
        assert tools.stdout.strip() == "", tools.stdout


@pytest.mark.timeout(600)
def test_the_image_runs_the_demo_end_to_end(image: str) -> None:
    with container(image) as name:
        result = in_image(image, name, "alertpilot", "demo", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["status"] == "resolved"


@pytest.mark.timeout(600)
def test_serve_and_the_executor_answer_their_healthchecks_inside_the_image(image: str) -> None:
    serve_port, executor_port = free_port(), free_port()
    with container(image) as name:
        env = {"ALERTPILOT_WEBHOOK_TOKEN": "image-token", "ALERTPILOT_HEALTH_PORT": str(serve_port)}
        with serving(
            image, name, serve_port, "alertpilot", "serve", "--host", "127.0.0.1", "--port", str(serve_port), env=env
        ) as base:
            deadline = time.monotonic() + 90  # /healthz is ok once serve's worker child has heartbeated
            while httpx.get(f"{base}/healthz", timeout=10).json()["status"] != "ok" and time.monotonic() < deadline:
                time.sleep(0.5)
            assert httpx.get(f"{base}/healthz", timeout=10).json()["status"] == "ok"
            # The image's own HEALTHCHECK command, as the container engine runs it.
            check = in_image(image, name, "python", "-c", _healthcheck(), env=env)
            assert check.returncode == 0, check.stderr
            stored = httpx.post(
                f"{base}/webhooks/generic",
                json={"name": "HighErrorRate", "service": "checkout", "severity": "critical"},
                headers={"Authorization": "Bearer image-token"},
                timeout=10,
            )
            assert stored.status_code == 200, stored.text
        env = {"ALERTPILOT_EXECUTOR_TOKEN": "exec-token", "ALERTPILOT_HEALTH_PORT": str(executor_port)}
        command = [
            "alertpilot",
            "executor",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(executor_port),
            "--backend",
            "dry-run",
        ]
        with serving(image, name, executor_port, *command, env=env) as base:
            assert httpx.get(f"{base}/healthz", timeout=10).json() == {"status": "ok", "backend": "dry-run"}
            answer = httpx.post(
                f"{base}/mcp",
                json={"method": "restart", "params": json.dumps({"service": "checkout"})},
                headers={"X-Auth-Token": "exec-token"},
                timeout=10,
            )
            assert answer.json()["status"] == "success", answer.text
        mcp = in_image(image, name, "alertpilot", "mcp", "serve", "nosuchserver")
        assert mcp.returncode == 2 and "Traceback" not in mcp.stderr


def _healthcheck() -> str:
    """The Python the Dockerfile's HEALTHCHECK runs."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.strip().startswith('CMD ["python", "-c",'):
            return str(json.loads(line.strip().removeprefix("CMD "))[2])
    raise AssertionError("no HEALTHCHECK CMD in the Dockerfile")
