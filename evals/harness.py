"""The eval harness: run every case for n trials, score each episode, aggregate.

A run never stops for one case: a case that does not load (:class:`~evals.case.BrokenCase`,
path and field) or that this world cannot serve (:class:`~evals.case.CaseSkipped`) is
listed with its one-line reason, and an episode that raises is a failed episode carrying
the error. Only a case that would reach past 127.0.0.1 stops the run before it starts.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evals.case import BrokenCase, Case, CaseError, CaseSkipped, Expectation
from evals.episodes import Agent, run_case
from evals.scoring import CaseScore, Episode, score_episode, summarize
from evals.worlds import WorldMode, schemas_of, static_catalog
from state.config import LLMConfig


@dataclass(frozen=True)
class Skipped:
    """A case the run did not score, and why in one line."""

    id: str
    path: str
    reason: str
    kind: Literal["skipped", "invalid"]  # skipped: this world cannot serve it; invalid: a format error


@dataclass
class EvalResult:
    """Scores of every episode and the aggregates over them."""

    model: str
    world: str
    trials: int
    scores: list[CaseScore]
    cases: list[Case]
    summary: dict[str, Any] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)  # the "with history" section (evals/history.py)
    agent: str = "graph"  # graph: the incident graph the product runs; react: the single-agent baseline

    def per_case(self) -> list[dict[str, Any]]:
        """One row per case (metrics averaged over its trials and alerts), with one row per scored alert."""
        from evals.detail import alert_rows, notes, trial_successes

        rows = []
        for case in self.cases:
            mine = [s for s in self.scores if s.case_id == case.id]
            row = summarize(mine)
            row |= {
                "id": case.id,
                "template": case.expect.template,
                "source": case.alert.source,
                "needs": case.expect.needs,
                "confirmed": case.expect.confirmed,
                "status": mine[-1].status if mine else None,
                "successes": trial_successes(mine),
                "notes": notes(mine)[:6],
                "errors": sorted({s.error for s in mine if s.error}),
                "alerts": alert_rows(case, mine),
            }
            rows.append(row)
        return rows

    def per_tool(self) -> list[dict[str, Any]]:
        """One row per tool name: calls made, correct, missed."""
        table: dict[str, dict[str, int]] = {}
        for score in self.scores:
            for verdict in score.verdicts:
                row = table.setdefault(verdict.tool, {"made": 0, "correct": 0, "missed": 0, "invalid": 0})
                if verdict.kind == "missed":
                    row["missed"] += 1
                    continue
                row["made"] += 1
                row["correct"] += verdict.correct
                row["invalid"] += not (verdict.valid_name and verdict.schema_valid)
        return [
            {
                "tool": name,
                **row,
                "accuracy": row["correct"] / (row["made"] + row["missed"]) if row["made"] + row["missed"] else None,
            }
            for name, row in sorted(table.items())
        ]

    def document(self) -> dict[str, Any]:
        """The ``--json`` document: headline numbers at top level, then per case (episodes in detail), per tool."""
        from evals.detail import episode_detail

        cases = self.per_case()
        for row in cases:
            row["episodes"] = [episode_detail(s) for s in self.scores if s.case_id == row["id"]]
        return {
            **self.summary,
            "model": self.model,
            "agent": self.agent,
            "world": self.world,
            "trials": self.trials,
            "cases": cases,
            "skipped": [vars(s) for s in self.skipped],
            "tools": self.per_tool(),
            **self.history_document(),
        }

    def history_document(self) -> dict[str, Any]:
        """``with_history`` (headline and rows) when some case had past incidents, else nothing."""
        from evals.history import summary

        return {"with_history": {**summary(self.history), "rows": self.history}} if self.history else {}


def run_eval(
    cases: list[Case],
    *,
    model: Any = None,
    model_name: str = "offline",
    trials: int = 1,
    world: WorldMode = "live",
    on_episode: Callable[[CaseScore], None] | None = None,
    agent: Agent = "graph",
    llm: LLMConfig | None = None,
) -> EvalResult:
    """Run ``cases`` × ``trials`` and score them (``model`` None = offline playbook).

    Every case's config is checked first: one that would reach past 127.0.0.1 is refused
    (CaseError) before any episode runs; one that does not validate is reported, not run.
    Cases that failed to load (``cases.broken`` of a :class:`~evals.case.CaseSet`) are
    reported too.
    """
    skipped = [_invalid(b) for b in getattr(cases, "broken", [])]
    runnable, invalid = check_cases(list(cases))
    skipped += invalid
    scores: list[CaseScore] = []
    scored: list[Case] = []
    base = schemas_of(static_catalog())
    for case in runnable:
        mine = _run_trials(case, model, trials, world, base | episode_schemas(case), on_episode, agent, llm)
        if isinstance(mine, Skipped):
            skipped.append(mine)
            continue
        scored.append(case)
        scores += mine
    result = EvalResult(model_name, world, trials, scores, scored, skipped=skipped, agent=agent)
    result.summary = summarize(scores) | {
        "skipped_cases": sum(s.kind == "skipped" for s in skipped),
        "invalid_cases": sum(s.kind == "invalid" for s in skipped),
    }
    if model is None:  # the control runs (without history) are the offline playbook's
        from evals.history import section

        result.history = section(scored, scores, world, lambda case, mode: run_case(case, None, 1, mode, history=False))
    return result


def _run_trials(
    case: Case,
    model: Any,
    trials: int,
    world: WorldMode,
    schemas: dict[str, dict[str, Any]],
    on_episode: Callable[[CaseScore], None] | None,
    agent: Agent = "graph",
    llm: LLMConfig | None = None,
) -> list[CaseScore] | Skipped:
    scores = []
    for trial in range(1, trials + 1):
        try:
            episodes = run_case(case, model, trial, world, agent=agent, llm=llm)
        except CaseSkipped as exc:
            return Skipped(case.id, str(case.path), str(exc), "skipped")
        except CaseError:
            raise  # the whole run is refused (a server off this machine)
        except Exception as exc:  # noqa: BLE001 - one case's crash is that case's failure, not the run's
            episodes = [_crashed(case, trial, index, exc) for index, _ in case.expects]
        for episode, (_, expect) in zip(episodes, case.expects, strict=True):
            score = score_episode(expectation(expect, episode), episode, schemas)
            scores.append(score)
            if on_episode:
                on_episode(score)
    return scores


def _crashed(case: Case, trial: int, index: int, exc: Exception) -> Episode:
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    alert = case.alerts[index]
    error = f"episode failed{where}: {type(exc).__name__}: {str(exc)[:300]}"
    return Episode(
        case.id, trial, [], error=error, alert_index=index, fingerprint=alert.fingerprint, alert_name=alert.name
    )


def _invalid(broken: BrokenCase) -> Skipped:
    return Skipped(broken.id, str(broken.path), broken.error, "invalid")


def expectation(expect: Expectation | Case, episode: Episode) -> Expectation:
    """The expectation, its time matchers moved when the episode's world moved the case (prometheus)."""
    if isinstance(expect, Case):  # the case's first entry (callers that score one alert)
        expect = expect.expect
    if not episode.offset_s:
        return expect
    from evals.prom_world import moved_expectation

    return moved_expectation(expect, episode.offset_s)


