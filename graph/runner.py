"""Start, resume, approve and inspect incidents: the one place that invokes the graph."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command, StateSnapshot

from agents.deps import Deps
from graph.builder import build_graph
from graph.checkpoint import open_checkpointer
from state.alert import Alert
from state.config import Settings
from state.incident import Decision, IncidentState
from state.store import Store
from tools import tracing

# Nodes after which the stored document is refreshed while a run is in progress.
MILESTONES = frozenset({"triage", "report", "execute", "verify"})


# Checkpoint metadata key holding the settings a step ran under (replay re-runs with them).
RUN_SETTINGS_KEY = "alertpilot_settings"
RECORDED_SETTINGS = frozenset(
    {"language", "acting_user", "policy", "triage", "services", "users", "logs", "github", "prometheus", "llm"}
)


def run_settings(settings: Settings) -> str:
    """The behaviour-relevant settings as JSON, stamped on every checkpoint of a run."""
    return json.dumps(settings.model_dump(mode="json", include=set(RECORDED_SETTINGS)), sort_keys=True)


@dataclass(frozen=True)
class StartResult:
    """What happened to an alert handed to the runner."""

    incident_id: str
    joined: bool
    document: dict[str, Any]


class IncidentRunner:
    """Runs incident threads against a checkpointer, keeping the store's documents current."""

    def __init__(
        self,
        deps: Deps,
        store: Store,
        checkpointer: BaseCheckpointSaver[str],
        on_step: Callable[[str, float], None] | None = None,
    ) -> None:
        self.deps = deps
        self.store = store
        self.graph = build_graph().compile(checkpointer=checkpointer)
        self.on_step = on_step  # (node, seconds) after each graph step, for latency metrics

    @staticmethod
    def _config(incident_id: str, settings: Settings | None = None) -> RunnableConfig:
        """The thread's config; with ``settings``, stamped on the checkpoints the run writes."""
        config = RunnableConfig(configurable={"thread_id": incident_id})
        if settings is not None:
            config["metadata"] = {RUN_SETTINGS_KEY: run_settings(settings)}
        return config

    # ------------------------------------------------------------------ commands

    def start(self, alert: Alert, *, dry_run: bool = False, incident_id: str | None = None) -> StartResult:
        """Open an incident for ``alert`` and run it, or join the open incident it belongs to.

        ``incident_id`` lets a queue worker choose (and record) the id before the run, so a
        worker killed mid-run leaves an id the next worker can resume.
        """
        existing = self.store.find_open(alert.dedup_key)
        if existing is not None and existing != incident_id:
            return StartResult(existing, True, self.join(existing, alert))
        incident_id = incident_id or self.store.new_incident_id()
        settings = self.deps.settings
        # With the dry-run executor nothing can change, so the incident is a dry run too.
        dry_run = dry_run or settings.policy.dry_run or settings.executor.backend == "dry-run"
        firing = [alert.fingerprint] if alert.status == "firing" else []
        state = IncidentState(incident_id=incident_id, alert=alert, dry_run=dry_run, firing=firing)
        if existing is None:  # else: created by a worker that died before the first checkpoint
            self.store.create_incident(incident_id, alert.dedup_key, document(state, interrupted=False))
            self.store.audit(
                incident_id,
                "alertpilot",
                "alert",
                {"fingerprint": alert.fingerprint, "status": alert.status},
            )
        return StartResult(incident_id, False, self._run(incident_id, state.model_dump()))

    def join(
        self, incident_id: str, alert: Alert, count: int = 1, fingerprints: list[str] | None = None
    ) -> dict[str, Any]:
        """Fold a repeated (or resolving) alert into its open incident's thread (``count`` at once in a storm).

        The incident tracks which of its alerts still fire (``fingerprints``: every folded one);
        it closes when the last of them resolves, whether its ladder waits or it was escalated.
        """
        snapshot = self.graph.get_state(self._config(incident_id))  # one read: state and interrupt
        current = _values(snapshot)
        if current is None:
            raise KeyError(incident_id)
        waiting = _interrupt(snapshot) is not None
        still = [f for f in current.firing if f != alert.fingerprint or alert.status == "firing"]
        if alert.status == "firing":
            still.extend(f for f in [*(fingerprints or []), alert.fingerprint] if f not in still)
        cleared = alert.status == "resolved" and not still
        note = f"alert {alert.status} again (#{current.alerts_seen + count})"
        if count > 1:
            note = f"{count} alerts {alert.status} again (#{current.alerts_seen + count})"
        if alert.status == "resolved" and still:
            note += f"; {len(still)} of its alerts still fire"
        update: dict[str, Any] = {
            "alerts_seen": current.alerts_seen + count,
            "firing": still,
            "decisions": [
                *current.decisions,
                Decision(at=self.deps.clock(), node="ingest", summary=note),
            ],
        }
        if cleared:
            update["alert"] = current.alert.model_copy(update={"status": "resolved", "ends_at": alert.ends_at})
        self.graph.update_state(self._config(incident_id), update)
        self.store.audit(
            incident_id,
            "alertpilot",
            "alert",
            {"fingerprint": alert.fingerprint, "status": alert.status, "joined": True},
        )
        if cleared and waiting:
            return self.stop(incident_id, "the alert resolved while the ladder waited")
        if cleared and current.status == "escalated":
            return self.stop(incident_id, "the alert resolved after it was escalated")
        if waiting:  # the update cleared the pending interrupt: re-run the node to wait again
            return self._run(incident_id, None)
        # Not waiting: the thread's state is now exactly ``current`` plus ``update`` (no reducers).
        return self._publish(incident_id, current.model_copy(update=update), None)

    def resume(self, incident_id: str) -> dict[str, Any]:
        """Continue a thread from its last checkpoint (after a crash or a durable wait)."""
        snapshot = self.graph.get_state(self._config(incident_id))
        if _values(snapshot) is None:
            raise KeyError(incident_id)
        pending = _interrupt(snapshot)
        if pending is not None and pending.get("kind") == "timer":
            return self._run(incident_id, Command(resume={"kind": "timer", "fired_at": self.deps.clock().isoformat()}))
        if pending is not None:  # waiting for a person: nothing to do until they answer
            return self._save(incident_id)
        return self._run(incident_id, None)

    def stop(self, incident_id: str, reason: str) -> dict[str, Any]:
        """End a waiting ladder (timer or approval) as resolved: the alert cleared on its own."""
        current = self.state(incident_id)
        if current is None:
            raise KeyError(incident_id)
        decision = Decision(at=self.deps.clock(), node="resolve", summary=reason)
        update = {"status": "resolved", "pending": None, "decisions": [*current.decisions, decision]}
        self.graph.update_state(self._config(incident_id), update, as_node="resolve")
        self.store.audit(incident_id, "alertpilot", "stopped", {"reason": reason})
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
        return _values(self.graph.get_state(self._config(incident_id)))

    def pending_interrupt(self, incident_id: str) -> dict[str, Any] | None:
        """The value of the ``interrupt()`` the thread waits on (approval or timer), or None."""
        return _interrupt(self.graph.get_state(self._config(incident_id)))

    def interrupted(self, incident_id: str) -> bool:
        """Whether the thread waits on a person (an approval ``interrupt()``, not a timer)."""
        pending = self.pending_interrupt(incident_id)
        return pending is not None and pending.get("kind") != "timer"

    def waiting_until(self, incident_id: str) -> datetime | None:
        """When a durable timer the thread waits on fires, or None."""
        pending = self.pending_interrupt(incident_id)
        if pending is None or pending.get("kind") != "timer":
            return None
        return datetime.fromisoformat(str(pending["not_before"]))

    def running(self, incident_id: str) -> bool:
        """Whether the thread stopped mid-run (a crash): it has a next step and waits on nothing."""
        snapshot = self.graph.get_state(self._config(incident_id))
        return bool(snapshot.next) and not snapshot.interrupts

    def tool_calls(self, incident_id: str) -> list[dict[str, Any]]:
        """The tool calls a thread recorded, as JSON (empty for a thread with no checkpoint)."""
        state = self.state(incident_id)
        return [c.model_dump(mode="json") for c in state.tool_calls] if state is not None else []

    def history(self, thread_id: str) -> list[StateSnapshot]:
        """Every checkpoint of a thread, oldest first (the replay timeline)."""
        return list(reversed(list(self.graph.get_state_history(self._config(thread_id)))))

    def run_side(self, thread_id: str, graph_input: Any, deps: Deps) -> tuple[IncidentState, bool]:
        """Run a side thread (replay, fork) with its own collaborators; the store is not touched.

        Returns the thread's final state and whether it stopped at an ``interrupt()``.
        """
        config = self._config(thread_id, deps.settings)
        for _ in self.graph.stream(graph_input, config, context=deps, durability="sync", stream_mode="updates"):
            pass
        snapshot = self.graph.get_state(self._config(thread_id))
        values = snapshot.values
        state = values if isinstance(values, IncidentState) else IncidentState.model_validate(values)
        return state, bool(snapshot.interrupts)

    # ------------------------------------------------------------------ internals

    def _run(self, incident_id: str, graph_input: Any) -> dict[str, Any]:
        config = self._config(incident_id, self.deps.settings)
        latest: IncidentState | None = None
        waiting: dict[str, Any] | None = None  # the interrupt() value the run stopped at
        # durability="sync": each checkpoint is on disk before the next node starts, so
        # the attempt written by the guard exists before execute calls the executor.
        started = time.perf_counter()
        milestone = False
        stream = self.graph.stream(
            graph_input, config, context=self.deps, durability="sync", stream_mode=["updates", "values"]
        )
        chunk: Any  # with a list of stream modes, the stream yields (mode, chunk) pairs
        for mode, chunk in stream:
            if mode == "values":
                latest = chunk if isinstance(chunk, IncidentState) else IncidentState.model_validate(chunk)
                if milestone:  # keep the public document current at the steps people watch
                    self.store.save_doc(incident_id, document(latest, interrupted=False))
                    milestone = False
            elif "__interrupt__" in chunk:
                value = chunk["__interrupt__"][0].value
                waiting = value if isinstance(value, dict) else {"value": value}
            else:
                milestone = bool(MILESTONES & chunk.keys())
                now = time.perf_counter()
                for node in chunk:
                    tracing.finished_span(f"node {node}", now - started, {"alertpilot.incident": incident_id})
                    if self.on_step is not None:
                        self.on_step(node, now - started)
                started = now
        if latest is None:  # nothing ran (a finished thread): report what is stored
            return self._save(incident_id)
        return self._publish(incident_id, latest, waiting)

    def _save(self, incident_id: str) -> dict[str, Any]:
        snapshot = self.graph.get_state(self._config(incident_id))  # one read, not one per question
        state = _values(snapshot)
        assert state is not None
        return self._publish(incident_id, state, _interrupt(snapshot))

    def _publish(self, incident_id: str, state: IncidentState, waiting: dict[str, Any] | None) -> dict[str, Any]:
        """Store and return the public document; a timer wait is not a wait for a person."""
        timer = waiting is not None and waiting.get("kind") == "timer"
        doc = document(state, interrupted=waiting is not None and not timer)
        if timer and waiting is not None:
            doc["waiting_until"] = str(waiting["not_before"])
        self.store.save_doc(incident_id, doc)
        return doc


