"""LLM mode of the diagnosis: a tool-using model refines the playbook's conclusion.

The playbook always runs first (its calls are recorded and its findings kept); the
model then sees that evidence and may call the same read-only tools through the same
recording session. A model that fails, or answers without grounds, leaves the
playbook's diagnosis in place, with a finding that says so.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from agents.brain import run_agent
from agents.deps import Deps
from prompts import read_prompt
from state.alert import Alert
from state.incident import Diagnosis, Finding
from tools.registry import ToolRegistry, ToolSession

TOOLS = [
    "execute_query",
    "execute_range_query",
    "list_metrics",
    "get_metric_metadata",
    "get_targets",
    "search_logs",
    "classify_logs",
    "trace_chain",
    "get_monitor_data",
]


class DiagnosisAnswer(BaseModel):
    """The model's structured diagnosis."""

    summary: str = Field(description="One sentence: what is wrong.")
    root_cause: str = Field(description="The cause, citing evidence.")
    suspected_release: str | None = Field(default=None, description="Version that caused it, if any.")
    known_good_release: str | None = Field(default=None, description="Version to roll back to, if known.")
    release_confidence: float = Field(default=0.0, ge=0, le=1)
    evidence: list[str] = Field(default_factory=list, description="Titles of the evidence relied on.")


def _task(alert: Alert, diagnosis: Diagnosis, findings: list[Finding]) -> str:
    facts = {
        "alert": {
            "name": alert.name,
            "service": alert.service,
            "namespace": alert.namespace,
            "starts_at": alert.starts_at.isoformat(),
            "expression": alert.expression,
            "summary": alert.summary,
        },
        "playbook_diagnosis": diagnosis.model_dump(),
        "evidence": [{"kind": f.kind, "title": f.title, "detail": f.detail[:300], "query": f.query} for f in findings],
    }
    return "Diagnose this incident.\n" + json.dumps(facts, ensure_ascii=False, default=str)[:12_000]


def ask_model(
    deps: Deps, session: ToolSession, alert: Alert, diagnosis: Diagnosis, findings: list[Finding]
) -> tuple[Diagnosis, list[Finding]]:
    """The model's diagnosis when a model is configured and answers; the playbook's otherwise."""
    model = deps.model  # built once at the entry point from llm.model (None = offline)
    if model is None:
        return diagnosis, findings
    if not isinstance(deps.tools, ToolRegistry):
        return diagnosis, [*findings, _fallback("tools are a recording (replay): the model is not consulted")]
    outcome = run_agent(
        model,
        deps.tools,
        session,
        TOOLS,
        read_prompt("diagnosis.md"),
        _task(alert, diagnosis, findings),
        DiagnosisAnswer,
    )
    if outcome.output is None:
        return diagnosis, [*findings, _fallback(outcome.error)]
    answer = outcome.output
    merged = diagnosis.model_copy(
        update={
            "summary": answer.summary,
            "root_cause": answer.root_cause,
            "suspected_release": answer.suspected_release,
            "known_good_release": answer.known_good_release or diagnosis.known_good_release,
            "release_confidence": answer.release_confidence,
        }
    )
    note = Finding(
        kind="data",
        title="diagnosis by model",
        detail="; ".join(answer.evidence[:8]),
        evidence={"playbook": diagnosis.model_dump(), "model": answer.model_dump()},
    )
    return merged, [*findings, note]


def _fallback(reason: str) -> Finding:
    return Finding(
        kind="data",
        title="model diagnosis failed; playbook result used",
        detail=reason[:500],
        severity="warning",
    )
