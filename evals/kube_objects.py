"""A simulated world's state as the Kubernetes objects a cluster would show (evals/kube_world.py serves them).

Built fresh for every request from the world's state at its clock's "now":

- a Deployment/StatefulSet/DaemonSet per workload, its pod template running
  ``<image>:<version>`` (``image`` default: the workload's name), merged with the workload's
  ``template`` (volumes, env, resources...);
- a ReplicaSet per version a Deployment ran, named ``<name>-<pod-template-hash>``, its
  ``deployment.kubernetes.io/revision`` numbered in rollout order (a rollback to an old version
  gives that ReplicaSet the next revision, as the deployment controller does), created when
  that version first rolled out, scaled to 0 unless it runs now;
- the Pods of the running version (the world's pod names), started at the rollout or the
  workload's last restart, their container status from ``pod_states`` (ready, restartCount,
  state.waiting.reason, lastState.terminated.reason/exitCode);
- Nodes (the world's nodes), Namespaces;
- Events: a ``ScalingReplicaSet`` per rollout, ``BackOff`` for a crash-looping or image-pulling
  container, and the case's own (``kube/*.yaml``); an Event older than an hour (the API server's
  default ``--event-ttl``) or later than now is not listed;
- the case's ConfigMaps.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.world import PodState, Release, WorkloadSpec, WorkloadState, World, WorldState

EVENT_TTL = timedelta(hours=1)
REVISION = "deployment.kubernetes.io/revision"
RESTARTS = frozenset({"restart", "config_refresh"})


def stamp(when: datetime) -> str:
    """RFC 3339 in UTC, whole seconds (how the API server writes metadata times)."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` merged into a copy of ``base``: mappings key by key, ``containers[0]`` into the main container."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if key == "containers" and isinstance(value, list) and value and isinstance(out.get(key), list):
            out[key] = [_merged(out[key][0], value[0]), *out[key][1:], *copy.deepcopy(value[1:])]
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --------------------------------------------------------------------------- what runs


class _Run:
    """One workload at one moment: its spec, state, the release running and its history up to now."""

    def __init__(self, world: World, state: WorldState, key: str, now: datetime, release: Release) -> None:
        from tools.world import replicaset_hash

        self.world, self.key, self.now, self.release = world, key, now, release
        self.spec: WorkloadSpec = world.workloads[key]
        self.state: WorkloadState = state.workloads[key]
        self.history: list[Release] = [r for r in self.state.history if r.deployed_at <= now]
        self.revisions: dict[str, int] = {}
        for n, release in enumerate(self.history, start=1):
            self.revisions[release.version] = n  # a rollback re-uses the old ReplicaSet at a new revision
        self.hash = replicaset_hash(self.spec, release.version)
        self.operations = [op for op in state.operations if op.workload == key and op.status == "success"]

    @property
    def image(self) -> str:
        """The running image."""
        return image_of(self.spec, self.release.version)

    def pod_state(self) -> PodState:
        """How the running version's pods look."""
        from tools.world import PodState

        states = self.spec.pod_states
        return states.get(self.release.version, states.get("default", PodState()))

    def pods_since(self) -> datetime:
        """When the running pods started: the rollout, or the workload's last restart since."""
        started = self.release.deployed_at
        for op in self.operations:
            if op.method in RESTARTS and started <= op.effective_at <= self.now:
                started = op.effective_at
        return started

    def ready_pods(self) -> int:
        state = self.pod_state()
        return self.state.replicas if state.ready and not state.waiting else 0


def image_of(spec: WorkloadSpec, version: str) -> str:
    """``<image>:<version>`` (the image repository defaults to the workload's name)."""
    return f"{spec.image or spec.name}:{version}"


def _runs(world: World, state: WorldState, now: datetime) -> list[_Run]:
    """Every workload that has rolled out by ``now``."""
    runs = []
    for key in world.workloads:
        release = world.run_at(now, state, key)
        if release is not None:
            runs.append(_Run(world, state, key, now, release))
    return runs


def _template(run: _Run, version: str, with_hash: bool) -> dict[str, Any]:
    from tools.world import replicaset_hash

    spec = run.spec
    labels = {"app": spec.name, "app.kubernetes.io/name": spec.name}
    if with_hash and spec.kind == "Deployment":
        labels["pod-template-hash"] = replicaset_hash(spec, version)
    container = {"name": spec.main_container, "image": image_of(spec, version), "imagePullPolicy": "IfNotPresent"}
    base = {
        "metadata": {"labels": labels},
        "spec": {"containers": [container], "restartPolicy": "Always", "terminationGracePeriodSeconds": 30},
    }
    return _merged(base, spec.template)