def _values(snapshot: StateSnapshot) -> IncidentState | None:
    """A snapshot's state as an IncidentState, or None for a thread with no checkpoint."""
    values = snapshot.values
    if not values:
        return None
    return values if isinstance(values, IncidentState) else IncidentState.model_validate(values)


def _interrupt(snapshot: StateSnapshot) -> dict[str, Any] | None:
    """The value of the ``interrupt()`` a snapshot waits on, or None."""
    if not snapshot.interrupts:
        return None
    value = snapshot.interrupts[0].value
    return value if isinstance(value, dict) else {"value": value}


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
        "attempts": [a.model_dump(mode="json") for a in state.attempts],
        "decisions": [d.model_dump(mode="json") for d in state.decisions],
        "tool_calls": len(state.tool_calls),
        "llm": llm_usage(state),
        "notifications": state.notifications,
        "escalation_reason": state.escalation_reason,
        "recall": state.recall.model_dump(mode="json") if state.recall else None,
    }


def llm_usage(state: IncidentState) -> dict[str, Any] | None:
    """Model calls, tokens and seconds per agent (None when no model was asked)."""
    if not state.model_calls:
        return None
    agents: dict[str, dict[str, Any]] = {}
    for call in state.model_calls:
        row = agents.setdefault(call.agent, {"calls": 0, "errors": 0, "tokens": 0, "seconds": 0.0})
        row["calls"] += 1
        row["errors"] += call.status == "error"
        row["tokens"] += call.usage.total_tokens
        row["seconds"] = round(row["seconds"] + call.duration_ms / 1000, 3)
    return {
        "models": sorted({c.model for c in state.model_calls}),
        "calls": len(state.model_calls),
        "tokens": state.llm_tokens,
        "seconds": round(state.llm_seconds, 3),
        "agents": agents,
    }


