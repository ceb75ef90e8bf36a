"""The real-model tier: llama.cpp's llama-server with SmolLM2-135M-Instruct on 127.0.0.1.

A 135M model answers badly; these tests assert the product's behaviour around a real
model, not the model's quality: every run ends inside its bounds, every recorded model
call is a valid record (an answer with its finish reason and usage, or an error that says
what happened), every fallback says why, nothing outside policy is executed, a replay is
exact without calling the model, and a server that dies mid-run costs a fallback, not the
incident. ``.ci/run`` provisions the server (.ci/model-server.sh) so this tier always runs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from graph.runner import open_reader
from state.config import load_settings
from state.incident import IncidentState
from tests.conftest import DEMO_CASE, ROOT, cli_env, free_port, llm_config, run_cli
from tests.servers.llama import llama_server

pytestmark = pytest.mark.integration
ALERT = str(DEMO_CASE / "alert.json")
# A prompt that fits the 2048-token context, so the diagnosis is really asked (a longer one is refused: 400).
LLM = {"model": "openai:smollm2", "timeout_s": 120, "max_retries": 0, "max_output_tokens": 64, "max_prompt_chars": 2000}
BOUND_S = 900  # the subprocess limit: a run that does not end by then has failed its bounds
FALLBACK_TITLES = ("model diagnosis failed; playbook result used",)


@pytest.fixture(scope="module")
def model_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with llama_server(free_port(), log) as (url, _process):
        yield url


def predicted_tokens(url: str) -> float:
    """Tokens the server has generated so far (its /metrics)."""
    with urllib.request.urlopen(url.removesuffix("/v1") + "/metrics", timeout=5) as answer:  # noqa: S310
        text = answer.read().decode()
    found = re.search(r"^llamacpp:tokens_predicted_total\s+(\S+)", text, re.M)
    return float(found.group(1)) if found else 0.0


def incident_state(config: Path, home: Path, incident_id: str) -> IncidentState:
    with open_reader(load_settings(config, home=home)) as reader:
        state = reader.state(incident_id)
    assert state is not None
    return state


def assert_sound(state: IncidentState, doc: dict[str, Any]) -> None:
    """What the product promises whatever the model said."""
    assert state.model_calls, "the model was asked"
    for call in state.model_calls:
        assert call.model == "smollm2" and len(call.digest) == 64 and call.request["messages"]
        if call.status == "success":
            assert call.finish_reason in ("stop", "tool_calls", "length") and call.usage.total_tokens > 0
        else:
            assert call.error and call.usage.total_tokens == 0
    for finding in doc["findings"]:
        if finding["title"] in FALLBACK_TITLES:
            assert finding["detail"].strip()  # a fallback says why
    plans = [d["summary"] for d in doc["decisions"] if d["node"] == "plan" and "attempt" in d["summary"]]
    assert all("(" in p for p in plans)  # each plan says what the model's turn came to
    executed = [c.tool for c in state.tool_calls if c.mutating and c.status == "success"]
    assert set(executed) <= {"version_rollback"}  # the only rung open to this release incident
    assert all(c.status == "denied" for c in state.tool_calls if c.mutating and c.tool != "version_rollback")


def test_llm_mode_against_a_real_model_is_bounded_recorded_and_replays_exactly(tmp_path: Path, model_url: str) -> None:
    home = tmp_path / "home"
    config = llm_config(tmp_path, model_url, LLM, max_llm_seconds=600)
    result = run_cli("run", ALERT, "--config", str(config), "--json", home=home, timeout=BOUND_S)
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    assert doc["status"] in ("resolved", "escalated", "awaiting_approval")
    state = incident_state(config, home, doc["id"])
    assert_sound(state, doc)
    assert doc["llm"]["calls"] == len(state.model_calls) and doc["llm"]["tokens"] == state.llm_tokens
    before = predicted_tokens(model_url)
    rerun = run_cli("replay", doc["id"], "--checkpoint", "first", "--json", "--config", str(config), home=home,
                    timeout=BOUND_S)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout[-1500:] + rerun.stderr[-1500:]
    replayed = json.loads(rerun.stdout)
    assert replayed["diverged_at"] is None and replayed["outcome"] == replayed["original"]
    assert predicted_tokens(model_url) == before  # the replay asked the model nothing


def test_the_eval_scores_the_graph_with_a_real_model(tmp_path: Path, model_url: str) -> None:
    config = tmp_path / "llm.yaml"
    config.write_text(json.dumps({"llm": {**LLM, "base_url": model_url}}))
    result = run_cli("eval", "--model", "openai:smollm2", "--case", "checkout-bad-release", "--case",
                     "am-cart-info-latency", "--config", str(config), "--json", home=tmp_path / "home",
                     timeout=BOUND_S)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    assert doc["agent"] == "graph" and doc["episodes"] == 2
    assert doc["model_calls"] > 0 and doc["tokens"] > 0
    noop = next(c for c in doc["cases"] if c["id"] == "am-cart-info-latency")
    assert noop["episodes"][0]["model_calls"] == 0  # an informational alert asks no model: triage stops it
    assert all(c["errors"] == [] for c in doc["cases"])  # no episode crashed


def test_the_briefing_with_a_real_model_is_spoken_only_when_fit(tmp_path: Path, model_url: str) -> None:
    config = llm_config(tmp_path, model_url, LLM)
    text = config.read_text() + "users:\n- {name: alertpilot, rollback_permission: true}\n- {name: alice}\n"
    config.write_text(text)
    result = run_cli("briefing", "--user", "alice", "--json", "--force", "--config", str(config),
                     home=tmp_path / "home", timeout=BOUND_S)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    assert doc["mode"] == "llm" or doc["mode"].startswith("offline (model speech not used: ")
    assert doc["speech"].startswith("你好，alice")


def test_a_server_killed_mid_run_costs_a_fallback_not_the_incident(tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = tmp_path / "dying.log"
    with llama_server(free_port(), log) as (url, server):
        config = llm_config(tmp_path, url, LLM)
        run = subprocess.Popen(
            [sys.executable, "-m", "cli", "run", ALERT, "--config", str(config), "--json"],
            cwd=ROOT, env=cli_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while "processing task" not in log.read_text(errors="replace"):  # the first model request arrived
            assert run.poll() is None and time.monotonic() < deadline, "the run never asked the model"
            time.sleep(0.1)
        server.kill()
        server.wait(10)
        out, err = run.communicate(timeout=BOUND_S)
    assert run.returncode == 0, err[-2000:]
    doc = json.loads(out)
    assert doc["status"] in ("resolved", "escalated", "awaiting_approval")
    reasons = [f["detail"] for f in doc["findings"] if f["title"] in FALLBACK_TITLES]
    reasons += [d["summary"] for d in doc["decisions"] if d["node"] == "plan"]
    assert any("unreachable" in r or "model request failed" in r or "HTTP" in r for r in reasons), reasons
    state = incident_state(config, home, doc["id"])
    assert any(c.status == "error" for c in state.model_calls)
