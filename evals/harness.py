"""The eval harness: run every case for n trials, score each episode, aggregate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evals.case import Case, Expectation
from evals.episodes import run_case
from evals.scoring import CaseScore, Episode, score_episode, summarize
from evals.worlds import WorldMode, schemas_of, static_catalog


@dataclass
class EvalResult:
    """Scores of every episode and the aggregates over them."""

    model: str
    world: str
    trials: int
    scores: list[CaseScore]
    cases: list[Case]
    summary: dict[str, Any] = field(default_factory=dict)

    def per_case(self) -> list[dict[str, Any]]:
        """One row per case (metrics averaged over its trials)."""
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
                "successes": sum(s.success for s in mine),
                "notes": sorted({f"{v.tool}: {v.note}" for s in mine for v in s.verdicts if not v.correct})[:6],
                "errors": sorted({s.error for s in mine if s.error}),
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
            {"tool": name, **row, "accuracy": row["correct"] / (row["made"] + row["missed"])}
            for name, row in sorted(table.items())
        ]

    def document(self) -> dict[str, Any]:
        """The ``--json`` document: headline numbers at top level, then per case and per tool."""
        return {
            **self.summary,
            "model": self.model,
            "world": self.world,
            "trials": self.trials,
            "cases": self.per_case(),
            "tools": self.per_tool(),
        }


def run_eval(
    cases: list[Case],
    *,
    model: Any = None,
    model_name: str = "offline",
    trials: int = 1,
    world: WorldMode = "live",
    on_episode: Callable[[CaseScore], None] | None = None,
) -> EvalResult:
    """Run ``cases`` × ``trials`` and score them (``model`` None = offline playbook).

    Every case's config is checked first: one that would reach past 127.0.0.1 is refused
    (CaseError) before any episode runs.
    """
    check_cases(cases)
    scores: list[CaseScore] = []
    base = schemas_of(static_catalog())
    for case in cases:
        for trial in range(1, trials + 1):
            episode = run_case(case, model, trial, world)
            score = score_episode(expectation(case, episode), episode, base | episode_schemas(case))
            scores.append(score)
            if on_episode:
                on_episode(score)
    result = EvalResult(model_name, world, trials, scores, cases)
    result.summary = summarize(scores)
    return result


def expectation(case: Case, episode: Episode) -> Expectation:
    """The case's expectation, its time matchers moved when the episode's world moved the case (prometheus)."""
    if not episode.offset_s:
        return case.expect
    from evals.prom_world import moved_expectation

    return moved_expectation(case.expect, episode.offset_s)


def check_cases(cases: list[Case]) -> None:
    """Refuse (CaseError) any case whose config names a server off this machine."""
    import tempfile
    from pathlib import Path

    from evals.worlds import check_network

    with tempfile.TemporaryDirectory(prefix="eval-check-") as tmp:
        for case in cases:
            check_network(case, Path(tmp))


_SCHEMAS: dict[str, dict[str, dict[str, Any]]] = {}


def episode_schemas(case: Case) -> dict[str, dict[str, Any]]:
    """Schemas of the tools the case's live registry offers (cached per config)."""
    import tempfile
    from pathlib import Path

    from evals.worlds import case_settings
    from tools.catalog import build_registry

    key = str(case.config_path)
    if key not in _SCHEMAS:
        with tempfile.TemporaryDirectory() as tmp:
            settings = case_settings(case, Path(tmp)).model_copy(update={"world": None})
            settings.executor.backend = "dry-run"
            _SCHEMAS[key] = schemas_of(build_registry(settings))
    return _SCHEMAS[key]
