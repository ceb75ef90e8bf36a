"""Run one case once: the offline playbook through the incident graph, or a chat model.

Either way the result is an :class:`Episode`: the calls made, the entities named, how
the incident ended.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from evals.case import Case
from evals.scoring import Episode
from evals.worlds import CaseWorld, WorldMode, open_world

MAX_APPROVAL_ROUNDS = 6


def scratch_dir() -> str | None:
    """Episode state is throwaway: keep it in memory (/dev/shm) when the machine has it."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def run_case(
    case: Case, model: Any, trial: int, mode: WorldMode = "live", prometheus_url: str | None = None
) -> Episode:
    """One episode of ``case`` (``model`` None = the offline playbook) in a fresh world."""
    with tempfile.TemporaryDirectory(prefix=f"eval-{case.id[:20]}-", dir=scratch_dir()) as tmp:
        home = Path(tmp)
        with open_world(case, home, mode, prometheus_url) as world:
            if world.alert is not None:  # the prometheus world moved the case to now
                case = dataclasses.replace(case, alert=world.alert)
            started = time.perf_counter()
            if model is None:
                episode = run_graph(case, world, trial)
            else:
                from evals.agent import run_model

                episode = run_model(case, world, model, trial)
            episode.wall_s = round(time.perf_counter() - started, 4)
            episode.signal, episode.version = world.oracle(case.expect.mitigation)
            episode.answered = dict(world.answered or {})
            episode.offset_s = world.offset_s
    return episode


def run_graph(case: Case, world: CaseWorld, trial: int) -> Episode:
    """The offline playbook: the incident graph exactly as `alertpilot run` drives it.

    An approval interrupt is answered as the case's simulated human says.
    """
    from langgraph.checkpoint.memory import InMemorySaver

    from agents.deps import Deps
    from graph.checkpoint import serializer
    from graph.runner import IncidentRunner
    from state.store import Store

    deps = Deps(settings=world.settings, tools=world.backend, sleep=lambda _s: None)
    store = Store.from_url(world.settings.db_url)
    try:
        runner = IncidentRunner(deps, store, InMemorySaver(serde=serializer()))
        result = runner.start(case.alert)
        doc = result.document
        human = case.expect.human
        for _ in range(MAX_APPROVAL_ROUNDS):
            if doc["status"] != "awaiting_approval":
                break
            doc = runner.decide(result.incident_id, approved=human.approve, by=human.by, reason=human.reason)
        state = runner.state(result.incident_id)
    finally:
        store.engine.dispose()
    assert state is not None
    calls = list(state.tool_calls)
    return Episode(
        case_id=case.id,
        trial=trial,
        calls=calls,
        entities=list(state.diagnosis.entities) if state.diagnosis else [],
        status=doc["status"],
        review=state.review.model_dump(mode="json") if state.review else None,
        steps=len(calls) + len(state.decisions),
    )
