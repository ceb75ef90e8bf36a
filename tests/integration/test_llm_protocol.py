"""The protocol tier: `alertpilot run` in LLM mode against a scripted OpenAI-compatible server on 127.0.0.1.

The server (tests/servers/openai_compat.py) answers in the shapes real providers send
(OpenAI, DashScope/Qwen, vLLM, llama.cpp), fails like them, or never answers. These tests
assert what the product does about it: bounded time, requests every server accepts,
recorded calls, fallbacks that say exactly why, and exact replay without a model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import DEMO_CASE, llm_config, person_token, run_cli
from tests.servers.openai_compat import LLAMA_CPP_PYTHON, PROFILES, Reply, has_tool, incident_agent, serve

pytestmark = pytest.mark.integration
ALERT = str(DEMO_CASE / "alert.json")


def run_incident(tmp_path: Path, config: Path) -> dict[str, Any]:
    result = run_cli("run", ALERT, "--config", str(config), "--json", home=tmp_path / "home", timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def finding(doc: dict[str, Any], title: str) -> dict[str, Any]:
    return next(f for f in doc["findings"] if f["title"] == title)


def plan_decisions(doc: dict[str, Any]) -> list[str]:
    return [d["summary"] for d in doc["decisions"] if d["node"] == "plan"]


@pytest.mark.parametrize("profile", PROFILES)
def test_llm_mode_end_to_end_against_each_provider_shape(tmp_path: Path, profile: str) -> None:
    with serve(incident_agent(), profile) as (server, url):
        doc = run_incident(tmp_path, llm_config(tmp_path, url))
    assert doc["status"] == "resolved"
    assert [a["action"] for a in doc["attempts"]] == ["version_rollback"]
    assert finding(doc, "diagnosis by model")["evidence"]["model_name"] == "scripted-1"
    assert doc["llm"]["calls"] == len(server.requests) and doc["llm"]["tokens"] == 150 * len(server.requests)
    assert set(doc["llm"]["agents"]) == {"diagnosis", "plan"}
    for body in server.requests:  # what every server accepts
        assert set(body) <= {"model", "messages", "max_tokens", "temperature", "stream", "tools", "tool_choice",
                             "response_format"}  # fmt: skip
        if body.get("tools"):
            assert body["tool_choice"] == "auto"
        assert body["max_tokens"] == 256 and "max_completion_tokens" not in body
        assert all(m.get("content") is not None for m in body["messages"])
    planner = [b for b in server.requests if has_tool(b, "version_rollback")]
    assert len(planner) == 1 and [t["function"]["name"] for t in planner[0]["tools"]] == ["version_rollback"]


def test_a_silent_server_cannot_hold_an_incident(tmp_path: Path) -> None:
    with serve(lambda _body: Reply(silent=True)) as (server, url):
        doc = run_incident(tmp_path, llm_config(tmp_path, url, {"timeout_s": 1}))
    assert doc["status"] == "resolved"  # the playbook's action, without the model
    why = "model request timed out after 1s (llm.timeout_s) and 0 retries"
    assert finding(doc, "model diagnosis failed; playbook result used")["detail"] == why
    assert any(f"no usable model proposal ({why}); playbook action kept" in d for d in plan_decisions(doc))
    assert doc["llm"]["agents"]["diagnosis"]["errors"] == 1


def test_a_slow_server_is_cut_off_by_the_incidents_time_budget(tmp_path: Path) -> None:
    agent = incident_agent()

    def slow(body: dict[str, Any]) -> Reply:  # every answer sensible, each 1.5 s late
        reply = agent(body)
        reply.delay_s = 1.5
        return reply

    with serve(slow, "vllm") as (server, url):
        doc = run_incident(tmp_path, llm_config(tmp_path, url, {"timeout_s": 20}, max_llm_seconds=2))
    assert doc["status"] == "resolved"  # the playbook's action, without the model
    # 1.5 s spent on the first answer: the second may take only what is left (at least 1 s), then nothing more
    assert len(server.requests) == 2 and doc["llm"]["seconds"] < 2 + 1 + 1
    why = "model request timed out after 1s (what policy.max_llm_seconds 2 had left) and 0 retries"
    assert finding(doc, "model diagnosis failed; playbook result used")["detail"] == why
    assert any("no usable model proposal (time budget spent: " in d for d in plan_decisions(doc))


def test_a_server_error_is_named_in_the_fallback(tmp_path: Path) -> None:
    with serve(lambda _body: Reply(status=500, error="Internal Server Error"), "llamacpp") as (_, url):
        doc = run_incident(tmp_path, llm_config(tmp_path, url))
    detail = finding(doc, "model diagnosis failed; playbook result used")["detail"]
    assert detail.startswith("model server answered HTTP 500: ") and "Internal Server Error" in detail
    assert doc["status"] == "resolved"


def test_an_answer_cut_by_the_length_limit_is_not_taken(tmp_path: Path) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if has_tool(body, "version_rollback"):
            return Reply(tool_calls=[("version_rollback", {"service": "checkout"})], finish_reason="length")
        return Reply(content='{"summary": "checkout err', finish_reason="length")

    with serve(respond, "vllm") as (_, url):
        doc = run_incident(tmp_path, llm_config(tmp_path, url))
    why = "answer cut by the length limit (finish_reason length, llm.max_output_tokens 256)"
    assert finding(doc, "model diagnosis failed; playbook result used")["detail"] == why
    assert any(f"no usable model proposal ({why})" in d for d in plan_decisions(doc))
    assert doc["status"] == "resolved"


def test_the_incident_token_budget_stops_further_requests(tmp_path: Path) -> None:
    with serve(incident_agent(), "dashscope") as (server, url):
        doc = run_incident(tmp_path, llm_config(tmp_path, url, max_llm_tokens=100))
    assert len(server.requests) == 1  # 150 tokens spent: nothing more is sent
    why = "token budget spent: 150 of policy.max_llm_tokens 100"
    assert finding(doc, "model diagnosis failed; playbook result used")["detail"] == why
    assert any(f"no usable model proposal ({why})" in d for d in plan_decisions(doc))


def test_an_injected_proposal_falls_back_to_the_playbook_not_to_a_human(tmp_path: Path) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if has_tool(body, "version_rollback"):
            return Reply(tool_calls=[("version_rollback", {"service": "checkout", "namespace": "prod"})])
        return Reply(content="no idea")

    with serve(respond, "openai") as (_, url):
        doc = run_incident(tmp_path, llm_config(tmp_path, url))
    assert doc["status"] == "resolved" and [a["action"] for a in doc["attempts"]] == ["version_rollback"]
    assert doc["attempts"][0]["params"]["namespace"] == "shop"
    assert any(
        "model proposal refused: namespace 'prod' is not this incident's 'shop'" in d for d in plan_decisions(doc)
    )


def test_replay_of_an_llm_incident_is_exact_without_a_model_and_a_fork_asks_anew(tmp_path: Path) -> None:
    home = tmp_path / "home"
    agent = incident_agent()

    def respond(body: dict[str, Any]) -> Reply:  # the second model blames the database instead
        reply = agent(body)
        if body["model"] == "scripted-2" and reply.content and "release v2.2" in reply.content:
            return Reply(content=json.dumps({"summary": "checkout errors come from its database",
                                             "root_cause": "the orders database", "evidence": []}))  # fmt: skip
        return reply

    with serve(respond, "openai") as (server, url):
        config = llm_config(tmp_path, url)
        doc = run_incident(tmp_path, config)
        made = len(server.requests)
        fork = run_cli("replay", doc["id"], "--checkpoint", "first", "--fork", "--set", "llm.model=openai:scripted-2",
                       "--json", "--config", str(config), home=home, timeout=180)  # fmt: skip
        assert fork.returncode in (0, 1), fork.stderr[-1500:]
        asked = server.requests[made:]
    assert asked and {b["model"] for b in asked} == {"scripted-2"}
    forked = json.loads(fork.stdout)
    assert forked["diff"] and any("its database" in line for line in forked["diff"]), forked["diff"]  # what changed
    # the server is gone: a plain re-run must come entirely from the recording
    rerun = run_cli("replay", doc["id"], "--checkpoint", "first", "--json", "--config", str(config), home=home,
                    timeout=180)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout[-1500:] + rerun.stderr[-1500:]
    result = json.loads(rerun.stdout)
    assert result["diverged_at"] is None and result["diff"] == []
    assert result["outcome"]["findings"] == result["original"]["findings"]
    assert result["outcome"]["decisions"] == result["original"]["decisions"]
    assert any("diagnosis by model" in f["title"] for f in result["outcome"]["findings"])


def test_an_unknown_llm_key_is_refused_with_exit_2_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "alertpilot.yaml"
    config.write_text("llm: {model: 'openai:x', base_url: 'http://127.0.0.1:9/v1', timeout: 2}\n")
    result = run_cli("run", ALERT, "--config", str(config), home=tmp_path / "home")
    assert result.returncode == 2
    assert result.stderr.strip() == "alertpilot: llm.timeout: unknown key"


def test_llama_cpp_python_server_quirks_are_avoided_and_a_refused_strategy_is_named(tmp_path: Path) -> None:
    with serve(incident_agent(), LLAMA_CPP_PYTHON) as (server, url):
        doc = run_incident(tmp_path, llm_config(tmp_path, url))  # json_object, tool_choice auto, content ""
    assert doc["status"] == "resolved" and doc["llm"]["agents"]["diagnosis"]["errors"] == 0
    assert finding(doc, "diagnosis by model")
    agent = incident_agent(read=None)

    def only_when_asked(body: dict[str, Any]) -> Reply:  # prose while investigating, JSON when asked for it
        return agent(body) if body.get("response_format") or has_tool(body, "version_rollback") else Reply("Looking.")

    with serve(only_when_asked, LLAMA_CPP_PYTHON) as (_, url):
        doc = run_incident(tmp_path / "schema", llm_config(tmp_path, url, {"structured_output": "json_schema"}))
    detail = finding(doc, "model diagnosis failed; playbook result used")["detail"]
    assert detail.startswith("model server answered HTTP 500") and "json_schema" in detail


def test_eval_with_a_model_scores_the_graph_with_the_react_baseline_beside_it(tmp_path: Path) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if has_tool(body, "list_metrics") and has_tool(body, "version_rollback"):  # the react agent: act, then stop
            if any(m.get("role") == "tool" for m in body["messages"]):
                return Reply(content='{"summary": "v2.2", "root_cause_entities": ["checkout", "v2.2"]}')
            return Reply(
                tool_calls=[("version_rollback", {"service": "checkout", "namespace": "shop", "target": "v2.1"})]
            )
        return incident_agent()(body)

    with serve(respond, "dashscope") as (server, url):
        config = tmp_path / "llm.yaml"
        config.write_text(f"llm: {{base_url: '{url}', timeout_s: 20, max_retries: 0}}\n")
        result = run_cli("eval", "--model", "openai:qwen-plus", "--agent", "react", "--case", "checkout-bad-release",
                         "--config", str(config), "--json", home=tmp_path / "home", timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    rows = {row["key"]: row for row in doc["metrics"]}
    assert {
        "mcp_call_accuracy",
        "pass^1",
        "tokens_per_episode",
        "model_calls_per_episode",
        "wall_s_per_episode",
    } <= set(rows)
    assert doc["graph"]["agent"] == "graph" and doc["react"]["agent"] == "react"
    assert rows["model_calls_per_episode"]["graph"] > 0 and rows["model_calls_per_episode"]["react"] == 2
    assert doc["graph"]["cases"][0]["status"] == "resolved"
    assert doc["cases"][0]["id"] == "checkout-bad-release" and "graph" in doc["cases"][0]["metrics"]["episode_success"]


def test_serve_exports_model_tokens_and_the_report_footer_shows_them(tmp_path: Path, monkeypatch: Any) -> None:
    import time

    from fastapi.testclient import TestClient

    from server.app import create_app
    from state.config import load_settings

    monkeypatch.setenv("ALERTPILOT_WEBHOOK_TOKEN", "t0ken-for-metrics")
    headers = {"Authorization": "Bearer t0ken-for-metrics"}
    home = tmp_path / "home"
    with serve(incident_agent(), "dashscope") as (server, url):
        config = llm_config(tmp_path, url)
        written = yaml.safe_load(config.read_text())
        written["users"] = [*written.get("users", []), {"name": "vera"}]  # a person who reads the incidents
        config.write_text(yaml.safe_dump(written))
        settings = load_settings(config, home=home)  # serve's own worker: a child process (the default)
        reader = {"Authorization": f"Bearer {person_token(config, home, 'vera')}"}  # the webhook token only posts
        with TestClient(create_app(settings)) as client:
            assert client.post("/webhooks/alertmanager", json=json.loads(Path(ALERT).read_text()),
                               headers=headers).status_code == 200  # fmt: skip
            deadline = time.monotonic() + 120
            while True:
                listed = client.get("/incidents", headers=reader).json()
                done = [i for i in listed if i["status"] in ("resolved", "escalated", "failed")]
                text = client.get("/metrics").text
                if done and 'alertpilot_llm_call_seconds_count{agent="plan"' in text:
                    break
                assert time.monotonic() < deadline, listed
                time.sleep(0.5)
        made = len(server.requests)
    doc = next(iter(done))
    assert doc["status"] == "resolved"
    tokens = {agent: 150 * n for agent, n in (("diagnosis", made - 1), ("plan", 1))}  # 150 tokens per answer
    for agent, spent in tokens.items():
        assert f'alertpilot_llm_tokens_total{{agent="{agent}",model="scripted-1"}} {float(spent)}' in text
        assert f'alertpilot_llm_calls_total{{agent="{agent}",model="scripted-1",outcome="success"}}' in text
    shown = run_cli("incidents", "show", doc["id"], "--config", str(config), home=home)
    assert shown.returncode == 0, shown.stderr
    footer = shown.stdout.strip().splitlines()[-1]
    assert footer.startswith(f"model scripted-1: {made} calls, {150 * made} tokens, ")
    assert f"diagnosis {made - 1} calls, {150 * (made - 1)} tokens" in footer and "plan 1 call, 150 tokens" in footer
