"""Past incidents as alertpilot would have recorded them: for eval cases, tests and the stats benchmark.

A past incident is built the way the product builds one: an :class:`~state.incident.IncidentState`
(the alert moved back in time, triage by ``agents/triage.py::assess``, a diagnosis, the attempts
and their verified outcomes, the decisions on the run's clock) turned into its public document by
``graph/runner.py::document`` and restored into the store (``Store.restore_incident``), which
writes its facts like any other incident. :func:`generate` makes a mixed, seeded history over
several services (releases rolled back, leaks, dependency outages, config edits, noise,
informational alerts, approvals) for tests and ``benchmarks/stats_bench.py``; :func:`load`
writes many at once.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import insert

from agents.triage import assess
from graph.runner import document
from state.alert import Alert, AlertSource
from state.config import Settings
from state.facts import write_many
from state.incident import Attempt, Decision, Diagnosis, Finding, IncidentState
from state.store import IncidentRow, Store

FIXED = frozenset({"cleared", "holding"})


class PastAttempt(BaseModel):
    """One rung a past incident tried, and its verified outcome."""

    model_config = {"extra": "forbid"}

    action: Literal["restart", "config_refresh", "scale", "version_rollback", "isolate", "full_rollback"]
    outcome: Literal["cleared", "holding", "still_firing", "not_baseline", "masked", "worse", "unverified", "failed"]
    approval: Literal["approved", "rejected"] | None = Field(default=None, description="A person answered first.")
    wait_s: float = Field(default=0.0, ge=0, description="How long the approval took.")


class PastIncident(BaseModel):
    """One kind of past incident (``count`` of them), as ``history.yaml`` lists them."""

    model_config = {"extra": "forbid"}

    count: int = Field(default=1, ge=1, le=500)
    days_before: float = Field(default=30.0, gt=0, description="The oldest one, this many days before the alert.")
    until_days_before: float | None = Field(default=None, gt=0, description="The newest (default: days_before).")
    rule: str | None = Field(default=None, description="The alert rule (default: the case's own).")
    severity: str | None = None
    pattern: str
    verdict: Literal["cause_found", "unresolved", "noise"] = "cause_found"
    abstain: str = ""
    release: str | None = Field(default=None, description="The release diagnosis blamed.")
    known_good: str | None = None
    attempts: list[PastAttempt] = Field(default_factory=list)
    status: Literal["resolved", "escalated"] | None = Field(
        default=None, description="Default: resolved when an attempt held, else escalated."
    )
    escalation_reason: str = ""
    signatures: list[str] = Field(default_factory=list, description="Error signatures its logs showed.")
    minutes_per_attempt: float = Field(default=5.0, ge=0)
    informational: bool = Field(default=False, description="An info-severity alert: recorded, not investigated.")
    closed: bool = Field(
        default=True, description="An escalated one was closed when its alert resolved (else it is still open)."
    )

    def times(self, before: datetime) -> list[datetime]:
        """When each of the ``count`` incidents started, oldest first, spread evenly."""
        oldest, newest = self.days_before, self.until_days_before or self.days_before
        if self.count == 1:
            return [before - timedelta(days=oldest)]
        step = (oldest - newest) / (self.count - 1)
        return [before - timedelta(days=oldest - i * step) for i in range(self.count)]


def _decision(at: datetime, node: str, summary: str) -> Decision:
    return Decision(at=at, node=node, summary=summary)


def _attempts(past: PastIncident, incident_id: str, alert: Alert, at: datetime, settings: Settings) -> tuple[
    list[Attempt], list[Decision], datetime
]:  # fmt: skip
    attempts, decisions = [], []
    params = {"service": alert.subject.workload or alert.service or alert.name, "namespace": alert.namespace}
    for n, tried in enumerate(past.attempts, start=1):
        rung = settings.policy.rung_of(tried.action) or 1
        decisions.append(
            _decision(at, "plan", f"attempt {n}: rung {rung} ({tried.action}) for the diagnosed {past.pattern}")
        )
        at += timedelta(seconds=tried.wait_s)
        answer = {"approved": "approved by lead-oncall", "rejected": "rejected by lead-oncall: not now"}
        decisions.append(_decision(at, "guard", answer.get(tried.approval or "", "within policy")))
        if tried.approval == "rejected":
            break
        result = {"status": "error" if tried.outcome == "failed" else "success", "detail": "", "error": "",
                  "execution_time": 1.0}  # fmt: skip
        fixed = tried.outcome in FIXED
        attempts.append(
            Attempt(
                n=n,
                rung=rung,
                action=tried.action,
                params=params,
                idempotency_key=f"{incident_id}:{n}",
                started_at=at,
                result=result,
                verified=fixed,
                outcome="cleared" if fixed else tried.outcome,
                note=tried.outcome,
            )  # fmt: skip
        )
        at += timedelta(minutes=past.minutes_per_attempt)
        decisions.append(_decision(at, "verify", f"attempt {n}: {tried.outcome}"))
        if fixed:
            break
    return attempts, decisions, at


def build(
    past: PastIncident, incident_id: str, alert: Alert, started: datetime, settings: Settings
) -> tuple[dict[str, Any], str]:
    """(the public document, the dedup key) of one past incident of ``alert``'s rule and subject."""
    severity = "info" if past.informational else (past.severity or alert.severity)
    then = alert.model_copy(update={"starts_at": started, "status": "firing", "severity": severity})
    then = then.model_copy(update={"name": past.rule or alert.name})
    at = started + timedelta(minutes=1)
    triage = assess(then, settings.service(then.service), settings.triage, at)
    decisions = [_decision(at, "ingest", f"{then.source} alert {then.name}"), _decision(at, "triage", triage.reason)]
    state = IncidentState(incident_id=incident_id, alert=then, triage=triage, status="resolved", decisions=decisions)
    if not triage.actionable:
        return document(state, interrupted=False), then.dedup_key
    diagnosis = Diagnosis(
        summary=f"{then.name} on {then.subject.name}: {past.pattern}", pattern=past.pattern, verdict=past.verdict,
        abstain=past.abstain, suspected_release=past.release, known_good_release=past.known_good,
        release_confidence=0.9 if past.release else 0.0, root_cause=past.pattern,
    )  # fmt: skip
    findings = [
        Finding(kind="log", title=f"{len(past.signatures)} error signature(s)",
                evidence={"signatures": [{"signature": s, "count": 5} for s in past.signatures]})
    ] if past.signatures else []  # fmt: skip
    decisions.append(_decision(at, "diagnose", diagnosis.summary))
    attempts, tried, end = _attempts(past, incident_id, then, at, settings)
    decisions.extend(tried)
    held = any(a.verified for a in attempts)
    status = past.status or ("resolved" if held else "escalated")
    reason = past.escalation_reason or _why(past, attempts, tried)
    decisions.append(_decision(end, "resolve" if status == "resolved" else "escalate", reason or "resolved"))
    if status == "escalated" and past.closed:  # its resolved notice closed it later (runner.stop)
        end += timedelta(minutes=30)
        decisions.append(_decision(end, "resolve", "the alert resolved after it was escalated"))
    state = state.model_copy(
        update={"diagnosis": diagnosis, "findings": findings, "attempts": attempts, "decisions": decisions,
                "status": "resolved" if past.closed else status,
                "escalation_reason": "" if status == "resolved" else reason}
    )  # fmt: skip
    return document(state, interrupted=False), then.dedup_key


