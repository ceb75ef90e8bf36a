"""Policy as data: triage weights and tiers, the rollback ladder, and guard limits.

Everything here is configuration with safe defaults; the code that applies it lives in
agents/ (pure functions) and tools/guard.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from state.strict import Strict

Operation = Literal["restart", "config_refresh", "scale", "version_rollback", "isolate", "full_rollback"]


class OperationArgs(BaseModel):
    """Arguments of a mutating operation (the executor tools' input schema)."""

    service: str = Field(min_length=1)
    namespace: str | None = None
    target: str | None = Field(default=None, description="Version to roll back to.")
    revision: int | None = Field(default=None, ge=1)
    replicas: int | None = Field(default=None, ge=0)
    delta: int | None = None
    undo: bool = False
    idempotency_key: str | None = None


@dataclass(frozen=True)
class OperationSpec:
    """One mutating operation: its ladder rung, what it does, and whether ``undo`` reverses it."""

    name: Operation
    rung: int
    description: str
    reversible: bool


# The operations catalog: the one list of what the executor can do. The planner's ladder,
# the executor tools, the model's tool specs, the eval and docs/rollback.md all read it.
OPERATIONS: dict[str, OperationSpec] = {
    spec.name: spec
    for spec in (
        OperationSpec("restart", 1, "Restart the service's pods (rolling).", True),
        OperationSpec("config_refresh", 1, "Reload the service's configuration.", False),
        OperationSpec("scale", 2, "Scale the service out (delta) or to a replica count.", True),
        OperationSpec("version_rollback", 3, "Roll the service back to a version (target) or revision.", True),
        OperationSpec("isolate", 4, "Take the service out of traffic (undo=true puts it back).", True),
        OperationSpec("full_rollback", 5, "Roll back every component of the release.", False),
    )
}
MUTATING_OPERATIONS: tuple[str, ...] = tuple(OPERATIONS)
HUMAN_RUNG = 6


def operation_schema() -> dict[str, Any]:
    """The JSON schema of an operation's arguments as a caller gives them (no idempotency key)."""
    schema = OperationArgs.model_json_schema()
    schema["properties"].pop("idempotency_key", None)
    return schema


class TriageWeights(Strict):
    """Weights of the four triage dimensions; they must sum to 1."""

    impact: float = 0.4
    severity: float = 0.3
    business: float = 0.2
    time_sensitivity: float = 0.1

    @model_validator(mode="after")
    def _sum_to_one(self) -> TriageWeights:
        total = self.impact + self.severity + self.business + self.time_sensitivity
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"triage weights must sum to 1, got {total:.3f}")
        return self


class Tier(Strict):
    """A score band and the attempt budget it earns."""

    name: str
    min_score: int = Field(ge=0, le=100)
    budget: int = Field(ge=1, le=6)


DEFAULT_TIERS = [
    Tier(name="P0", min_score=90, budget=6),
    Tier(name="P1", min_score=70, budget=4),
    Tier(name="P2", min_score=50, budget=3),
    Tier(name="P3", min_score=30, budget=2),
    Tier(name="P4", min_score=0, budget=1),
]


class WorkingHours(Strict):
    """Local working hours; alerts inside them are more time-sensitive."""

    start_hour: int = Field(default=9, ge=0, le=23)
    end_hour: int = Field(default=19, ge=1, le=24)
    utc_offset_hours: float = 8.0
    weekdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])


class TriagePolicy(Strict):
    """How an alert is scored and which budget it gets."""

    weights: TriageWeights = Field(default_factory=TriageWeights)
    tiers: list[Tier] = Field(default_factory=lambda: list(DEFAULT_TIERS))
    severity_scores: dict[str, int] = Field(
        default_factory=lambda: {"critical": 95, "warning": 60, "info": 20, "none": 0}
    )
    default_criticality: int = Field(default=50, ge=0, le=100)
    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    noop_severities: list[str] = Field(default_factory=lambda: ["info", "none"])
    severity_by_policy: dict[str, str] = Field(
        default_factory=dict,
        description="Severity per Cloud Monitor policy name, policy type or event name (its callbacks carry none).",
    )

    @model_validator(mode="after")
    def _tiers_cover_zero(self) -> TriagePolicy:
        if not any(t.min_score == 0 for t in self.tiers):
            raise ValueError("triage.tiers must include a tier with min_score 0")
        self.tiers = sorted(self.tiers, key=lambda t: t.min_score, reverse=True)
        return self


class Rung(Strict):
    """One step of the progressive rollback ladder."""

    level: int = Field(ge=1, le=6)
    name: str
    operation: Operation | None = Field(default=None, description="Executor operation; None means human intervention.")
    params: dict[str, object] = Field(default_factory=dict)
    reversible: bool = False


def _rung(operation: Operation, name: str, **params: object) -> Rung:
    """A default ladder rung: its level and reversibility come from the operations catalog."""
    spec = OPERATIONS[operation]
    return Rung(level=spec.rung, name=name, operation=operation, params=params, reversible=spec.reversible)


DEFAULT_LADDER = [
    _rung("restart", "light: restart"),
    _rung("scale", "medium: scale out", delta=2),
    _rung("version_rollback", "version rollback"),
    _rung("isolate", "isolate the service"),
    _rung("full_rollback", "full rollback"),
    Rung(level=HUMAN_RUNG, name="human intervention", operation=None),
]


# What the ladder does about each diagnosed cause (docs/playbook.md): a bad release is rolled back;
# a leak is restarted (buys time), then rolled back when a release brought it. Everything else
# (capacity, config edits, dependencies, nodes, the cluster, nothing found) escalates unless a
# policy maps it to rungs.
DEFAULT_PATTERN_OPERATIONS: dict[str, tuple[str, ...]] = {
    "release": ("version_rollback",),
    "leak": ("restart", "version_rollback"),
}


