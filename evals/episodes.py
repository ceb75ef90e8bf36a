"""Run one case once: the offline playbook through the incident graph, or a chat model.

Every alert of the payload is handed to the product, in the payload's order, as its
webhook would deliver them (:meth:`graph.runner.IncidentRunner.start` per alert: whether
alerts join one incident or open their own is the product's logic). Each alert that has
expectations gives one :class:`Episode`: the calls made in the incident it went into, the
entities named, how that incident ended, the oracle's reading.

Time is simulated: the episode's clock (:class:`tools.world.SimClock`) starts when the
alert reached alertpilot; the world and the agents share it, and a wait (verify's
``policy.verify_after_s``) advances it instead of sleeping, so an episode gives the same
result whatever the wall clock says.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from evals.case import Case, Human, approver
from evals.scoring import Episode
from evals.worlds import CaseWorld, WorldMode, open_world
from state.config import LLMConfig
from state.incident import IncidentState

MAX_APPROVAL_ROUNDS = 6
Agent = Literal["graph", "react"]


def scratch_dir() -> str | None:
    """Episode state is throwaway: keep it in memory (/dev/shm) when the machine has it."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def run_case(
    case: Case,
    model: Any,
    trial: int,
    mode: WorldMode = "live",
    prometheus_url: str | None = None,
    agent: Agent = "graph",
    llm: LLMConfig | None = None,
    history: bool = True,
) -> list[Episode]:
    """One run of ``case`` in a fresh world: one episode per scored alert.

    ``agent`` "graph" runs the incident graph the product runs (``model`` None = the offline
    playbook; else the model in every LLM role); "react" runs the single-agent baseline
    (:mod:`evals.agent`) with ``model``. ``llm`` (the eval's ``llm:`` settings) bounds the model's
    requests and says how answers are asked for. ``history`` False leaves out the case's past
    incidents (``history.yaml``): the control run. Raises CaseSkipped when the world cannot serve the case.
    """
    with (
        tempfile.TemporaryDirectory(prefix=f"eval-{case.id[:20]}-", dir=scratch_dir()) as tmp,
        open_world(case, Path(tmp), mode, prometheus_url) as world,
    ):
        case = world.case  # the prometheus world moved its times
        if llm is not None:  # the model's bounds come from the eval's config, not the case's
            world.settings = world.settings.model_copy(update={"llm": llm})
        started = time.perf_counter()
        if agent == "react" and model is not None:
            from evals.agent import run_model

            episodes = [run_model(case, world, model, trial, index) for index, _ in case.expects]
        else:
            episodes = run_graph(case, world, trial, model, history=history)
        wall_s = round(time.perf_counter() - started, 4)
        for episode, (_, expect) in zip(episodes, case.expects, strict=True):
            episode.wall_s = wall_s
            episode.signal, episode.version = world.oracle(expect.mitigation)
            episode.answered = dict(world.answered or {})
            episode.offset_s = world.offset_s
            episode.clock = {"started": world.clock.start.isoformat(), "ended": world.clock().isoformat()}
    return episodes


def human_for(case: Case, alert_index: int) -> Human:
    """The simulated human answering for ``alert_index``: its own expectations', else the first entry's."""
    mine = [expect.human for index, expect in case.expects if index == alert_index]
    return mine[0] if mine else case.expect.human


def run_graph(case: Case, world: CaseWorld, trial: int, model: Any = None, history: bool = True) -> list[Episode]:
    """The incident graph exactly as `alertpilot run` drives it (``model`` None = the offline playbook).

    The store first gets the case's past incidents (``history.yaml``, unless ``history`` is
    False); every alert is started (one webhook delivers them together); then each pending
    approval is answered as the case's simulated human says.
    """
    from langgraph.checkpoint.memory import InMemorySaver

    from agents.deps import Deps
    from evals.history import seed_case
    from graph.checkpoint import serializer
    from graph.runner import IncidentRunner, store_backed
    from state.store import Store

    settings = world.settings
    store = Store.from_url(settings.db_url)
    # the rate limit counts the episode's every incident and recall reads its past ones, as under run/serve/worker
    deps = store_backed(
        Deps(settings=settings, tools=world.backend, clock=world.clock, sleep=world.clock.sleep, model=model), store
    )
    try:
        if history:
            seed_case(case, store, settings, world.clock())
        runner = IncidentRunner(deps, store, InMemorySaver(serde=serializer()))
        incidents = [runner.start(alert).incident_id for alert in case.alerts]
        statuses: dict[str, str] = {}
        for incident_id in dict.fromkeys(incidents):
            human = human_for(case, incidents.index(incident_id))
            by = approver(human, settings.users, settings.acting_user)
            for _ in range(MAX_APPROVAL_ROUNDS):
                if not runner.interrupted(incident_id):
                    break
                runner.decide(incident_id, approved=human.approve, by=by, reason=human.reason)
            statuses[incident_id] = "awaiting_approval" if runner.interrupted(incident_id) else ""
        states = {incident_id: runner.state(incident_id) for incident_id in statuses}
    finally:
        store.engine.dispose()
    episodes = []
    for index, _ in case.expects:
        incident_id = incidents[index]
        state = states[incident_id]
        assert state is not None
        episodes.append(_episode(case, trial, index, state, statuses[incident_id] or state.status))
    return episodes


def _episode(case: Case, trial: int, index: int, state: IncidentState, status: str) -> Episode:
    """What the incident alert ``index`` went into shows, as one episode."""
    alert = case.alerts[index]
    calls = list(state.tool_calls)
    return Episode(
        case_id=case.id,
        trial=trial,
        calls=calls,
        entities=list(state.diagnosis.entities) if state.diagnosis else [],
        status=status,
        review=state.review.model_dump(mode="json") if state.review else None,
        steps=len(calls) + len(state.decisions),
        tokens=state.llm_tokens,
        model_calls=len(state.model_calls),
        alert_index=index,
        fingerprint=alert.fingerprint,
        alert_name=alert.name,
        incident_id=state.incident_id,
        decisions=[d.model_dump(mode="json") for d in state.decisions],
    )
