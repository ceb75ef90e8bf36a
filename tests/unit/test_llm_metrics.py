"""Model tokens, calls and latency per agent and model on /metrics."""

from __future__ import annotations

from prometheus_client import generate_latest

from server.metrics import Metrics


def test_model_calls_are_counted_by_agent_and_model() -> None:
    metrics = Metrics()
    ok = {"agent": "diagnosis", "model": "qwen-plus", "status": "success", "duration_ms": 1800.0,
          "usage": {"input_tokens": 900, "output_tokens": 120, "total_tokens": 1020}}  # fmt: skip
    metrics.on_event("model_call", ok)
    metrics.on_event("model_call", {**ok, "agent": "plan", "usage": {"total_tokens": 300}, "duration_ms": 400.0})
    metrics.on_event("model_call", {**ok, "status": "error", "usage": {}, "duration_ms": 20000.0})
    text = generate_latest(metrics.registry).decode()
    assert 'alertpilot_llm_tokens_total{agent="diagnosis",model="qwen-plus"} 1020.0' in text
    assert 'alertpilot_llm_tokens_total{agent="plan",model="qwen-plus"} 300.0' in text
    assert 'alertpilot_llm_calls_total{agent="diagnosis",model="qwen-plus",outcome="error"} 1.0' in text
    assert 'alertpilot_llm_call_seconds_count{agent="diagnosis",model="qwen-plus"} 2.0' in text
    assert 'alertpilot_llm_call_seconds_bucket{agent="plan",le="0.5",model="qwen-plus"} 1.0' in text