def _meta(run: _Run, kind: str, name: str, created: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": run.spec.namespace,
        "uid": _uid(kind, run.spec.namespace, name),
        "creationTimestamp": stamp(created),
        "labels": {"app": run.spec.name},
    } | extra


# --------------------------------------------------------------------------- controllers


def _controller(run: _Run) -> dict[str, Any]:
    spec, replicas, ready = run.spec, run.state.replicas, run.ready_pods()
    first = run.history[0].deployed_at
    meta = _meta(run, spec.kind, spec.name, first, generation=len(run.history))
    status: dict[str, Any] = {"observedGeneration": len(run.history), "replicas": replicas, "readyReplicas": ready}
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": spec.kind,
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": {"app": spec.name}},
            "template": _template(run, run.release.version, False),
        },
        "status": status,
    }
    if spec.kind == "DaemonSet":
        # the API server always sends the four required counts (numberMisscheduled too); clients reject a status without
        status |= {"desiredNumberScheduled": replicas, "currentNumberScheduled": replicas, "numberReady": ready}
        status |= {"numberMisscheduled": 0}
        status |= {"numberAvailable": ready, "numberUnavailable": replicas - ready, "updatedNumberScheduled": replicas}
        return body
    body["spec"]["replicas"] = replicas
    status |= {"availableReplicas": ready, "updatedReplicas": replicas, "currentReplicas": replicas}
    if spec.kind == "StatefulSet":
        body["spec"]["serviceName"] = spec.name
        status |= {"currentRevision": f"{spec.name}-{run.hash}", "updateRevision": f"{spec.name}-{run.hash}"}
        return body
    meta["annotations"] = {REVISION: str(run.revisions[run.release.version])}
    body["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    if ready < replicas:
        status["unavailableReplicas"] = replicas - ready
    status["conditions"] = _deployment_conditions(run, ready)
    return body


def _deployment_conditions(run: _Run, ready: int) -> list[dict[str, Any]]:
    since = stamp(run.release.deployed_at)
    available = ready > 0 or run.state.replicas == 0
    stuck = not available and run.now - run.release.deployed_at > timedelta(minutes=10)
    rs = f"{run.spec.name}-{run.hash}"
    return [
        {
            "type": "Available",
            "status": "True" if available else "False",
            "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "message": "Deployment has minimum availability."
            if available
            else "Deployment does not have minimum availability.",
            "lastUpdateTime": since,
            "lastTransitionTime": since,
        },
        {
            "type": "Progressing",
            "status": "False" if stuck else "True",
            "reason": "ProgressDeadlineExceeded" if stuck else "NewReplicaSetAvailable",
            "message": f'ReplicaSet "{rs}" has timed out progressing.'
            if stuck
            else f'ReplicaSet "{rs}" has successfully progressed.',
            "lastUpdateTime": since,
            "lastTransitionTime": since,
        },
    ]


def _replica_sets(run: _Run) -> list[dict[str, Any]]:
    from tools.world import replicaset_hash

    spec = run.spec
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name, "controller": True}
    owner["uid"] = _uid("Deployment", spec.namespace, spec.name)
    out = []
    for version, revision in run.revisions.items():
        first = next(r.deployed_at for r in run.history if r.version == version)
        name = f"{spec.name}-{replicaset_hash(spec, version)}"
        running = version == run.release.version
        replicas = run.state.replicas if running else 0
        annotations = {REVISION: str(revision), "deployment.kubernetes.io/desired-replicas": str(run.state.replicas)}
        older = [str(n) for n, r in enumerate(run.history, start=1) if r.version == version and n != revision]
        if older:
            annotations["deployment.kubernetes.io/revision-history"] = ",".join(older)
        template = _template(run, version, True)
        meta = _meta(run, "ReplicaSet", name, first, annotations=annotations, ownerReferences=[owner])
        meta["labels"] = dict(template["metadata"]["labels"])
        ready = run.ready_pods() if running else 0
        out.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": meta,
                "spec": {"replicas": replicas, "selector": {"matchLabels": dict(meta["labels"])}, "template": template},
                "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready},
            }
        )
    return out


# --------------------------------------------------------------------------- pods


def _nodes_for(world: World) -> list[str]:
    return [n.name for n in world.spec.nodes]


