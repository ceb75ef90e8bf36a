"""The checkpointed state of one incident thread, and the records it is made of."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from state.alert import Alert
from state.history import Recall
from state.report import Report

IncidentStatus = Literal["open", "awaiting_approval", "resolved", "escalated", "failed"]


class TriageResult(BaseModel):
    """Score, tier and attempt budget, with the dimensions that produced them."""

    score: int = Field(ge=0, le=100)
    tier: str
    budget: int = Field(ge=1, le=6)
    dimensions: dict[str, int]
    actionable: bool = True
    reason: str = ""


ToolStatus = Literal["success", "error", "denied", "not_recorded"]
"""How a tool call ended: answered, failed, refused by policy, or missing from a recording."""


class ToolCall(BaseModel):
    """One recorded tool call: what an agent asked, what the world answered."""

    seq: int
    agent: str
    tool: str
    args: dict[str, Any]
    status: ToolStatus
    result: Any = None
    error: str = ""
    mutating: bool = False
    duration_ms: float = 0.0


class ModelUsage(BaseModel):
    """Tokens one model answer cost, as the provider reported them."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class ModelCall(BaseModel):
    """One model request and its answer, recorded like a tool call (replay serves it back).

    ``request`` is what was sent, after redaction (messages, tool names, tool choice,
    response format); ``digest`` is its SHA-256, the key a replay answers by.
    """

    seq: int
    agent: str
    model: str
    digest: str
    request: dict[str, Any] = Field(default_factory=dict)
    status: Literal["success", "error"] = "success"
    content: str = ""
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: ModelUsage = Field(default_factory=ModelUsage)
    started_at: datetime | None = None
    duration_ms: float = 0.0
    error: str = ""


class Finding(BaseModel):
    """One piece of evidence from diagnosis or review."""

    kind: str = Field(description="metric | log | event | audit | release | code | data | history")
    title: str
    detail: str = ""
    severity: Literal["info", "warning", "critical"] = "info"
    evidence: dict[str, Any] = Field(default_factory=dict)
    query: str | None = Field(default=None, description="PromQL that showed it, if any.")


class Diagnosis(BaseModel):
    """What the diagnosis concluded."""

    summary: str
    root_cause: str = ""
    suspected_release: str | None = None
    known_good_release: str | None = None
    release_confidence: float = Field(default=0.0, ge=0, le=1)
    signal_value: float | None = Field(default=None, description="The alert's signal at diagnosis.")
    signal_query: str | None = Field(default=None, description="The query that answered for the alert's signal.")
    cloud_signal: dict[str, Any] | None = Field(
        default=None,
        description="When Cloud Monitor measured the signal: the get_monitor_data arguments (namespace, metric, "
        "dimensions, region, period) verify re-reads.",
    )
    entities: list[str] = Field(default_factory=list, description="Root-cause entities named.")
    pattern: str = Field(
        default="",
        description="Failure pattern: release | leak | config_edit | namespace_change | dependency | volume | "
        "capacity | node | namespace | cluster | healthy | no_data | unverifiable | runtime | undetermined.",
    )
    abstain: str = Field(default="", description="Why no change may be made (empty = the ladder may act).")
    verdict: Literal["cause_found", "unresolved", "noise"] = Field(
        default="unresolved", description="Cause found (with evidence), unresolved, or noise (nothing wrong now)."
    )
    signal_baseline: float | None = Field(default=None, description="The signal's healthy level before the incident.")
    signal_threshold: float | None = Field(default=None, description="The rule's threshold, when it states one.")
    high_is_bad: bool = True
    signal_slope_per_h: float | None = Field(default=None, description="The signal's slope before the alert.")
    versions: list[dict[str, Any]] = Field(
        default_factory=list, description="Version runs seen (version, start, end, mean signal, healthy)."
    )
    version_source: str = Field(default="", description="Where the versions were read.")
    version_query: str | None = Field(default=None, description="The query that showed the versions (presence check).")
    cause: dict[str, Any] = Field(
        default_factory=dict, description="The cause's particulars, for the report (who edited what, hosts, rates...)."
    )
    proxy_query: str | None = Field(
        default=None, description="For an alert without its own metric: the probe verify re-reads instead."
    )
    proxy_baseline: float | None = Field(default=None, description="The proxy probe's pre-alert mean.")


class ReviewResult(BaseModel):
    """What the release review concluded."""

    status: Literal["reviewed", "skipped", "failed"]
    reason: str = ""
    release: str | None = None
    pulls: list[int] = Field(default_factory=list)
    findings: list[dict[str, Any]] = Field(default_factory=list)


class PlannedAction(BaseModel):
    """The planner's choice for the next attempt."""

    rung: int
    rung_name: str
    operation: str | None
    params: dict[str, Any] = Field(default_factory=dict)
    reversible: bool = False
    reason: str = ""


class GuardDecision(BaseModel):
    """The guard's verdict on a planned action."""

    allowed: bool
    reason: str = ""
    dry_run: bool = False
    needs_approval: bool = False
    approved_by: str | None = None


class Attempt(BaseModel):
    """One rung tried: written before the executor call, completed after verify."""

    n: int
    rung: int
    action: str | None
    params: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str
    started_at: datetime
    result: dict[str, Any] | None = None
    verified: bool | None = None
    signal_before: float | None = None
    signal_after: float | None = None
    undone: bool = False
    undo_result: dict[str, Any] | None = Field(default=None, description="The executor's answer to the undo.")
    signal_after_undo: float | None = None
    signal_held: float | None = Field(default=None, description="The signal after policy.verify_hold_s.")
    outcome: str | None = Field(
        default=None,
        description="cleared | holding | still_firing | not_baseline | masked | worse | unverified | failed",
    )
    note: str = ""


class Decision(BaseModel):
    """A decision any node took, in order, for the timeline and the audit trail."""

    at: datetime
    node: str
    summary: str


class IncidentState(BaseModel):
    """Everything the graph knows about one incident; checkpointed after every node."""

    incident_id: str
    alert: Alert
    alerts_seen: int = 1
    firing: list[str] = Field(default_factory=list, description="Fingerprints of its alerts still firing.")
    status: IncidentStatus = "open"
    dry_run: bool = False
    triage: TriageResult | None = None
    findings: list[Finding] = Field(default_factory=list)
    diagnosis: Diagnosis | None = None
    review: ReviewResult | None = None
    report: Report | None = None
    pending: PlannedAction | None = None
    guard: GuardDecision | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    model_calls: list[ModelCall] = Field(default_factory=list, description="Every model request and answer.")
    notifications: list[dict[str, Any]] = Field(default_factory=list)
    escalation_reason: str = ""
    recall: Recall | None = Field(default=None, description="The subject's history, read at diagnosis.")

    @property
    def budget_left(self) -> int:
        """Attempts still allowed by triage's budget (one that never reached the executor spends none)."""
        budget = self.triage.budget if self.triage else 0
        spent = sum(1 for a in self.attempts if (a.result or {}).get("status") != "unreachable")
        return max(0, budget - spent)

    @property
    def llm_tokens(self) -> int:
        """Model tokens this incident has spent so far."""
        return sum(c.usage.total_tokens for c in self.model_calls)

    @property
    def llm_seconds(self) -> float:
        """Seconds this incident has spent waiting for models so far."""
        return sum(c.duration_ms for c in self.model_calls) / 1000
