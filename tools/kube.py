"""Kubernetes read tools: what the cluster says about the subject (pods, events, rollouts, owners, logs, nodes).

Read-only, through the official ``kubernetes`` client against the cluster ``kubernetes:``
configures (host + token, a kubeconfig, or in-cluster), recorded like every other tool so
replay and the eval see them. Each answer is compact: what an on-call engineer reads in
``kubectl get pods`` / ``describe`` / ``rollout history`` / ``logs --previous``, never a whole
object. A failed call is a :class:`ToolError` whose sentence says what to check.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, Field

from state.alert_fields import rfc3339
from state.subject import owner_of_pod, owner_of_replicaset
from tools.registry import Tool, ToolError

REVISION = "deployment.kubernetes.io/revision"
MAX_ITEMS = 50
Kind = Literal["Deployment", "StatefulSet", "DaemonSet"]


class Pods(BaseModel):
    """Arguments of ``k8s_pods``."""

    namespace: str = Field(min_length=1)
    workload: str | None = Field(default=None, description="Only the pods this Deployment/StatefulSet/DaemonSet owns.")
    pod: str | None = Field(default=None, description="Only this pod.")


class Events(BaseModel):
    """Arguments of ``k8s_events``."""

    namespace: str = Field(min_length=1)
    workload: str | None = Field(default=None, description="Events of this workload, its ReplicaSets and pods.")
    since_min: float = Field(default=60, ge=1, le=1440, description="Only events seen this recently.")


class Rollouts(BaseModel):
    """Arguments of ``k8s_rollout_history``."""

    namespace: str = Field(min_length=1)
    deployment: str = Field(min_length=1, description="The Deployment.")


class Owner(BaseModel):
    """Arguments of ``k8s_owner``."""

    namespace: str = Field(min_length=1)
    pod: str = Field(min_length=1)


class Workload(BaseModel):
    """Arguments of ``k8s_workload``."""

    namespace: str = Field(min_length=1)
    workload: str = Field(min_length=1, description="The Deployment/StatefulSet/DaemonSet.")
    kind: Kind = "Deployment"


class FindWorkload(BaseModel):
    """Arguments of ``k8s_find_workload``."""

    workload: str = Field(min_length=1, description="The exact name of a Deployment, StatefulSet or DaemonSet.")


class PodLogs(BaseModel):
    """Arguments of ``k8s_pod_logs``."""

    namespace: str = Field(min_length=1)
    pod: str = Field(min_length=1)
    container: str | None = None
    previous: bool = Field(default=False, description="The crashed container's log (kubectl logs --previous).")
    tail_lines: int = Field(default=200, ge=1, le=2000)


class Node(BaseModel):
    """Arguments of ``k8s_node``."""

    node: str = Field(min_length=1, description="The node's name.")


# --------------------------------------------------------------------------- compact views (pure)


def _time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def pod_view(pod: Any) -> dict[str, Any]:
    """A pod as ``kubectl get pods -o wide`` plus each container's state, last termination and its claims."""
    status = pod.status
    containers = []
    for c in status.container_statuses or []:
        waiting = c.state.waiting if c.state else None
        terminated = c.last_state.terminated if c.last_state else None
        containers.append(
            {
                "name": c.name,
                "image": c.image,
                "ready": bool(c.ready),
                "restarts": int(c.restart_count or 0),
                "waiting": waiting.reason if waiting else None,
                "running": bool(c.state and c.state.running),
                "last_terminated": terminated.reason if terminated else None,
                "exit_code": terminated.exit_code if terminated else None,
            }
        )
    owners = [{"kind": o.kind, "name": o.name} for o in pod.metadata.owner_references or []]
    return {
        "name": pod.metadata.name,
        "phase": status.phase,
        "ready": bool(containers) and all(c["ready"] for c in containers),
        "restarts": sum(c["restarts"] for c in containers),
        "node": pod.spec.node_name,
        "started": _time(status.start_time),
        "owner": owners[0] if owners else None,
        "containers": containers,
        "claims": claims_of(pod),
    }