def _container_status(run: _Run, state: PodState, started: datetime) -> dict[str, Any]:
    hours = (run.now - started).total_seconds() / 3600
    restarts = int(state.restarts.at(hours) if not isinstance(state.restarts, float | int) else state.restarts)
    digest = hashlib.sha256(run.image.encode()).hexdigest()
    status: dict[str, Any] = {
        "name": run.spec.main_container,
        "image": run.image,
        "imageID": f"docker-pullable://{run.image.rsplit(':', 1)[0]}@sha256:{digest}",
        "ready": state.ready and not state.waiting,
        "restartCount": restarts,
        "started": not state.waiting,
    }
    if state.waiting:
        status["state"] = {"waiting": {"reason": state.waiting} | ({"message": state.message} if state.message else {})}
    else:
        status["state"] = {"running": {"startedAt": stamp(started)}}
    if state.terminated:
        code = state.exit_code if state.exit_code is not None else (137 if state.terminated == "OOMKilled" else 1)
        finished = max(started, run.now - timedelta(seconds=30))
        status["lastState"] = {
            "terminated": {
                "reason": state.terminated,
                "exitCode": code,
                "startedAt": stamp(started),
                "finishedAt": stamp(finished),
            }
        }
    else:
        status["lastState"] = {}
    return status


def _pods(run: _Run) -> list[dict[str, Any]]:
    spec = run.spec
    version = run.release.version
    started = run.pods_since()
    state = run.pod_state()
    template = _template(run, version, True)
    if spec.kind == "Deployment":
        owner_kind, owner_name = "ReplicaSet", f"{spec.name}-{run.hash}"
    else:
        owner_kind, owner_name = spec.kind, spec.name
    owner = {"apiVersion": "apps/v1", "kind": owner_kind, "name": owner_name, "controller": True}
    owner["uid"] = _uid(owner_kind, spec.namespace, owner_name)
    nodes = _nodes_for(run.world)
    ready = state.ready and not state.waiting
    out = []
    for n, name in enumerate(run.world.pods(run.key, version)):
        labels = dict(template["metadata"]["labels"])
        if spec.kind == "StatefulSet":
            labels |= {
                "statefulset.kubernetes.io/pod-name": name,
                "controller-revision-hash": f"{spec.name}-{run.hash}",
            }
        meta = _meta(run, "Pod", name, started, ownerReferences=[owner]) | {"labels": labels}
        if template["metadata"].get("annotations"):
            meta["annotations"] = dict(template["metadata"]["annotations"])
        pod_spec = copy.deepcopy(template["spec"])
        if nodes:
            pod_spec["nodeName"] = nodes[n % len(nodes)]
        condition = {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp(started)}
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": meta,
                "spec": pod_spec,
                "status": {
                    "phase": "Pending" if state.waiting in ("ImagePullBackOff", "ErrImagePull") else "Running",
                    "conditions": [condition],
                    "startTime": stamp(started),
                    "containerStatuses": [_container_status(run, state, started)],
                },
            }
        )
    return out


def pod_owner(world: World, namespace: str, pod: str) -> str | None:
    """The name of the workload whose running pods include ``pod``."""
    now, state = world.clock(), world.state()
    for run in _runs(world, state, now):
        if run.spec.namespace == namespace and pod in run.world.pods(run.key, run.release.version):
            return run.spec.name
    return None


# --------------------------------------------------------------------------- events


def _event(
    namespace: str, involved: dict[str, Any], reason: str, message: str, when: tuple[datetime, datetime], **extra: Any
) -> dict[str, Any]:
    first, last = when
    name = f"{involved['name']}.{hashlib.sha256(f'{reason}{message}{first}'.encode()).hexdigest()[:16]}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": stamp(first)},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": extra.pop("type", "Normal"),
        "count": extra.pop("count", 1),
        "firstTimestamp": stamp(first),
        "lastTimestamp": stamp(last),
        "source": extra.pop("source", {}),
    } | extra


def _rollout_events(run: _Run) -> list[dict[str, Any]]:
    from tools.world import replicaset_hash

    spec = run.spec
    if spec.kind != "Deployment":
        return []
    involved = {"kind": "Deployment", "namespace": spec.namespace, "name": spec.name, "apiVersion": "apps/v1"}
    involved["uid"] = _uid("Deployment", spec.namespace, spec.name)
    out = []
    for before, release in zip(run.history, run.history[1:], strict=False):
        new = f"{spec.name}-{replicaset_hash(spec, release.version)}"
        old = f"{spec.name}-{replicaset_hash(spec, before.version)}"
        for message in (f"Scaled up replica set {new} to {run.state.replicas}", f"Scaled down replica set {old} to 0"):
            when = (release.deployed_at, release.deployed_at)
            out.append(
                _event(
                    spec.namespace,
                    involved,
                    "ScalingReplicaSet",
                    message,
                    when,
                    source={"component": "deployment-controller"},
                    reportingComponent="deployment-controller",
                )
            )
    return out