def _why(past: PastIncident, attempts: list[Attempt], decisions: list[Decision]) -> str:
    """The escalation reason the planner would have given."""
    rejected = [d for d in decisions if d.summary.startswith("rejected by")]
    if rejected:
        return f"guard denied {past.attempts[len(attempts)].action}: {rejected[-1].summary}"
    if attempts:
        last = attempts[-1]
        return f"the rungs that address the diagnosed cause were tried; last: {last.action} ({last.note})"
    return f"no change made: {past.abstain or 'no rung addresses the diagnosed cause (' + past.pattern + ')'}"


def seed(store: Store, alert: Alert, pasts: Iterable[PastIncident], before: datetime, settings: Settings,
         prefix: str = "past") -> int:  # fmt: skip
    """Restore the past incidents of ``alert`` (its rule and subject) into ``store``; how many."""
    n = 0
    for k, past in enumerate(pasts):
        for i, started in enumerate(past.times(before)):
            incident_id = f"{prefix}-{k}-{i}"
            doc, dedup_key = build(past, incident_id, alert, started, settings)
            store.restore_incident(incident_id, dedup_key, started + timedelta(minutes=1), doc, [])
            n += 1
    return n


# ---------------------------------------------------------------------- a mixed history (tests, benchmark)

RB = PastAttempt(action="version_rollback", outcome="cleared")
SCENARIOS: list[tuple[float, dict[str, Any]]] = [
    (0.30, {"pattern": "release", "release": "v2", "known_good": "v1", "attempts": [RB]}),
    (0.04, {"pattern": "release", "release": "v2", "known_good": "v1",
            "attempts": [{"action": "version_rollback", "outcome": "not_baseline"}]}),
    (0.05, {"pattern": "release", "release": "v2", "known_good": "v1",
            "attempts": [{"action": "version_rollback", "outcome": "cleared", "approval": "approved", "wait_s": 240}]}),
    (0.02, {"pattern": "release", "release": "v2", "known_good": "v1",
            "attempts": [{"action": "version_rollback", "outcome": "cleared", "approval": "rejected", "wait_s": 600}]}),
    (0.10, {"pattern": "leak", "release": "v2", "known_good": "v1",
            "attempts": [{"action": "restart", "outcome": "masked"}, RB]}),
    (0.04, {"pattern": "leak", "attempts": [{"action": "restart", "outcome": "cleared"}]}),
    (0.10, {"pattern": "dependency", "abstain": "a dependency is down",
            "signatures": ["dial tcp db:<*>: connect: connection refused"]}),
    (0.06, {"pattern": "config_edit", "abstain": "a ConfigMap edit before the alert"}),
    (0.12, {"pattern": "healthy", "verdict": "noise", "abstain": "the signal is already healthy"}),
    (0.10, {"pattern": "healthy", "informational": True}),
    (0.03, {"pattern": "no_data", "verdict": "unresolved", "abstain": "the alert's signal answers nothing"}),
    (0.03, {"pattern": "undetermined", "verdict": "unresolved", "abstain": "nothing explains it"}),
    (0.01, {"pattern": "dependency", "abstain": "a dependency is down", "closed": False}),
]  # fmt: skip
SERVICES = [("checkout", "shop"), ("cart", "shop"), ("payments", "pay"), ("search", "web"), ("orders", "shop"),
            ("billing", "finance"), ("profile", "users"), ("feed", "social"), ("ledger", "finance"),
            ("gateway", "edge")]  # fmt: skip
