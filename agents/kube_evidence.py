"""What the cluster says about the subject, when one is configured: pods, their nodes, rollouts, config in use.

Through the recorded Kubernetes read tools (tools/kube.py), the way ``kubectl describe`` is
read during an incident:

- the subject's pods: not ready, restarting, waiting (CrashLoopBackOff, ImagePullBackOff),
  last terminated (OOMKilled): evidence;
- the nodes of the pods that are not ready: a node that is not Ready is the cause;
- the subject's recent events (``kubectl get events``): a volume its pods cannot attach or
  mount (FailedAttachVolume, FailedMount, unbound claims) names the storage behind a wait;
- the Deployment's rollout history: the version history when no metric shows one;
- the ConfigMaps and Secrets the workload's pods use: what links a config edit to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.versions import VersionHistory, history_from_rollouts
from state.incident import Finding
from state.subject import Subject, image_tag
from tools.registry import ToolSession

KUBE_TOOLS = ("k8s_pods", "k8s_node", "k8s_rollout_history", "k8s_workload", "k8s_events")


@dataclass
class KubeEvidence:
    """The cluster's side of the story."""

    findings: list[Finding] = field(default_factory=list)
    node_down: dict[str, Any] | None = None
    references: list[dict[str, str]] = field(default_factory=list)
    history: VersionHistory = field(default_factory=VersionHistory)
    pods: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # the subject's recent events, oldest first
    volume_stuck: dict[str, Any] | None = None  # the claim/volume its pods cannot attach or mount


def available(session: ToolSession) -> bool:
    """Whether a cluster is configured (its read tools are offered)."""
    return all(session.backend.has(name) for name in KUBE_TOOLS)


def gather(session: ToolSession, subject: Subject, now: datetime) -> KubeEvidence | None:
    """Read the subject's pods, nodes, events, rollouts and config references (None: no cluster, or nothing to read).

    A namespace subject gets its namespace's events only.
    """
    if not available(session) or not subject.name or not subject.namespace:
        return None
    if subject.kind == "namespace":
        return _namespace_events(session, subject)
    if subject.kind != "workload":
        return None
    evidence = KubeEvidence()
    pods = session.call("k8s_pods", namespace=subject.namespace, workload=subject.name)
    if pods.ok:
        evidence.pods = list((pods.data or {}).get("pods") or [])
        evidence.findings.extend(_pod_findings(subject, evidence.pods))
        evidence.node_down = _lost_node(session, evidence.pods)
    events = session.call("k8s_events", namespace=subject.namespace, workload=subject.name)
    if events.ok:
        evidence.events = list((events.data or {}).get("events") or [])
        evidence.findings.extend(_event_findings(subject, evidence.events))
        evidence.volume_stuck = stuck_volume(evidence.events, evidence.pods)
    kind = subject.workload_kind or "Deployment"
    if kind not in ("Deployment", "StatefulSet", "DaemonSet"):
        return evidence  # a Job or a bare Pod: no controller object to read
    workload = session.call("k8s_workload", namespace=subject.namespace, workload=subject.name, kind=kind)
    if workload.ok:
        evidence.references = list((workload.data or {}).get("references") or [])
    if kind == "Deployment":
        rollouts = session.call("k8s_rollout_history", namespace=subject.namespace, deployment=subject.name)
        if rollouts.ok:
            evidence.history = _history(rollouts.data or {}, now)
    return evidence


def _pod_findings(subject: Subject, pods: list[dict[str, Any]]) -> list[Finding]:
    troubled = [p for p in pods if not p.get("ready") or p.get("restarts")]
    if not troubled:
        return []
    states: dict[str, int] = {}
    for pod in troubled:
        for c in pod.get("containers") or []:
            for state in (c.get("waiting"), c.get("last_terminated")):
                if state:
                    states[state] = states.get(state, 0) + 1
    listed = ", ".join(f"{s}×{n}" for s, n in states.items())
    detail = "; ".join(
        f"{p['name']} {p.get('phase')} ready={p.get('ready')} restarts={p.get('restarts')} node={p.get('node')}"
        for p in troubled[:5]
    )
    return [
        Finding(
            kind="event",
            title=f"pods of {subject.name}: {len(troubled)} of {len(pods)} not ready or restarting"
            + (f" ({listed})" if listed else ""),
            detail=detail,
            severity="warning",
            evidence={"pods": troubled[:10], "states": states},
        )
    ]


