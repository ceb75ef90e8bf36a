"""The incident's ends: ingest at the start; resolve, escalate and notify at the close."""

from __future__ import annotations

import logging
from typing import Any

from langgraph.runtime import Runtime

from agents.deps import Deps, NodeUpdate
from state.alert import Alert
from state.config import Settings
from state.incident import IncidentState

log = logging.getLogger("alertpilot.notify")


def configured(alert: Alert, settings: Settings) -> Alert:
    """The alert as configuration names it: the subject by its ``services:`` name, a configured severity."""
    subject = settings.resolve_service(alert.subject, alert.labels)
    changes: dict[str, Any] = {}
    if subject != alert.subject:
        changes.update(
            subject=subject, service=subject.workload, workload=subject.workload, namespace=subject.namespace
        )
    by_policy = settings.triage.severity_by_policy
    for key in (alert.labels.get("policy"), alert.labels.get("policy_type"), alert.name):
        if key and key in by_policy:
            changes["severity"] = by_policy[key]
            break
    return alert.model_copy(update=changes) if changes else alert


def ingest(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Record the alert's arrival, and who it is about; a resolved alert needs no investigation of its own."""
    deps = runtime.context
    alert = configured(state.alert, deps.settings)
    summary = (
        f"{alert.source} alert {alert.name} ({alert.status}, {alert.severity}) fingerprint {alert.fingerprint}; "
        f"subject {alert.subject.describe()}"
    )
    deps.on_event("ingest", {"alert": alert.name, "status": alert.status, "fingerprint": alert.fingerprint})
    update = NodeUpdate(state, deps, "ingest")
    update.decide(summary)
    fields: dict[str, Any] = {"status": "open"}
    if alert is not state.alert:
        fields["alert"] = alert
    return update.build(**fields)


def resolve(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Close the incident: the last attempt cleared the alert's signal."""
    deps = runtime.context
    last = state.attempts[-1] if state.attempts else None
    update = NodeUpdate(state, deps, "resolve")
    update.decide(f"resolved by attempt {last.n} ({last.action})" if last else "resolved")
    return update.build(status="resolved")


def escalate(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Hand the incident to a human: leave it open as escalated for the briefing and pushes."""
    from agents.rollback import why_no_action

    deps = runtime.context
    reason = state.escalation_reason or why_no_action(state, deps.settings.policy, deps.settings)
    update = NodeUpdate(state, deps, "escalate")
    update.decide(reason)
    return update.build(status="escalated", escalation_reason=reason)


def notify(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Tell people how the incident ended (channels are configured per user)."""
    deps = runtime.context
    triage = state.triage
    # An info-only or already-resolved alert is recorded and closed without a ladder.
    closing = "resolved" if triage is not None and not triage.actionable else state.status
    message = f"[{closing}] {state.alert.name} on {state.alert.service or state.alert.workload or '-'}: "
    message += state.escalation_reason or (
        state.report.sections.overview if state.report and state.report.sections else ""
    )
    log.info("%s", message)
    record = {
        "at": deps.clock().isoformat(),
        "channel": "log",
        "status": "delivered",
        "message": message,
    }
    deps.on_event("notify", record)
    update = NodeUpdate(state, deps, "notify")
    fields: dict[str, Any] = {"notifications": [*state.notifications, record]}
    if closing == "escalated":
        fields["notifications"] += _push_escalation(state, deps, update)
    if closing != state.status:
        fields["status"] = closing
    return update.build(**fields)


def _push_escalation(state: IncidentState, deps: Deps, update: NodeUpdate) -> list[dict[str, Any]]:
    """Push the escalation to the users' channels through the recorded ``notify_people`` tool."""
    from agents.escalation import escalation_text

    settings = deps.settings
    if not deps.tools.has("notify_people") or not any(u.channels for u in settings.users):
        return []
    doc = {
        "id": state.incident_id,
        "alert": state.alert.model_dump(mode="json", exclude={"raw"}),
        "escalation_reason": state.escalation_reason,
        "attempts": [a.n for a in state.attempts],
        "report": state.report.public() if state.report else None,
    }
    subject, text, markdown = escalation_text(doc, settings.language)
    session = update.session("notify")
    result = session.call(
        "notify_people", incident_id=state.incident_id, kind="escalation", subject=subject, text=text,
        markdown=markdown,
    )  # fmt: skip
    at = deps.clock().isoformat()
    pushed = [
        {"at": at, "channel": d["channel"], "user": d["user"], "status": d["status"], "message": subject}
        for d in (result.data or {}).get("deliveries", [])
    ] or [{"at": at, "channel": "push", "status": result.status, "message": result.error or subject}]
    for record in pushed:
        deps.on_event("notify", {**record, "message": f"{record['channel']}: {record['status']}"})
    return pushed
