"""LLM mode of the diagnosis: a tool-using model refines the playbook's conclusion.

The playbook always runs first (its calls are recorded and its findings kept); the
model then sees that evidence and may call the same read-only tools through the same
recording session. A model that fails, or answers without grounds, leaves the
playbook's diagnosis in place, with a finding that says so.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from agents.llm_calls import ModelGate
from agents.llm_loop import run_agent
from agents.llm_scope import Scope
from prompts import read_prompt
from state.alert import Alert
from state.config import Settings
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


def _task(alert: Alert, diagnosis: Diagnosis, findings: list[Finding], limit: int) -> str:
    """The facts as JSON within ``limit`` characters (``llm.max_prompt_chars``): the least telling go first."""
    evidence = [{"kind": f.kind, "title": f.title, "detail": f.detail[:300], "query": f.query} for f in findings]
    playbook = diagnosis.model_dump(mode="json")
    facts = {
        "alert": {
            "name": alert.name,
            "service": alert.service,
            "namespace": alert.namespace,
            "starts_at": alert.starts_at.isoformat(),
            "expression": alert.expression,
            "summary": alert.summary,
        },
        "playbook_diagnosis": playbook,
        "evidence": evidence,
    }
    bulky = ["versions", "cause"]  # the playbook's particulars: first to go after the evidence list
    while True:
        text = "Diagnose this incident.\n" + json.dumps(facts, ensure_ascii=False, default=str)
        if len(text) <= limit or not (evidence or bulky):
            return text[:limit]
        if evidence:
            evidence.pop()
        else:
            playbook.pop(bulky.pop(0), None)


def schema_catalog() -> ToolRegistry:
    """The diagnosis tools' names and input schemas without providers (a replay's recorded tools have none)."""
    from state.config import LogsConfig
    from tools.logs.sources import LogSources
    from tools.logs.tools import log_tools
    from tools.metrics import metrics_tools

    class _Nothing:
        def __getattr__(self, _name: str) -> Any:
            raise RuntimeError("schema catalog: no provider")

    return ToolRegistry([*metrics_tools(_Nothing()), *log_tools(LogSources(LogsConfig(), {}))])  # type: ignore[arg-type]


def scope_of(settings: Settings, alert: Alert) -> Scope:
    """The incident's reach: its configured repository, its subject's namespace and workload."""
    subject = alert.subject
    return Scope(
        repo=settings.service(alert.service).repo,
        namespace=subject.namespace or alert.namespace,
        workload=subject.workload or None,
    )


def ask_model(
    gate: ModelGate | None,
    tools: Any,
    session: ToolSession,
    alert: Alert,
    diagnosis: Diagnosis,
    findings: list[Finding],
) -> tuple[Diagnosis, list[Finding]]:
    """The model's diagnosis when a model is configured and answers; the playbook's otherwise, saying why."""
    if gate is None:
        return diagnosis, findings
    catalog = tools if isinstance(tools, ToolRegistry) and tools.has("execute_query") else schema_catalog()
    outcome = run_agent(
        gate,
        catalog,
        session,
        TOOLS,
        read_prompt("diagnosis.md"),
        _task(alert, diagnosis, findings, gate.settings.llm.max_prompt_chars),
        DiagnosisAnswer,
        scope=scope_of(gate.settings, alert),
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
        evidence={"playbook": diagnosis.model_dump(), "model": answer.model_dump(), "model_name": gate.name},
    )
    return merged, [*findings, note]


def _fallback(reason: str) -> Finding:
    return Finding(
        kind="data",
        title="model diagnosis failed; playbook result used",
        detail=reason[:500],
        severity="warning",
    )