class HistoryPolicy(Strict):
    """What the agents may learn from past incidents (recall at diagnosis, the informed ladder)."""

    recall: bool = Field(default=True, description="Look up the closest past incidents of the subject at diagnosis.")
    informed_ladder: bool = Field(
        default=True, description="Let verified outcomes of past incidents reorder the rungs that address the cause."
    )
    min_outcomes: int = Field(
        default=3, ge=1, description="Verified outcomes of a rung (same subject and pattern) before history counts."
    )
    min_success: float = Field(
        default=0.6, ge=0, le=1, description="A rung goes first from this posterior mean success (Beta(1,1) prior) on."
    )
    window_days: float = Field(default=90.0, gt=0, description="How far back history is read.")
    similar: int = Field(default=3, ge=1, le=20, description="How many past incidents recall shows.")


class Policy(Strict):
    """Limits and choices the planner and the guard apply."""

    verify_after_s: float = Field(default=60.0, ge=0)
    verify_hold_s: float | None = Field(
        default=None,
        ge=0,
        description="After a cleared check, wait this long and check again: a fix must hold (default verify_after_s).",
    )
    release_confidence: float = Field(
        default=0.5, ge=0, le=1, description="Blame a release (and roll it back) from this confidence on."
    )
    pattern_rungs: dict[str, list[int]] = Field(
        default_factory=dict,
        description="Diagnosed pattern -> the ladder rungs that address it (beside the defaults: release -> the "
        "version rollback's rung, leak -> restart then rollback); a pattern without rungs escalates (capacity, "
        "node, cluster, dependency, config_edit, undetermined, ...).",
    )
    approval_from_rung: int = Field(default=3, ge=1, le=7)
    approval_link_ttl_s: float = Field(
        default=3600.0, gt=0, description="How long a signed approve/reject link in a notice stays valid."
    )
    max_actions_per_hour: int = Field(default=6, ge=0)
    freeze_windows: list[str] = Field(default_factory=list, description="Cron expressions; a match means no changes.")
    freeze_duration_min: int = 60
    allowed_namespaces: list[str] = Field(default_factory=list, description="Empty = any.")
    allowed_clusters: list[str] = Field(default_factory=list, description="Empty = any.")
    dry_run: bool = False
    ladder: list[Rung] = Field(default_factory=lambda: list(DEFAULT_LADDER))
    freeze_timezone: str = Field(default="UTC", description="IANA zone the freeze_windows cron expressions run in.")
    worse_factor: float = Field(default=1.2, gt=1, description="After > before x this = the action made it worse.")
    agent_tools: dict[str, list[str]] = Field(
        default_factory=lambda: {"rollback": list(MUTATING_OPERATIONS)},
        description="Mutating tools each agent may call; an agent not listed may call none.",
    )
    max_scale_delta: int = Field(default=10, ge=1, description="Largest replica change one scale action may make.")
    executor_recheck_s: float = Field(
        default=30.0, gt=0, description="An unreachable executor is tried again after this (a durable wait)."
    )
    executor_wait_s: float = Field(
        default=300.0, ge=0,
        description="After this long unreachable the incident escalates as 'executor unreachable', no budget spent.",
    )  # fmt: skip
    min_replicas: int = Field(
        default=1, ge=0, description="No scale may leave fewer replicas than this, however it is expressed."
    )
    max_replicas: int = Field(default=50, ge=1, description="No scale may leave more replicas than this.")

    @model_validator(mode="after")
    def _replica_bounds_ordered(self) -> Policy:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})")
        return self

    history: HistoryPolicy = Field(
        default_factory=HistoryPolicy, description="Learning from past incidents, within every limit above."
    )
    max_llm_tokens: int | None = Field(
        default=60_000, ge=0, description="Model tokens (prompt + answer) one incident may spend; None = no limit."
    )
    max_llm_seconds: float | None = Field(
        default=300.0, ge=0, description="Wall time one incident may spend waiting for models; None = no limit."
    )

    @field_validator("pattern_rungs", mode="before")
    @classmethod
    def _one_rung_is_a_list(cls, value: object) -> object:
        """``{capacity: 2}`` means ``{capacity: [2]}``."""
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, int) and not isinstance(v, bool) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _freeze_windows_parse(self) -> Policy:
        from croniter import croniter

        for expr in self.freeze_windows:
            if not croniter.is_valid(expr):
                raise ValueError(f"freeze_windows: {expr!r} is not a valid cron expression")
        return self

    @property
    def hold_s(self) -> float:
        """How long a cleared signal must stay cleared (``verify_hold_s``, else ``verify_after_s``)."""
        return self.verify_after_s if self.verify_hold_s is None else self.verify_hold_s

    def rungs_for(self, pattern: str) -> list[int]:
        """The rungs that address ``pattern``, in ladder order (none: escalate)."""
        if pattern in self.pattern_rungs:
            return sorted(set(self.pattern_rungs[pattern]))
        levels = (self.rung_of(op) for op in DEFAULT_PATTERN_OPERATIONS.get(pattern, ()))
        return sorted({level for level in levels if level is not None})

    def rung_of(self, operation: str) -> int | None:
        """The lowest ladder rung that runs ``operation`` (None when no rung does)."""
        levels = [rung.level for rung in self.ladder if rung.operation == operation]
        return min(levels) if levels else None

    def rung(self, level: int) -> Rung:
        """The rung at ``level`` (1-6)."""
        for rung in self.ladder:
            if rung.level == level:
                return rung
        raise KeyError(f"policy.ladder has no rung {level}")