def _pod_events(run: _Run) -> list[dict[str, Any]]:
    state = run.pod_state()
    if state.waiting not in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"):
        return []
    started = run.pods_since()
    first = min(run.now, started + timedelta(seconds=60))
    out = []
    for pod in _pods(run):
        meta = pod["metadata"]
        involved = {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": "v1",
        }
        involved["fieldPath"] = f"spec.containers{{{run.spec.main_container}}}"
        source = {"component": "kubelet"} | ({"host": pod["spec"]["nodeName"]} if pod["spec"].get("nodeName") else {})
        count = max(1, pod["status"]["containerStatuses"][0]["restartCount"])
        if state.waiting == "CrashLoopBackOff":
            where = f"{meta['name']}_{meta['namespace']}({meta['uid']})"
            message = f"Back-off restarting failed container {run.spec.main_container} in pod {where}"
        else:
            message = f'Back-off pulling image "{run.image}"'
        out.append(
            _event(
                meta["namespace"],
                involved,
                "BackOff",
                message,
                (first, run.now),
                type="Warning",
                count=count,
                source=source,
                reportingComponent="kubelet",
            )
        )
    return out


def _event_time(event: dict[str, Any]) -> datetime | None:
    """When an Event last happened (``lastTimestamp``, a series' last observation, ``eventTime``...)."""
    series = event.get("series") or {}
    meta = event.get("metadata") or {}
    for value in (
        event.get("lastTimestamp"),
        series.get("lastObservedTime"),
        event.get("eventTime"),
        event.get("firstTimestamp"),
        meta.get("creationTimestamp"),
    ):
        if value:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _events_v1(event: dict[str, Any]) -> dict[str, Any]:
    """A core/v1 Event as events.k8s.io/v1 shows it."""
    last = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
    source = event.get("source") or {}
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": event["metadata"],
        "eventTime": str(last).replace("Z", ".000000Z") if last and "." not in str(last) else last,
        "reason": event.get("reason"),
        "note": event.get("message"),
        "type": event.get("type", "Normal"),
        "regarding": event.get("involvedObject"),
        "reportingController": event.get("reportingComponent") or source.get("component"),
        "reportingInstance": event.get("reportingInstance") or source.get("host"),
        "action": event.get("action") or event.get("reason"),
        "deprecatedSource": source,
        "deprecatedFirstTimestamp": event.get("firstTimestamp"),
        "deprecatedLastTimestamp": event.get("lastTimestamp"),
        "deprecatedCount": event.get("count"),
    }


def _events(world: World, runs: list[_Run], fixtures: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    events = [e for run in runs for e in (*_rollout_events(run), *_pod_events(run))]
    events += [_with_namespace(f) for f in fixtures if f.get("kind") == "Event"]
    kept = []
    for event in events:
        when = _event_time(event)
        if when is None or now - EVENT_TTL < when <= now:
            kept.append(event)
    return sorted(kept, key=lambda e: _event_time(e) or now)  # stable: scaled up before scaled down


# --------------------------------------------------------------------------- entry point


def cluster_objects(world: World, fixtures: list[dict[str, Any]], resource: str, group: str) -> list[dict[str, Any]]:
    """Every object of ``resource`` (served under API ``group``) the world shows now."""
    now, state = world.clock(), world.state()
    runs = _runs(world, state, now)
    if resource in ("deployments", "statefulsets", "daemonsets"):
        kind = {"deployments": "Deployment", "statefulsets": "StatefulSet", "daemonsets": "DaemonSet"}[resource]
        return [_controller(r) for r in runs if r.spec.kind == kind]
    if resource == "replicasets":
        return [rs for r in runs if r.spec.kind == "Deployment" for rs in _replica_sets(r)]
    if resource == "pods":
        return [pod for r in runs for pod in _pods(r)]
    if resource == "nodes":
        return [_node(n.name, n.labels) for n in world.spec.nodes]
    if resource == "namespaces":
        names = sorted({"default", "kube-system", *(r.spec.namespace for r in runs)})
        return [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}, "status": {"phase": "Active"}}
            for n in names
        ]
    if resource == "events":
        events = _events(world, runs, fixtures, now)
        return [_events_v1(e) for e in events] if group.startswith("events.k8s.io") else events
    return [_with_namespace(f) for f in fixtures if f.get("kind") == {"configmaps": "ConfigMap"}.get(resource)]


def _node(name: str, labels: dict[str, str]) -> dict[str, Any]:
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"} | labels},
        "status": {"conditions": [ready]},
    }


def _with_namespace(obj: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    out["metadata"].setdefault("namespace", "default")
    out.setdefault("apiVersion", "v1")
    return out
