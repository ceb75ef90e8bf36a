"""The incident graph: nodes and edges only (DESIGN §2)."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from agents import diagnosis, lifecycle, pr_review, reporting, rollback, triage, verify
from agents.deps import Deps
from graph import routes
from state.incident import IncidentState


def build_graph() -> StateGraph[Any, Any, Any, Any]:
    """The uncompiled incident graph."""
    graph = StateGraph(IncidentState, context_schema=Deps)
    graph.add_node("ingest", lifecycle.ingest)
    graph.add_node("triage", triage.triage)
    graph.add_node("diagnose", diagnosis.diagnose)
    graph.add_node("review", pr_review.review)
    graph.add_node("report", reporting.report)
    graph.add_node("plan", rollback.plan)
    graph.add_node("guard", rollback.guard)
    graph.add_node("execute", rollback.execute)
    graph.add_node("verify", verify.verify)
    graph.add_node("hold", verify.hold)
    graph.add_node("resolve", lifecycle.resolve)
    graph.add_node("escalate", lifecycle.escalate)
    graph.add_node("notify", lifecycle.notify)

    graph.add_edge(START, "ingest")
    graph.add_edge("ingest", "triage")
    graph.add_conditional_edges("triage", routes.after_triage)
    graph.add_conditional_edges("diagnose", routes.after_diagnose)
    graph.add_edge("review", "report")
    graph.add_conditional_edges("report", routes.after_report)
    graph.add_conditional_edges("plan", routes.after_plan)
    graph.add_conditional_edges("guard", routes.after_guard)
    graph.add_conditional_edges("execute", routes.after_execute)
    graph.add_conditional_edges("verify", routes.after_verify)
    graph.add_conditional_edges("hold", routes.after_hold)
    graph.add_edge("resolve", "notify")
    graph.add_edge("escalate", "notify")
    graph.add_edge("notify", END)
    return graph
