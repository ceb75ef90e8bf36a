"""The trace chain: business-error signature → k8s events of its workload → audit writes before it.

For each signature: the events of the same pod/workload in a window around it, then the
audit records that changed that workload just before.

:class:`TraceCollector` is a :func:`~tools.logs.classify.feed` hook: it keeps compact
copies of the events and audit records inside the time window (bounded, so memory stays
flat). :func:`build_chains` then joins them to the error signatures of the same pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tools.logs.classify import LogSummary, Signature
from tools.logs.identity import object_identity
from tools.logs.records import Kind, iso, record_time, to_epoch

MUTATING_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
NOTABLE_REASONS = (
    "OOMKilled",
    "OOMKilling",
    "BackOff",
    "CrashLoopBackOff",
    "Unhealthy",
    "Killing",
    "Failed",
    "Evicted",
)
MAX_KEPT = 5_000


def _object_workload(kind: str | None, name: str | None) -> str | None:
    if not name:
        return None
    return object_identity(kind, name, None).workload or name


def _event_row(record: dict[str, Any]) -> dict[str, Any]:
    involved = record.get("involvedObject") or record.get("regarding") or {}
    meta = record.get("metadata") or {}
    when = None
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        when = to_epoch(record.get(key))
        if when is not None:
            break
    kind, name = involved.get("kind"), involved.get("name")
    return {
        "when": when if when is not None else record_time(record),
        "namespace": involved.get("namespace") or meta.get("namespace"),
        "object": f"{kind}/{name}",
        "workload": _object_workload(kind, name),
        "reason": record.get("reason") or "",
        "type": record.get("type") or "",
        "message": str(record.get("message") or record.get("note") or "")[:300],
        "count": int(record.get("count") or 1),
    }


def _change(ref: dict[str, Any], request: Any) -> str:
    """What an audited write changed, as far as the request body says (image, replicas, config keys)."""
    resource, sub = ref.get("resource"), ref.get("subresource")
    if not isinstance(request, dict):
        return f"{resource}/{sub}" if sub else ""
    spec = request.get("spec") or {}
    if sub == "scale" or ("replicas" in spec and "template" not in spec):
        return f"scale to {spec.get('replicas')} replicas"
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    images = [str(c["image"]) for c in containers if isinstance(c, dict) and c.get("image")]
    if images:
        return "image → " + ", ".join(images)
    if resource in ("configmaps", "secrets"):
        keys = sorted((request.get("data") or {}).keys())
        return f"config edit ({', '.join(keys[:8])})" if keys else "config edit"
    if resource == "resourcequotas" and isinstance(spec.get("hard"), dict):
        return "hard " + ", ".join(f"{k}={v}" for k, v in list(spec["hard"].items())[:6])
    if resource == "networkpolicies" and spec:
        policy = network_policy(spec)
        denied = " and ".join(policy["denies"])
        pods = ",".join(f"{k}={v}" for k, v in policy["pods"].items())
        closes = "denies all " + denied if denied else "allows listed peers"
        return closes + (f" to pods {pods}" if pods else " to every pod")
    if "replicas" in spec:
        return f"scale to {spec['replicas']} replicas"
    return ""


def network_policy(spec: dict[str, Any]) -> dict[str, Any]:
    """Which pods a NetworkPolicy selects (``{}``: all of the namespace's) and which directions it closes.

    A policy type listed with no rules admits nothing that way (``default-deny``); its pods are
    isolated by it, and only other policies' rules can open them again.
    """
    selector = spec.get("podSelector") or {}
    types = spec.get("policyTypes") or (["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
    denies = [t.lower() for t in types if not spec.get(t.lower())]
    return {"pods": dict(selector.get("matchLabels") or {}), "expressions": bool(selector.get("matchExpressions")),
            "denies": denies}  # fmt: skip


WORKLOAD_RESOURCES = frozenset({"deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs", "pods"})


def _pod_spec(obj: Any) -> dict[str, Any]:
    """The pod spec inside a workload object (Deployment/StatefulSet/DaemonSet/Job template, CronJob, Pod)."""
    if not isinstance(obj, dict):
        return {}
    spec = obj.get("spec") or {}
    if not isinstance(spec, dict):
        return {}
    if "jobTemplate" in spec:
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template")
    return (template.get("spec") or {}) if isinstance(template, dict) else spec


def references(obj: Any) -> list[dict[str, str]]:
    """The ConfigMaps and Secrets a workload object's pods use: volumes, envFrom, env valueFrom.

    What links a config edit to a workload (never the names' likeness).
    """
    spec = _pod_spec(obj)
    found: list[dict[str, str]] = []

    def add(resource: str, name: Any, how: str) -> None:
        if isinstance(name, str) and name and {"resource": resource, "name": name, "how": how} not in found:
            found.append({"resource": resource, "name": name, "how": how})

    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        add("configmaps", (volume.get("configMap") or {}).get("name"), f"volume {volume.get('name')}")
        add("secrets", (volume.get("secret") or {}).get("secretName"), f"volume {volume.get('name')}")
        for source in (volume.get("projected") or {}).get("sources") or []:
            add("configmaps", (source.get("configMap") or {}).get("name"), f"volume {volume.get('name')}")
            add("secrets", (source.get("secret") or {}).get("name"), f"volume {volume.get('name')}")
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if not isinstance(container, dict):
            continue
        for source in container.get("envFrom") or []:
            add("configmaps", (source.get("configMapRef") or {}).get("name"), f"envFrom of {container.get('name')}")
            add("secrets", (source.get("secretRef") or {}).get("name"), f"envFrom of {container.get('name')}")
        for env in container.get("env") or []:
            value = (env or {}).get("valueFrom") or {}
            add("configmaps", (value.get("configMapKeyRef") or {}).get("name"), f"env {env.get('name')}")
            add("secrets", (value.get("secretKeyRef") or {}).get("name"), f"env {env.get('name')}")
    return found


def _audit_row(record: dict[str, Any]) -> dict[str, Any]:
    ref = record.get("objectRef") or {}
    user = record.get("user") or {}
    impersonated = (record.get("impersonatedUser") or {}).get("username")
    when = to_epoch(record.get("requestReceivedTimestamp")) or to_epoch(record.get("stageTimestamp"))
    return {
        "when": when if when is not None else record_time(record),
        "who": impersonated or user.get("username") or "unknown",
        "verb": record.get("verb") or "",
        "resource": ref.get("resource") or "",
        "subresource": ref.get("subresource") or "",
        "namespace": ref.get("namespace"),
        "name": ref.get("name") or "",
        "workload": object_identity(ref.get("resource"), ref.get("name"), None).workload,
        "code": (record.get("responseStatus") or {}).get("code"),
        "change": _change(ref, record.get("requestObject")),
        "user_agent": str(record.get("userAgent") or "")[:80],
        "references": references(record.get("responseObject") or record.get("requestObject"))
        if ref.get("resource") in WORKLOAD_RESOURCES
        else [],
        **_policy_of(ref, record),
    }


def _policy_of(ref: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """A NetworkPolicy write's selector and closed directions (the object as the API answered, else as sent)."""
    if ref.get("resource") != "networkpolicies":
        return {}
    obj = record.get("responseObject") or record.get("requestObject")
    spec = obj.get("spec") if isinstance(obj, dict) else None
    return {"policy": network_policy(spec)} if isinstance(spec, dict) else {}


@dataclass
class TraceCollector:
    """Keeps events and write-audit records inside [start, end] (either may be None), bounded."""

    start: float | None = None
    end: float | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0

    def _inside(self, when: float | None) -> bool:
        if when is None:
            return True
        return (self.start is None or when >= self.start) and (self.end is None or when <= self.end)

    def __call__(self, kind: Kind, record: dict[str, Any]) -> None:
        """The feed hook."""
        if kind == "event":
            row = _event_row(record)
            target = self.events
        elif kind == "audit" and str(record.get("verb", "")).lower() in MUTATING_VERBS:
            if record.get("stage") not in (None, "ResponseComplete", "Panic"):
                return  # one row per request, not one per stage
            row = _audit_row(record)
            target = self.audits
        else:
            return
        if not self._inside(row["when"]):
            return
        if len(target) >= MAX_KEPT:
            self.dropped += 1
            return
        target.append(row)


def _same_workload(row: dict[str, Any], workloads: set[str], namespaces: set[str]) -> bool:
    if namespaces and row.get("namespace") and row["namespace"] not in namespaces:
        return False
    if row.get("resource") in CONFIG_RESOURCES:
        return False  # a config edit is the workload's only when it uses it (linked by references, not names)
    return (row.get("workload") or row.get("name") or "") in workloads


CONFIG_RESOURCES = frozenset({"configmaps", "secrets"})


def subject_events(
    collector: TraceCollector, namespace: str | None, workload: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The subject's own warning/notable events, and the nodes' events, in the window (newest last)."""
    mine = [
        {**e, "when": iso(e["when"])}
        for e in sorted(collector.events, key=lambda e: e["when"] or 0.0)
        if workload
        and e.get("workload") == workload
        and (namespace is None or e.get("namespace") in (None, namespace))
        and (e.get("type") == "Warning" or str(e.get("reason")) in NOTABLE_REASONS or "Node" in str(e.get("reason")))
    ]
    nodes = [
        {**e, "when": iso(e["when"])}
        for e in sorted(collector.events, key=lambda e: e["when"] or 0.0)
        if str(e.get("object", "")).startswith("Node/")
    ]
    return mine[-20:], nodes[-20:]


# namespace objects whose change alters what a workload may do without touching the workload: who may reach
# its pods, how much it may create, how it is exposed, what it may call
GOVERNING_RESOURCES = frozenset(
    {"networkpolicies", "resourcequotas", "limitranges", "services", "ingresses", "roles", "rolebindings",
     "serviceaccounts", "poddisruptionbudgets", "horizontalpodautoscalers"}
)  # fmt: skip
_CONTROL_PLANE_USER = re.compile(r"^system:(?:kube-|node:|apiserver|serviceaccount:kube-system:)")


def namespace_changes(collector: TraceCollector, namespace: str | None) -> list[dict[str, Any]]:
    """Audited writes to the namespace's governing objects (NetworkPolicies, quotas, Services, RBAC...).

    Oldest first, times as RFC 3339; writes the API refused and the control plane's own
    bookkeeping (controllers, kubelets, status subresources) are left out.
    """
    rows = [
        a
        for a in collector.audits
        if a.get("resource") in GOVERNING_RESOURCES
        and (namespace is None or a.get("namespace") == namespace)
        and not a.get("subresource")
        and not (isinstance(a.get("code"), int) and a["code"] >= 400)
        and not _CONTROL_PLANE_USER.match(str(a.get("who") or ""))
    ]
    return [{**a, "when": iso(a["when"])} for a in sorted(rows, key=lambda a: a["when"] or 0.0)[-20:]]


def config_writes(collector: TraceCollector, namespace: str | None) -> list[dict[str, Any]]:
    """Every ConfigMap/Secret write seen (in ``namespace`` when given), oldest first, times as RFC 3339."""
    rows = [
        a
        for a in collector.audits
        if a.get("resource") in CONFIG_RESOURCES and (namespace is None or a.get("namespace") in (None, namespace))
    ]
    return [{**a, "when": iso(a["when"])} for a in sorted(rows, key=lambda a: a["when"] or 0.0)[-20:]]


def _targets(signature: Signature, service: str | None) -> tuple[set[str], set[str]]:
    workloads, namespaces = set(), set()
    for key in signature.workloads:
        namespace, _, workload = key.rpartition("/")
        workloads.add(workload)
        if namespace:
            namespaces.add(namespace)
    if not workloads and service:
        workloads.add(service)
    return workloads, namespaces


def _events_for(events: list[dict[str, Any]], lo: float, hi: float) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for row in events:
        when = row["when"]
        if when is not None and not lo <= when <= hi:
            continue
        key = (row["object"], row["reason"])
        entry = grouped.setdefault(key, {**row, "count": 0, "first": when, "last": when})
        entry["count"] += row["count"]
        if when is not None:
            entry["first"] = min(entry["first"] or when, when)
            entry["last"] = max(entry["last"] or when, when)

    def rank(item: dict[str, Any]) -> tuple[int, float]:
        notable = item["reason"] in NOTABLE_REASONS or item["type"] == "Warning"
        return (0 if notable else 1, item["first"] or 0.0)

    ordered = sorted(grouped.values(), key=rank)
    return [
        {
            "reason": e["reason"],
            "type": e["type"],
            "object": e["object"],
            "namespace": e["namespace"],
            "count": e["count"],
            "first": iso(e["first"]),
            "last": iso(e["last"]),
            "message": e["message"],
        }
        for e in ordered[:10]
    ]


def build_chains(
    summary: LogSummary,
    collector: TraceCollector,
    *,
    service: str | None = None,
    top: int = 3,
    around_s: float = 600,
    before_s: float = 1800,
) -> list[dict[str, Any]]:
    """One chain per top error signature: the events around it, the writes before it."""
    chains = []
    for signature in summary.ranked(top):
        workloads, namespaces = _targets(signature, service)
        first = signature.first_seen
        last = signature.last_seen if signature.last_seen is not None else first
        lo, hi = (first - around_s, (last or first) + around_s) if first is not None else (float("-inf"), float("inf"))
        events = _events_for([e for e in collector.events if _same_workload(e, workloads, namespaces)], lo, hi)
        audit_lo, audit_hi = (first - before_s, first + 60) if first is not None else (lo, hi)
        writes = sorted(
            (
                a
                for a in collector.audits
                if _same_workload(a, workloads, namespaces) and (a["when"] is None or audit_lo <= a["when"] <= audit_hi)
            ),
            key=lambda a: a["when"] or 0.0,
        )
        audit = [{**a, "when": iso(a["when"])} for a in writes[-10:]]
        chains.append(
            {
                **signature.public(),
                "workloads": sorted(signature.workloads),
                "events": events,
                "audit": audit,
                "summary": _sentence(signature, events, audit),
            }
        )
    return chains


def _sentence(signature: Signature, events: list[dict[str, Any]], audit: list[dict[str, Any]]) -> str:
    text = f"{signature.count}× '{signature.signature}'"
    if events:
        text += " with " + ", ".join(f"{e['reason']}×{e['count']} on {e['object']}" for e in events[:3])
    if audit:
        writes = [
            f"{a['who']} {a['verb']} {a['resource']}/{a['name']}"
            + (f" ({a['change']})" if a["change"] else "")
            + f" at {a['when']}"
            for a in audit[-3:]
        ]
        text += "; before it: " + "; ".join(writes)
    return text