def claims_of(pod: Any) -> list[dict[str, str]]:
    """The PersistentVolumeClaims a pod mounts, by volume name (``kubectl describe pod``'s ClaimName).

    A generic ephemeral volume's claim is named ``<pod>-<volume>`` by the ephemeral volume controller.
    """
    found = []
    for volume in (pod.spec.volumes if pod.spec else None) or []:
        if volume.persistent_volume_claim is not None:
            found.append({"volume": volume.name, "claim": volume.persistent_volume_claim.claim_name})
        elif getattr(volume, "ephemeral", None) is not None:
            found.append({"volume": volume.name, "claim": f"{pod.metadata.name}-{volume.name}"})
    return found


def owned_by(pod: Any, workload: str) -> bool:
    """Whether ``workload`` controls ``pod`` (its ReplicaSet's Deployment, its StatefulSet/DaemonSet/Job)."""
    for owner in pod.metadata.owner_references or []:
        if owner.kind == "ReplicaSet" and owner_of_replicaset(owner.name) == workload:
            return True
        if owner.kind in ("StatefulSet", "DaemonSet", "Job") and owner.name == workload:
            return True
    if not pod.metadata.owner_references:
        named = owner_of_pod(pod.metadata.name or "")
        return bool(named and named[0] == workload)
    return False


def _event_about(event: Any, workload: str | None) -> bool:
    if workload is None:
        return True
    obj = event.involved_object
    name = obj.name or ""
    if obj.kind == "Pod":
        named = owner_of_pod(name)
        return bool(named and named[0] == workload)
    if obj.kind == "ReplicaSet":
        return owner_of_replicaset(name) == workload
    return name == workload


def event_view(event: Any) -> dict[str, Any]:
    """An event as ``kubectl get events`` shows it."""
    obj = event.involved_object
    last = event.last_timestamp or event.event_time or event.first_timestamp
    return {
        "when": _time(last),
        "type": event.type,
        "reason": event.reason,
        "object": f"{obj.kind}/{obj.name}",
        "message": (event.message or "")[:300],
        "count": int(event.count or 1),
    }


def references(spec: Any) -> list[dict[str, str]]:
    """The ConfigMaps and Secrets a pod spec uses (volumes, envFrom, env valueFrom)."""
    from tools.logs.trace import references as from_object

    as_dict = spec.to_dict() if hasattr(spec, "to_dict") else spec
    camel = _camel(as_dict)
    return from_object({"spec": camel})


def _camel(value: Any) -> Any:
    """The client's snake_case model dict as the API's camelCase JSON (what the audit log holds)."""
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        head, *rest = key.split("_")
        out[head + "".join(part.title() for part in rest)] = _camel(item)
    return out


# --------------------------------------------------------------------------- the tools