def check_cases(cases: list[Case]) -> tuple[list[Case], list[Skipped]]:
    """(cases that may run, cases whose config does not validate); CaseError when one names a server off the machine."""
    import tempfile

    from evals.worlds import case_settings, refuse_remote

    runnable, invalid = [], []
    with tempfile.TemporaryDirectory(prefix="eval-check-") as tmp:
        for case in cases:
            try:
                settings = case_settings(case, Path(tmp))
            except CaseError as exc:
                invalid.append(Skipped(case.id, str(case.path), str(exc), "invalid"))
                continue
            refuse_remote(case, settings)
            runnable.append(case)
    return runnable, invalid


_SCHEMAS: dict[str, dict[str, dict[str, Any]]] = {}


def episode_schemas(case: Case) -> dict[str, dict[str, Any]]:
    """Schemas of the tools the case's live registry offers (cached per config)."""
    import tempfile

    from evals.worlds import case_settings
    from tools.catalog import build_registry

    key = str(case.config_path)
    if key not in _SCHEMAS:
        with tempfile.TemporaryDirectory() as tmp:
            settings = case_settings(case, Path(tmp)).model_copy(update={"world": None})
            settings.executor.backend = "dry-run"
            _SCHEMAS[key] = schemas_of(build_registry(settings))
    return _SCHEMAS[key]