RULES = ["HighErrorRate", "HighLatencyP99", "MemoryNearLimit", "CPUNearLimit"]


def _alert(service: str, namespace: str, rule: str, source: AlertSource) -> Alert:
    return Alert(
        source=source, status="firing", name=rule, severity="critical", service=service, namespace=namespace,
        workload=service, starts_at=datetime(2026, 1, 1, tzinfo=UTC), fingerprint=f"{source}-{service}-{rule}",
        labels={"alertname": rule, "service": service, "namespace": namespace},
    )  # fmt: skip


def generate(count: int, until: datetime, days: float = 90.0, seed_value: int = 7, settings: Settings | None = None
             ) -> Iterator[tuple[str, str, datetime, dict[str, Any]]]:  # fmt: skip
    """``count`` mixed past incidents over ``days`` before ``until``: (id, dedup key, opened at, document).

    Each (scenario, service, rule, source) is built once and re-timed per incident, so a large
    history is cheap to make; the mixture is fixed by ``seed_value``.
    """
    settings = settings or Settings()
    rng = random.Random(seed_value)
    weights = [w for w, _ in SCENARIOS]
    built: dict[tuple[int, int, str, AlertSource], tuple[dict[str, Any], str]] = {}
    base = until - timedelta(days=days)
    for n in range(count):
        kind = rng.choices(range(len(SCENARIOS)), weights)[0]
        svc = rng.randrange(len(SERVICES))
        rule = rng.choice(RULES)
        source: AlertSource = rng.choice(("alertmanager", "alertmanager", "tencent", "generic"))
        key = (kind, svc, rule, source)
        if key not in built:
            past = PastIncident.model_validate(SCENARIOS[kind][1])
            built[key] = build(past, "template", _alert(*SERVICES[svc], rule, source), base, settings)
        template, dedup_key = built[key]
        offset = timedelta(seconds=rng.uniform(0, days * 86400))
        incident_id = f"gen-{n:07d}"
        yield incident_id, dedup_key, base + offset + timedelta(minutes=1), _retimed(template, incident_id, offset)


def _shift(value: str, offset: timedelta) -> str:
    return (datetime.fromisoformat(value.replace("Z", "+00:00")) + offset).isoformat()


def _retimed(template: dict[str, Any], incident_id: str, offset: timedelta) -> dict[str, Any]:
    """A copy of ``template`` that happened ``offset`` later, as incident ``incident_id``."""
    doc = dict(template, id=incident_id)
    doc["alert"] = dict(template["alert"], starts_at=_shift(template["alert"]["starts_at"], offset))
    doc["decisions"] = [dict(d, at=_shift(d["at"], offset)) for d in template["decisions"]]
    doc["attempts"] = [
        dict(a, started_at=_shift(a["started_at"], offset), idempotency_key=f"{incident_id}:{a['n']}")
        for a in template["attempts"]
    ]
    return doc


def load(store: Store, incidents: Iterable[tuple[str, str, datetime, dict[str, Any]]], batch: int = 2000) -> int:
    """Insert many past incidents (and their facts) in batched transactions; how many."""
    total, chunk = 0, []
    for item in incidents:
        chunk.append(item)
        if len(chunk) >= batch:
            total += _insert(store, chunk)
            chunk = []
    return total + (_insert(store, chunk) if chunk else 0)


def _insert(store: Store, chunk: list[tuple[str, str, datetime, dict[str, Any]]]) -> int:
    rows = [
        {"id": i, "dedup_key": key, "status": doc["status"], "source": doc["alert"]["source"],
         "name": doc["alert"]["name"], "service": doc["alert"].get("service"),
         "severity": doc["alert"].get("severity", "warning"), "created_at": at, "updated_at": at, "doc": doc}
        for i, key, at, doc in chunk
    ]  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(insert(IncidentRow), rows)
        write_many(conn, [(i, doc, at) for i, _key, at, doc in chunk])
    return len(chunk)
