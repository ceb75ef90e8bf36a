"""Diagnosis in LLM mode: the model refines the playbook through recorded tools, or the playbook stands."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage

from agents.deps import Deps, NodeUpdate
from agents.diagnosis import consult_model, investigate
from state.alert import parse_alerts
from state.config import load_settings
from tests.conftest import DEMO_CASE
from tests.fakes import ScriptedModel, answer
from tools.catalog import build_registry, open_world


def _setup(home: Any, model: Any) -> tuple[Deps, Any]:
    settings = load_settings(DEMO_CASE / "config.yaml", home=home)
    deps = Deps(settings=settings, tools=build_registry(settings, open_world(settings)), model=model)
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    return deps, alert


def _playbook(deps: Deps, alert: Any) -> Any:
    session = deps.session("diagnosis", _state(alert))
    diagnosis, findings = investigate(session, alert, "build_info", alert.starts_at, deps.settings.logs)
    return session, diagnosis, findings


def _state(alert: Any) -> Any:
    from state.incident import IncidentState

    return IncidentState(incident_id="i", alert=alert)


def test_playbook_chain_cites_business_event_and_audit(home: Any) -> None:
    deps, alert = _setup(home, None)
    _, diagnosis, findings = _playbook(deps, alert)
    kinds = {f.kind for f in findings}
    assert {"metric", "log", "event", "audit", "release"} <= kinds
    assert diagnosis.suspected_release == "v2.2" and "deploy-bot@ci" in diagnosis.root_cause
    chain = next(f for f in findings if f.kind == "log" and "chain" in f.evidence).evidence["chain"]
    assert chain["events"] and chain["audit"]


def test_model_answer_replaces_the_playbook_and_its_calls_are_recorded(home: Any) -> None:
    reply = {
        "summary": "v2.2 breaks payment calls",
        "root_cause": "nil payment response in v2.2",
        "suspected_release": "v2.2",
        "known_good_release": "v2.1",
        "release_confidence": 0.9,
        "evidence": ["trace chain"],
    }
    model = ScriptedModel(
        responses=[
            AIMessage(content="", tool_calls=[{"name": "classify_logs", "args": {"source": "files"}, "id": "c1"}]),
            answer(reply),
        ]
    )
    deps, alert = _setup(home, model)
    session, diagnosis, findings = _playbook(deps, alert)
    update = NodeUpdate(_state(alert), deps, "diagnose")
    merged, more = consult_model(update, session, alert, diagnosis, findings)
    assert merged.root_cause == "nil payment response in v2.2"
    assert session.calls[-1].tool == "classify_logs" and session.calls[-1].status == "success"
    assert more[-1].title == "diagnosis by model"
    # the subject is bound: the model's classify_logs read only the incident's namespace and workload
    assert session.calls[-1].args["namespace"] == "shop" and session.calls[-1].args["workload"] == "checkout"
    calls = update.build()["model_calls"]
    assert [c.agent for c in calls] == ["diagnosis", "diagnosis"] and calls[1].content == model.responses[1].content


def test_failing_model_falls_back_to_the_playbook_and_says_so(home: Any) -> None:
    model = ScriptedModel(responses=[AIMessage(content="I think it is DNS.")])
    deps, alert = _setup(home, model)
    session, diagnosis, findings = _playbook(deps, alert)
    merged, more = consult_model(NodeUpdate(_state(alert), deps, "diagnose"), session, alert, diagnosis, findings)
    assert merged == diagnosis
    assert more[-1].title == "model diagnosis failed; playbook result used" and more[-1].severity == "warning"
    assert more[-1].detail == "answer invalid after one repair turn: the answer is not JSON"