def _lost_node(session: ToolSession, pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The node under the subject's pods that are not ready, when that node is not Ready itself."""
    nodes = sorted({str(p["node"]) for p in pods if not p.get("ready") and p.get("node")})
    down = []
    for node in nodes[:3]:
        answer = session.call("k8s_node", node=node)
        if answer.ok and (answer.data or {}).get("ready") not in ("True", True):
            down.append((node, answer.data or {}))
    if len(down) != 1:
        return None
    node, data = down[0]
    lost = sorted(p["name"] for p in pods if p.get("node") == node and not p.get("ready"))
    return {"node": node, "reason": f"Ready={data.get('ready')}", "when": None, "pods": lost}


def _history(data: dict[str, Any], now: datetime) -> VersionHistory:
    replica_sets = []
    for rs in data.get("revisions") or []:
        tags = [image_tag(str(i)) for i in rs.get("images") or []]
        version = next((t for t in tags if t), None)
        if version:
            replica_sets.append({"version": version, "created": rs.get("created"), "revision": rs.get("revision")})
    history = history_from_rollouts(replica_sets, now)
    return history if history.runs else VersionHistory()


def _namespace_events(session: ToolSession, subject: Subject) -> KubeEvidence:
    """A namespace subject: its recent warning events (pods a quota refused, objects it rejected)."""
    evidence = KubeEvidence()
    events = session.call("k8s_events", namespace=subject.namespace)
    if events.ok:
        evidence.events = list((events.data or {}).get("events") or [])
        evidence.findings.extend(_event_findings(subject, evidence.events))
    return evidence


def _event_findings(subject: Subject, events: list[dict[str, Any]]) -> list[Finding]:
    warnings = [e for e in events if e.get("type") == "Warning"]
    if not warnings:
        return []
    totals: dict[str, int] = {}
    for event in warnings:
        totals[str(event["reason"])] = totals.get(str(event["reason"]), 0) + int(event.get("count") or 1)
    return [
        Finding(
            kind="event",
            title=f"events of {subject.name}: " + ", ".join(f"{r}×{n}" for r, n in totals.items()),
            detail="; ".join(f"{e['when']} {e['object']} {e['reason']}: {e['message'][:160]}" for e in warnings[-5:]),
            severity="warning",
            evidence={"source": "kubernetes", "events": warnings[-10:]},
        )
    ]


# what the attach/detach controller, the kubelet, the scheduler and the PV controller say when a pod waits
# on its storage (kubernetes pkg/volume, pkg/scheduler volumebinding; the messages `kubectl describe` shows)
STORAGE_REASONS = frozenset(
    {"FailedAttachVolume", "FailedMount", "FailedMapVolume", "FailedScheduling", "ProvisioningFailed",
     "VolumeResizeFailed", "FileSystemResizeFailed", "FailedBinding"}
)  # fmt: skip
# the event nearest the cause first: a FailedMount usually only times out behind a failed attach or binding
_ROOT_FIRST = ("FailedAttachVolume", "ProvisioningFailed", "FailedBinding", "FailedScheduling", "FailedMapVolume")
_QUOTED_VOLUME = re.compile(r'volume "(?P<name>[^"]+)"')
_UNMOUNTED = re.compile(r"unmounted volumes=\[(?P<names>[^\]]*)\]")
_CLAIM = re.compile(r'persistentvolumeclaim "(?P<name>[^"]+)"', re.I)
_UNBOUND = re.compile(r"unbound (?:immediate )?PersistentVolumeClaims|volume node affinity conflict", re.I)
_PV_NAME = re.compile(r"^pvc-[0-9a-f]{8}-[0-9a-f-]{27}$")  # the name dynamic provisioning gives a PV


def stuck_volume(events: list[dict[str, Any]], pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The claims and volumes the subject's pods wait on, from their storage events (None: not storage).

    A pod volume counts only when a PersistentVolumeClaim backs it (a missing ConfigMap's
    FailedMount is a config problem, not storage); a dynamically provisioned PV (``pvc-<uid>``)
    named by an attach or mount error counts as itself.
    """
    by_volume = {c["volume"]: c["claim"] for p in pods for c in p.get("claims") or []}
    all_claims = list(dict.fromkeys(by_volume.values()))
    claims: list[str] = []
    volumes: list[str] = []
    seen: list[dict[str, Any]] = []
    for event in events:
        if event.get("reason") not in STORAGE_REASONS or event.get("type") == "Normal":
            continue
        message = str(event.get("message") or "")
        named = [m["name"] for m in _QUOTED_VOLUME.finditer(message)]
        for group in _UNMOUNTED.finditer(message):
            named += group["names"].split()
        found = [by_volume[n] for n in named if n in by_volume] + [m["name"] for m in _CLAIM.finditer(message)]
        if _UNBOUND.search(message):
            found += all_claims
        pvs = [n for n in named if _PV_NAME.match(n)]
        if not found and not pvs:
            continue
        claims += [c for c in found if c not in claims]
        volumes += [v for v in pvs if v not in volumes]
        seen.append(event)
    if not seen:
        return None
    rank = {reason: i for i, reason in enumerate(_ROOT_FIRST)}
    last = min(seen, key=lambda e: rank.get(str(e["reason"]), len(rank)))
    return {
        "claims": claims,
        "volumes": volumes,
        "reason": last.get("reason"),
        "when": last.get("when"),
        "message": str(last.get("message") or "")[:300],
        "reasons": sorted({str(e["reason"]) for e in seen}),
    }
