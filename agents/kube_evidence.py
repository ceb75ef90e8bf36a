"""What the cluster says about the subject, when one is configured: pods, their nodes, rollouts, config in use.

Through the recorded Kubernetes read tools (tools/kube.py), the way ``kubectl describe`` is
read during an incident:

- the subject's pods: not ready, restarting, waiting (CrashLoopBackOff, ImagePullBackOff),
  last terminated (OOMKilled): evidence;
- the nodes of the pods that are not ready: a node that is not Ready is the cause;
- the Deployment's rollout history: the version history when no metric shows one;
- the ConfigMaps and Secrets the workload's pods use: what links a config edit to it.
"""

from __future__ import annotations

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


def available(session: ToolSession) -> bool:
    """Whether a cluster is configured (its read tools are offered)."""
    return all(session.backend.has(name) for name in KUBE_TOOLS)


def gather(session: ToolSession, subject: Subject, now: datetime) -> KubeEvidence | None:
    """Read the subject's pods, nodes, rollouts and config references (None: no cluster, or not a workload)."""
    if not available(session) or subject.kind != "workload" or not subject.name or not subject.namespace:
        return None
    evidence = KubeEvidence()
    pods = session.call("k8s_pods", namespace=subject.namespace, workload=subject.name)
    if pods.ok:
        evidence.pods = list((pods.data or {}).get("pods") or [])
        evidence.findings.extend(_pod_findings(subject, evidence.pods))
        evidence.node_down = _lost_node(session, evidence.pods)
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
