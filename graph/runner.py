"""Start, resume, approve and inspect incidents: the one place that invokes the graph."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from agents.deps import Deps
from graph.builder import build_graph
from graph.checkpoint import open_checkpointer
from state.alert import Alert
from state.config import Settings
from state.incident import Decision, IncidentState
from state.store import Store


@dataclass(frozen=True)
class StartResult:
    """What happened to an alert handed to the runner."""

    incident_id: str
    joined: bool
    document: dict[str, Any]


class IncidentRunner:
    """Runs incident threads against a checkpointer, keeping the store's documents current."""

    def __init__(self, deps: Deps, store: Store, checkpointer: BaseCheckpointSaver[str]) -> None:
        self.deps = deps
        self.store = store
        self.graph = build_graph().compile(checkpointer=checkpointer)

    @staticmethod
    def _config(incident_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": incident_id}}

    # ------------------------------------------------------------------ commands

    def start(self, alert: Alert, *, dry_run: bool = False) -> StartResult:
        """Open an incident for ``alert`` and run it, or join the open incident it belongs to."""
        existing = self.store.find_open(alert.dedup_key)
        if existing is not None:
            return StartResult(existing, True, self.join(existing, alert))
        incident_id = self.store.new_incident_id()
        settings = self.deps.settings
        # With the dry-run executor nothing can change, so the incident is a dry run too.
        dry_run = dry_run or settings.policy.dry_run or settings.executor.backend == "dry-run"
        state = IncidentState(incident_id=incident_id, alert=alert, dry_run=dry_run)
        self.store.create_incident(incident_id, alert.dedup_key, document(state, interrupted=False))
        self.store.audit(
            incident_id,
            "alertpilot",
            "alert",
            {"fingerprint": alert.fingerprint, "status": alert.status},
        )
        return StartResult(incident_id, False, self._run(incident_id, state.model_dump()))

    def join(self, incident_id: str, alert: Alert) -> dict[str, Any]:
        """Fold a repeated (or resolving) alert into its open incident's thread."""
        current = self.state(incident_id)
        if current is None:
            raise KeyError(incident_id)
        note = f"alert {alert.status} again (#{current.alerts_seen + 1})"
        update: dict[str, Any] = {
            "alerts_seen": current.alerts_seen + 1,
            "decisions": [
                *current.decisions,
                Decision(at=self.deps.clock(), node="ingest", summary=note),
            ],
        }
        if alert.status == "resolved":
            update["alert"] = current.alert.model_copy(update={"status": "resolved", "ends_at": alert.ends_at})
        self.graph.update_state(self._config(incident_id), update)
        self.store.audit(
            incident_id,
            "alertpilot",
            "alert",
            {"fingerprint": alert.fingerprint, "status": alert.status, "joined": True},
        )
        return self._save(incident_id)

    def resume(self, incident_id: str) -> dict[str, Any]:
        """Continue a thread from its last checkpoint (after a crash or a durable wait)."""
        if self.state(incident_id) is None:
            raise KeyError(incident_id)
        return self._run(incident_id, None)

    def decide(self, incident_id: str, *, approved: bool, by: str, reason: str = "") -> dict[str, Any]:
        """Answer a pending approval and continue the thread."""
        if not self.interrupted(incident_id):
            raise LookupError(f"incident {incident_id} is not waiting for approval")
        self.store.audit(incident_id, by, "approval", {"approved": approved, "reason": reason})
        return self._run(incident_id, Command(resume={"approved": approved, "by": by, "reason": reason}))

    # ------------------------------------------------------------------ inspection

    def state(self, incident_id: str) -> IncidentState | None:
        """The latest checkpointed state of a thread, or None."""
        snapshot = self.graph.get_state(self._config(incident_id))
        if not snapshot.values:
            return None
        values = snapshot.values
        return values if isinstance(values, IncidentState) else IncidentState.model_validate(values)

    def interrupted(self, incident_id: str) -> bool:
        """Whether the thread waits on an ``interrupt()`` (approval)."""
        snapshot = self.graph.get_state(self._config(incident_id))
        return bool(snapshot.interrupts)

    # ------------------------------------------------------------------ internals

    def _run(self, incident_id: str, graph_input: Any) -> dict[str, Any]:
        config = self._config(incident_id)
        # durability="sync": each checkpoint is on disk before the next node starts, so
        # the attempt written by the guard exists before execute calls the executor.
        for _ in self.graph.stream(graph_input, config, context=self.deps, durability="sync", stream_mode="updates"):
            self._save(incident_id)
        return self._save(incident_id)

    def _save(self, incident_id: str) -> dict[str, Any]:
        state = self.state(incident_id)
        assert state is not None
        doc = document(state, interrupted=self.interrupted(incident_id))
        self.store.save_doc(incident_id, doc)
        return doc


def document(state: IncidentState, *, interrupted: bool) -> dict[str, Any]:
    """The public incident JSON (CLI ``--json``, HTTP API)."""
    status = "awaiting_approval" if interrupted else state.status
    return {
        "id": state.incident_id,
        "status": status,
        "alert": state.alert.model_dump(mode="json", exclude={"raw"}),
        "alerts_seen": state.alerts_seen,
        "dry_run": state.dry_run,
        "triage": state.triage.model_dump(mode="json") if state.triage else None,
        "diagnosis": state.diagnosis.model_dump(mode="json") if state.diagnosis else None,
        "findings": [f.model_dump(mode="json") for f in state.findings],
        "review": state.review.model_dump(mode="json") if state.review else None,
        "report": state.report.public() if state.report else None,
        "pending": state.pending.model_dump(mode="json") if interrupted and state.pending else None,
        "attempts": [
            {
                "n": a.n,
                "rung": a.rung,
                "action": a.action,
                "params": a.params,
                "result": a.result,
                "verified": a.verified,
                "idempotency_key": a.idempotency_key,
                "signal_before": a.signal_before,
                "signal_after": a.signal_after,
                "note": a.note,
                "undone": a.undone,
                "undo_result": a.undo_result,
                "signal_after_undo": a.signal_after_undo,
            }
            for a in state.attempts
        ],
        "decisions": [d.model_dump(mode="json") for d in state.decisions],
        "tool_calls": len(state.tool_calls),
        "notifications": state.notifications,
        "escalation_reason": state.escalation_reason,
    }


@contextmanager
def open_runner(settings: Settings, deps: Deps | None = None) -> Iterator[IncidentRunner]:
    """A runner with the configured store, checkpointer and live tools."""
    from tools.catalog import build_registry, open_world

    if deps is None:
        world = open_world(settings)
        deps = Deps(settings=settings, tools=build_registry(settings, world))
    store = Store.from_url(settings.db_url)
    if deps.actions is None:  # the per-service rate limit counts actions of every incident
        from dataclasses import replace

        from tools.guard import StoreActionLog

        deps = replace(deps, actions=StoreActionLog(store))
    try:
        with open_checkpointer(settings) as saver:
            yield IncidentRunner(deps, store, saver)
    finally:
        store.engine.dispose()