def live_deps(settings: Settings, store: Store, *, model: Any = None, **collaborators: Any) -> Deps:
    """The collaborators of a live run: the configured world and providers (tools/catalog.py) over ``store``."""
    from tools.catalog import build_registry, open_world

    return Deps(settings=settings, tools=build_registry(settings, open_world(settings), store), model=model,
                **collaborators)  # fmt: skip


def store_backed(deps: Deps, store: Store) -> Deps:
    """``deps`` reading ``store`` for what spans incidents (every entry point's runner).

    The guard's rate limit counts every incident's actions there, and recall reads the
    subject's past incidents there; either already given is kept.
    """
    from dataclasses import replace

    from tools.guard import StoreActionLog
    from tools.history import StoreHistory

    if deps.actions is None:
        deps = replace(deps, actions=StoreActionLog(store))
    return deps if deps.history is not None else replace(deps, history=StoreHistory(store))


@contextmanager
def open_runner(
    settings: Settings,
    deps: Deps | None = None,
    *,
    on_step: Callable[[str, float], None] | None = None,
    **collaborators: Any,
) -> Iterator[IncidentRunner]:
    """A runner with the configured store and checkpointer.

    Without ``deps`` the nodes get live tools (:func:`live_deps`) and ``collaborators``
    (``model``, ``on_event``, ``durable_timers``...). The per-service rate limit always
    counts the actions of every incident in the store.
    """
    store = Store.from_url(settings.db_url)
    try:
        deps = store_backed(deps or live_deps(settings, store, **collaborators), store)
        with open_checkpointer(settings) as saver:
            yield IncidentRunner(deps, store, saver, on_step=on_step)
    finally:
        store.engine.dispose()


@contextmanager
def open_reader(settings: Settings, store: Store | None = None) -> Iterator[IncidentRunner]:
    """A runner that only reads threads (timeline, state, tool calls): no world, no tools, no model."""
    from tools.registry import ToolRegistry

    own = store is None
    store = store or Store.from_url(settings.db_url)
    try:
        with open_checkpointer(settings) as saver:
            yield IncidentRunner(Deps(settings=settings, tools=ToolRegistry()), store, saver)
    finally:
        if own:
            store.engine.dispose()
