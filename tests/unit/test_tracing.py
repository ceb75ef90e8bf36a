"""OpenTelemetry spans: off by default, on by OTEL_* configuration, one per graph node, tool call and model call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents.deps import Deps
from graph.runner import open_runner
from state.alert import parse_alerts
from state.config import load_settings
from tests.conftest import DEMO_CASE
from tests.fakes import ScriptedModel, answer
from tools import tracing
from tools.catalog import build_registry, open_world


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, None),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, None),
    ],
)
def test_tracing_follows_the_standard_environment(env: dict[str, str], expected: str | None) -> None:
    assert tracing.wanted(env) == expected


def test_off_by_default_configures_nothing() -> None:
    tracing.reset()
    assert tracing.configure({}) is False


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.configure({}, exporter=exporter)
    yield exporter
    tracing.reset()


def test_an_llm_incident_leaves_node_tool_and_model_spans(home: Path, spans: InMemorySpanExporter) -> None:
    settings = load_settings(DEMO_CASE / "config.yaml", home=home)
    settings.policy = settings.policy.model_copy(update={"verify_after_s": 0})
    diagnosis = {"summary": "v2.2", "root_cause": "release v2.2", "suspected_release": "v2.2",
                 "known_good_release": "v2.1", "release_confidence": 0.9, "evidence": []}  # fmt: skip
    model = ScriptedModel(responses=[answer(diagnosis)], model_name="scripted-7")
    deps = Deps(settings=settings, tools=build_registry(settings, open_world(settings)), model=model,
                sleep=lambda _s: None)  # fmt: skip
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    with open_runner(settings, deps) as runner:
        doc = runner.start(alert).document
    assert doc["status"] == "resolved"
    finished = spans.get_finished_spans()
    names = [s.name for s in finished]
    assert {"node diagnose", "node plan", "node execute", "node verify"} <= set(names)
    nodes = [s for s in finished if s.name == "node diagnose"]
    assert nodes[0].attributes["alertpilot.incident"] == doc["id"]
    tools = [s for s in finished if s.name == "execute_tool execute_range_query"]
    assert tools and tools[0].attributes["alertpilot.agent"] == "diagnosis"
    chats = [s for s in finished if s.name.startswith("chat ")]
    assert chats, names
    chat: Any = chats[0].attributes
    assert chat["gen_ai.operation.name"] == "chat" and chat["alertpilot.agent"] == "diagnosis"
    assert "gen_ai.usage.input_tokens" in chat
    assert json.dumps(list(chat["gen_ai.response.finish_reasons"]))
