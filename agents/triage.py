"""Triage: score an alert 0-100 and give it an attempt budget of 1-6.

score = Σ weight·dimension over impact, severity, business and time-sensitivity (each
0-100, weights in policy); the score's tier sets the budget. The formula and the table
are code and config; a model may only explain them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from langgraph.runtime import Runtime

from agents.deps import Deps, NodeUpdate
from state.alert import Alert
from state.config import ServiceConfig
from state.incident import IncidentState, TriageResult
from state.policy import Tier, TriagePolicy


def tier_for(score: int, tiers: list[Tier]) -> Tier:
    """The highest tier whose ``min_score`` the score reaches."""
    for tier in sorted(tiers, key=lambda t: t.min_score, reverse=True):
        if score >= tier.min_score:
            return tier
    raise ValueError(f"no tier covers score {score}")


def in_working_hours(when: datetime, policy: TriagePolicy) -> bool:
    """Whether ``when`` falls in the configured local working hours."""
    hours = policy.working_hours
    local = when.astimezone(timezone(timedelta(hours=hours.utc_offset_hours)))
    return local.weekday() in hours.weekdays and hours.start_hour <= local.hour < hours.end_hour


def dimensions(alert: Alert, service: ServiceConfig, policy: TriagePolicy, now: datetime) -> dict[str, int]:
    """The four 0-100 dimensions of an alert."""
    severity = policy.severity_scores.get(alert.severity, policy.severity_scores.get("warning", 50))
    # Impact: a whole service or cluster outranks one pod; a breached condition far past
    # its threshold outranks one just over it.
    impact = 40
    if alert.service or alert.workload:
        impact = 70
    if alert.pod and not alert.service:
        impact = 50
    if service.users:
        impact = max(impact, min(100, 50 + service.users // 1000))
    if alert.condition and alert.condition.threshold and alert.condition.current is not None:
        ratio = alert.condition.current / alert.condition.threshold if alert.condition.threshold else 1
        impact = max(impact, min(100, int(60 + 40 * max(0.0, ratio - 1))))
    started = max(0.0, (now - alert.starts_at).total_seconds())
    # the alert's own clock: when it started, in the team's zone (not when it was read)
    time_sensitivity = 80 if in_working_hours(alert.starts_at, policy) else 50
    if started > 3600:  # a long-firing alert is less of a surprise than a fresh one
        time_sensitivity -= 20
    return {
        "impact": impact,
        "severity": severity,
        "business": service.criticality,
        "time_sensitivity": max(0, time_sensitivity),
    }


def score(dims: dict[str, int], policy: TriagePolicy) -> int:
    """The weighted score, rounded, clamped to 0-100."""
    w = policy.weights
    total = (
        w.impact * dims["impact"]
        + w.severity * dims["severity"]
        + w.business * dims["business"]
        + w.time_sensitivity * dims["time_sensitivity"]
    )
    return max(0, min(100, round(total)))


def assess(alert: Alert, service: ServiceConfig, policy: TriagePolicy, now: datetime) -> TriageResult:
    """Score, tier and budget for ``alert``; info-only and resolved alerts get no ladder."""
    dims = dimensions(alert, service, policy, now)
    value = score(dims, policy)
    tier = tier_for(value, policy.tiers)
    actionable = alert.status == "firing" and alert.severity not in policy.noop_severities
    reason = (
        f"score {value} → tier {tier.name}, budget {tier.budget}"
        if actionable
        else f"no action: alert is {alert.status}, severity {alert.severity}"
    )
    return TriageResult(
        score=value,
        tier=tier.name,
        budget=tier.budget,
        dimensions=dims,
        actionable=actionable,
        reason=reason,
    )


def triage(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Decide how much effort the incident deserves before any tool is called."""
    deps = runtime.context
    now = deps.clock()
    result = assess(state.alert, deps.settings.service(state.alert.service), deps.settings.triage, now)
    deps.on_event("triage", result.model_dump())
    update = NodeUpdate(state, deps, "triage")
    update.decide(result.reason, at=now)
    return update.build(triage=result)