class KubeReader:
    """The read calls, over one lazily made API client; failures become :class:`ToolError` sentences."""

    def __init__(self, client_factory: Callable[[], Any], clock: Callable[[], datetime] | None = None) -> None:
        self._factory = client_factory
        self._apis: dict[str, Any] = {}
        self.now = clock or (lambda: datetime.now(UTC))

    def api(self, kind: str) -> Any:
        """The CoreV1Api ("core") or AppsV1Api ("apps")."""
        from kubernetes import client

        if "client" not in self._apis:
            self._apis["client"] = self._factory()
        if kind not in self._apis:
            self._apis[kind] = (client.CoreV1Api if kind == "core" else client.AppsV1Api)(self._apis["client"])
        return self._apis[kind]

    @staticmethod
    def call(what: str, fn: Callable[[], Any]) -> Any:
        """Run one API call; an API or network failure is a ToolError saying what failed."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn()
        except ApiException as exc:
            raise ToolError(f"Kubernetes API refused {what}: {exc.status} {exc.reason or 'error'}") from None
        except (HTTPError, OSError) as exc:
            raise ToolError(f"Kubernetes API unreachable for {what}: {type(exc).__name__}") from None

    def pods(self, namespace: str, workload: str | None = None, pod: str | None = None) -> dict[str, Any]:
        """``k8s_pods``."""
        items = self.call("list pods", lambda: self.api("core").list_namespaced_pod(namespace)).items
        chosen = [
            p for p in items if (pod is None or p.metadata.name == pod) and (workload is None or owned_by(p, workload))
        ]
        return {"pods": [pod_view(p) for p in chosen[:MAX_ITEMS]], "total": len(chosen)}

    def events(self, namespace: str, workload: str | None = None, since_min: float = 60) -> dict[str, Any]:
        """``k8s_events``."""
        items = self.call("list events", lambda: self.api("core").list_namespaced_event(namespace)).items
        cutoff = self.now() - timedelta(minutes=since_min)
        recent = [v for v in (event_view(e) for e in items if _event_about(e, workload)) if _recent(v["when"], cutoff)]
        recent.sort(key=lambda v: v["when"] or "")
        return {"events": recent[-MAX_ITEMS:], "total": len(recent)}

    def rollout_history(self, namespace: str, deployment: str) -> dict[str, Any]:
        """``k8s_rollout_history``."""
        name = deployment
        apps = self.api("apps")
        found = self.call(f"get deployment {name}", lambda: apps.read_namespaced_deployment(name, namespace))
        uid = found.metadata.uid
        items = self.call("list replicasets", lambda: apps.list_namespaced_replica_set(namespace)).items
        revisions = [
            {
                "revision": int((rs.metadata.annotations or {}).get(REVISION, 0) or 0),
                "replicaset": rs.metadata.name,
                "images": [c.image for c in rs.spec.template.spec.containers or []],
                "created": _time(rs.metadata.creation_timestamp),
                "replicas": int(rs.status.replicas or 0),
            }
            for rs in items
            if any(o.uid == uid for o in rs.metadata.owner_references or [])
        ]
        revisions.sort(key=lambda r: r["revision"])
        return {"deployment": name, "revisions": revisions}

    def owner(self, namespace: str, pod: str) -> dict[str, Any]:
        """``k8s_owner``."""
        found = self.call(f"get pod {pod}", lambda: self.api("core").read_namespaced_pod(pod, namespace))
        chain = [{"kind": "Pod", "name": pod}]
        for ref in found.metadata.owner_references or []:
            chain.append({"kind": ref.kind, "name": ref.name})
            if ref.kind == "ReplicaSet":
                chain.extend(self._replica_set_owners(namespace, ref.name))
        return {"chain": chain}

    def _replica_set_owners(self, namespace: str, name: str) -> list[dict[str, str]]:
        read = self.api("apps").read_namespaced_replica_set
        rs = self.call(f"get replicaset {name}", lambda: read(name, namespace))
        return [{"kind": o.kind, "name": o.name} for o in rs.metadata.owner_references or []]

    def workload(self, namespace: str, workload: str, kind: str = "Deployment") -> dict[str, Any]:
        """``k8s_workload``."""
        name = workload
        apps = self.api("apps")
        reader = {
            "Deployment": apps.read_namespaced_deployment,
            "StatefulSet": apps.read_namespaced_stateful_set,
            "DaemonSet": apps.read_namespaced_daemon_set,
        }[kind]
        obj = self.call(f"get {kind.lower()} {name}", lambda: reader(name, namespace))
        spec, status = obj.spec.template.spec, obj.status
        return {
            "kind": kind,
            "name": name,
            "replicas": getattr(obj.spec, "replicas", None),
            "ready": getattr(status, "ready_replicas", None) or getattr(status, "number_ready", None) or 0,
            "images": [c.image for c in spec.containers or []],
            "references": references(spec),
            "revision": (obj.metadata.annotations or {}).get(REVISION),
        }

    def find_workload(self, workload: str) -> dict[str, Any]:
        """``k8s_find_workload``: the workloads called exactly ``workload``, in every namespace."""
        name = workload
        apps = self.api("apps")
        listers = {
            "Deployment": apps.list_deployment_for_all_namespaces,
            "StatefulSet": apps.list_stateful_set_for_all_namespaces,
            "DaemonSet": apps.list_daemon_set_for_all_namespaces,
        }
        found: list[dict[str, str]] = []
        selector = f"metadata.name={name}"
        for kind, lister in listers.items():
            items = self.call(f"list {kind.lower()}s", partial(lister, field_selector=selector))
            found.extend(
                {"kind": kind, "namespace": item.metadata.namespace, "name": item.metadata.name}
                for item in items.items
                if item.metadata.name == name  # a server that ignores the selector is filtered here
            )
        return {"workloads": found[:MAX_ITEMS], "total": len(found)}

    def pod_logs(
        self, namespace: str, pod: str, container: str | None = None, previous: bool = False, tail_lines: int = 200
    ) -> dict[str, Any]:
        """``k8s_pod_logs``."""
        read = self.api("core").read_namespaced_pod_log
        text = self.call(
            f"logs of {pod}",
            lambda: read(pod, namespace, container=container, previous=previous, tail_lines=tail_lines),
        )
        lines = str(text or "").splitlines()
        return {"pod": pod, "container": container, "previous": previous, "lines": lines[-tail_lines:]}

    def node(self, node: str) -> dict[str, Any]:
        """``k8s_node``."""
        name = node
        found = self.call(f"get node {name}", lambda: self.api("core").read_node(name))
        status, spec = found.status, found.spec
        conditions = {c.type: c.status for c in (status.conditions if status else None) or []}
        return {
            "name": name,
            "ready": conditions.get("Ready"),
            "conditions": conditions,
            "unschedulable": bool(spec and spec.unschedulable),
            "taints": [f"{t.key}:{t.effect}" for t in (spec.taints if spec else None) or []],
        }


def kube_tools(client_factory: Callable[[], Any], clock: Callable[[], datetime] | None = None) -> list[Tool]:
    """The Kubernetes read tools over the API client ``client_factory`` makes (lazily, once).

    ``clock`` says what "recently" is measured from (the simulated clock of an eval world).
    """
    reader = KubeReader(client_factory, clock)
    return [
        Tool("k8s_pods", "Pods (of a workload): phase, readiness, restarts, node, each container's state and "
             "last termination (OOMKilled, Error...).", Pods, reader.pods),
        Tool("k8s_events", "Recent Kubernetes events of a namespace (or of one workload, its ReplicaSets and pods).",
             Events, reader.events),
        Tool("k8s_rollout_history", "A Deployment's rollout history: its ReplicaSets with revision, images and "
             "creation time.", Rollouts, reader.rollout_history),
        Tool("k8s_owner", "Who owns a pod: Pod → ReplicaSet → Deployment (ownerReferences).", Owner, reader.owner),
        Tool("k8s_workload", "A workload's replicas, readiness, images and the ConfigMaps/Secrets its pods use.",
             Workload, reader.workload),
        Tool("k8s_find_workload", "Which namespaces run a Deployment/StatefulSet/DaemonSet of exactly this name.",
             FindWorkload, reader.find_workload),
        Tool("k8s_pod_logs", "A pod container's log tail (previous: the crashed instance's).", PodLogs,
             reader.pod_logs),
        Tool("k8s_node", "A node's conditions (Ready, pressures), schedulability and taints.", Node, reader.node),
    ]  # fmt: skip


def _recent(when: str | None, cutoff: datetime) -> bool:
    parsed = rfc3339(when) if when else None
    return parsed is None or parsed >= cutoff
