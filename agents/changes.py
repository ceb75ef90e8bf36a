"""Changes to the namespace around the subject: which audited write could have caused the alert, and why.

A workload can break without anyone touching it: a NetworkPolicy that isolates its pods cuts
its scrapes and its callers, a lowered ResourceQuota refuses its new pods, a Service edit
loses its endpoints. The audit log says who wrote which namespace object when
(``trace_chain``'s ``namespace_changes``); a write is linked to the subject only by what the
objects say, never by a name's likeness:

- the alert's own labels name the object (kube-state-metrics' ``resourcequota``,
  ``limitrange``, ``poddisruptionbudget``, ``horizontalpodautoscaler``, ingress-nginx's ``ingress``);
- a NetworkPolicy selects the subject's pods: every pod (an empty ``podSelector``) or labels
  that name it (``app``, ``app.kubernetes.io/name``, ``k8s-app``, ``name``, ``component``);
- the subject's events name it (``exceeded quota: compute-quota``, a LimitRange's ``forbidden``).

Among linked NetworkPolicies, one that admits nothing (a default deny) is what cut the
traffic; an allow policy applied with it only opens paths again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from state.alert import Alert
from state.alert_fields import rfc3339

# alert labels that name a namespace object, and the API resource they name
OBJECT_LABELS = {
    "resourcequota": "resourcequotas",
    "limitrange": "limitranges",
    "poddisruptionbudget": "poddisruptionbudgets",
    "horizontalpodautoscaler": "horizontalpodautoscalers",
    "networkpolicy": "networkpolicies",
    "ingress": "ingresses",
}
NAME_LABELS = ("app.kubernetes.io/name", "app", "k8s-app", "name", "app.kubernetes.io/instance", "component")
WRITES = frozenset({"create", "update", "patch", "delete"})


Link = dict[str, str]  # how a write is linked: {"how": alert_label | selects_all | selects_workload | event, ...}


def _named_by_alert(alert: Alert, write: dict[str, Any]) -> Link | None:
    for label, resource in OBJECT_LABELS.items():
        if write.get("resource") == resource and alert.labels.get(label) == write.get("name"):
            return {"how": "alert_label", "label": label, "value": str(write["name"])}
    return None


def _selects_subject(alert: Alert, write: dict[str, Any]) -> Link | None:
    policy = write.get("policy")
    name = alert.subject.workload
    if write.get("resource") != "networkpolicies" or not isinstance(policy, dict) or not name:
        return None
    pods = policy.get("pods") or {}
    if not pods and not policy.get("expressions"):
        return {"how": "selects_all", "namespace": str(write.get("namespace") or ""), "workload": name}
    named = [k for k in NAME_LABELS if pods.get(k) == name]
    if named and all(k in NAME_LABELS for k in pods):
        return {"how": "selects_workload", "label": named[0], "workload": name}
    return None


def _named_by_events(write: dict[str, Any], events: list[dict[str, Any]]) -> Link | None:
    if write.get("resource") not in ("resourcequotas", "limitranges"):
        return None
    needle = f"{write.get('name')}"
    for event in events:
        message = str(event.get("message") or "")
        if needle and (f"quota: {needle}" in message or f"limitrange {needle}" in message.lower()):
            return {"how": "event", "object": str(event.get("object")), "reason": str(event.get("reason"))}
    return None


def link_text(link: Link, lang: str = "en") -> str:
    """Why a write is linked to the subject, in ``lang`` (zh or en)."""
    zh = lang == "zh"
    match link.get("how"):
        case "alert_label":
            return (
                f"告警标签 {link['label']}={link['value']} 指向它"
                if zh
                else f"the alert's label {link['label']}={link['value']} names it"
            )
        case "selects_all":
            return (
                f"它选中命名空间 {link['namespace']} 的所有 Pod（包括 {link['workload']}）"
                if zh
                else f"it selects every pod of namespace {link['namespace']}, {link['workload']}'s among them"
            )
        case "selects_workload":
            return (
                f"它按 {link['label']}={link['workload']} 选中 {link['workload']} 的 Pod"
                if zh
                else f"it selects {link['workload']}'s pods ({link['label']}={link['workload']})"
            )
        case "event":
            return (
                f"事件 {link['object']} {link['reason']} 指向它"
                if zh
                else f"event {link['reason']} of {link['object']} names it"
            )
    return ""


def linked_changes(
    alert: Alert, changes: list[dict[str, Any]], events: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The audited namespace writes before the alert that the objects link to its subject (oldest first)."""
    linked = []
    for write in changes:
        if write.get("verb") not in WRITES or not written_before(write, alert.starts_at):
            continue
        why = _named_by_alert(alert, write) or _selects_subject(alert, write) or _named_by_events(write, events or [])
        if why:
            linked.append({**write, "linked_by": why})
    return linked


def culprit(linked: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The write to blame: a NetworkPolicy that admits nothing before one that allows peers, else the latest."""
    denying = [w for w in linked if (w.get("policy") or {}).get("denies") and w.get("verb") != "delete"]
    chosen = denying or linked
    return chosen[-1] if chosen else None


def written_before(write: dict[str, Any], moment: datetime) -> bool:
    """Whether an audited write (its ``when``) happened at or before ``moment``."""
    when = rfc3339(str(write.get("when") or ""))
    return when is not None and when <= moment
