"""A scenario world: simulated workloads whose telemetry follows what is deployed, what was done and time.

The demo and the eval harness need a world that reacts to actions without a cluster. A
world (``world.yaml``) holds one or more **workloads** (and optionally **nodes**), each
with a release history, **signals** and the PromQL that reads them. A signal's value
at a moment is a function of:

- the version running then: a constant, or a **ramp** that starts when the version starts
  (a leak: ``{start: 0.5, slope_per_h: 0.08, max: 1.0}``); a node has no versions, so its
  ramps start at its ``since`` (a disk filling since then);
- the operations applied to *that* workload since the version started (``effects``:
  ``multiply``/``set`` a signal, ``reset`` a ramp to its start as a restart frees leaked
  memory, after ``delay_s``; ``fails`` makes the operation fail);
- **events** that happen on their own (a dependency outage from ``at`` ``until`` it
  recovers, a traffic surge), which ``set`` or ``multiply`` a signal meanwhile.

The form of today's single-service world stays valid: ``service``, ``namespace``,
``replicas``, ``releases``, ``signals`` (constants per version), ``queries``, ``effects``,
``version_metric`` at the top level describe one workload. ``workloads:`` adds more.

Queries are answered by :mod:`tools.world_promql`: an expression a workload declares is
answered with that workload's signal (exact text, whitespace-insensitive); any other
expression is evaluated as PromQL over the world's series (version series such as
``build_info{service,version}``, ``kube_pod_container_info{image}``, owner series, and
declared raw ``series``), matched by their label selectors. An operation changes only the
workload it names (``service`` + ``namespace``); naming another one fails as a cluster would.

A workload or node may also declare ``cloud_metrics``: which Tencent Cloud Monitor namespace,
metric and object (dimensions) measure one of its signals; :mod:`tools.world_cloud` answers
``GetMonitorData`` from them (a CLB alarm whose signal no Prometheus series carries).

Workloads may also say how they look to the Kubernetes API the eval world serves
(``pod_states`` per version: ready, restarts, waiting/terminated reasons; ``template`` merged
into the pod template): evals/kube_world.py reads them; the signals do not depend on them.

The mutable state is a JSON file (flock-protected), so an executor in another process (or
a resumed run after a crash) sees the same deployment. Time comes from the clock the world
is given: the wall clock for the demo, a :class:`SimClock` the eval harness advances.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, computed_field, model_validator

PRIMARY = "__primary__"  # how a top-level (v1) query or effect names the world's first workload


def utc_now() -> datetime:
    """The wall clock."""
    return datetime.now(UTC)


@dataclass
class SimClock:
    """Simulated time for an episode: starts at ``start``; ``sleep`` advances it instead of waiting."""

    start: datetime
    elapsed_s: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        """The simulated now."""
        return self.start + timedelta(seconds=self.elapsed_s)

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass."""
        self.elapsed_s += max(0.0, float(seconds))
        self.slept.append(float(seconds))


# --------------------------------------------------------------------------- the spec (world.yaml)


class Release(BaseModel):
    """One deployed version."""

    version: str
    deployed_at: datetime


class Ramp(BaseModel):
    """A value that moves linearly from when its version started running (or its last ``reset``)."""

    start: float
    slope_per_h: float = Field(description="Change per hour; a leak climbs, a drain falls.")
    max: float | None = None
    min: float | None = None

    def at(self, hours: float) -> float:
        """The value ``hours`` after the ramp began, clamped to [min, max]."""
        value = self.start + self.slope_per_h * max(0.0, hours)
        if self.max is not None:
            value = min(value, self.max)
        if self.min is not None:
            value = max(value, self.min)
        return value


SignalValue = float | Ramp
"""A signal's value while one version runs: a constant, or a :class:`Ramp`."""


class WorldQuery(BaseModel):
    """A PromQL expression the world answers with one signal of one workload (or node)."""

    expr: str
    signal: str
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the answer's series.")


class CloudMetric(BaseModel):
    """A Tencent Cloud Monitor metric of one object that measures a signal (what ``GetMonitorData`` answers).

    ``{namespace: QCE/LOADBALANCE, metric: HttpCode5XX, dimensions: {vip: 119.29.88.16, domain:
    api.mall.example.com, url: /orders}, signal: http5xx_per_min}``: a request for that namespace and
    metric whose dimensions include these gets the signal (x ``scale``) at every period.
    """

    namespace: str = Field(min_length=1, description="QCE/LOADBALANCE, QCE/CVM, ... (case-insensitive).")
    metric: str = Field(min_length=1, description="The MetricName (case-insensitive).")
    dimensions: dict[str, str] = Field(min_length=1, description="The object's dimensions a request must name.")
    signal: str
    scale: float = 1.0


class OperationEffect(BaseModel):
    """What an operation does to the signals of the workload it acts on, beyond changing the version."""

    multiply: dict[str, float] = Field(default_factory=dict)
    set: dict[str, float] = Field(default_factory=dict)
    reset: list[str] = Field(default_factory=list, description="Ramps that restart from their start value.")
    delay_s: float = Field(default=0.0, ge=0, description="The effect (and a version change) shows this much later.")
    fails: bool = False
    detail: str = ""


class WorldEvent(BaseModel):
    """Something that happens on its own: an outage that recovers at ``until``, a surge, a slow drain."""

    at: datetime
    until: datetime | None = None
    workload: str | None = Field(default=None, description="Workload or node name; default the first workload.")
    signal: str
    set: float | None = None
    multiply: float | None = None
    note: str = ""

    def active(self, when: datetime) -> bool:
        """Whether the event is under way at ``when``."""
        return self.at <= when and (self.until is None or when < self.until)


class VersionSeries(BaseModel):
    """How the workload's telemetry names the running version: one series per version while it runs.

    ``build_info{service="cart",version="v3.1.0"}`` is ``{metric: build_info}``; an image label
    is ``{metric: kube_pod_container_info, label: image, template: "registry/cart:{version}",
    per_pod: true}``; ``app_info{application,version}`` is ``{metric: app_info, labels:
    {application: cart}}``.
    """

    metric: str = "build_info"
    label: str = "version"
    template: str = "{version}"
    labels: dict[str, str] | None = Field(
        default=None, description="The series' identity labels; default namespace, service and job = the workload."
    )
    per_pod: bool = Field(default=True, description="One series per pod (each pod exposes it), with pod and container.")


class RawSeries(BaseModel):
    """A raw gauge following one signal (``value = signal x scale``), for PromQL the world evaluates."""

    metric: str
    signal: str
    labels: dict[str, str] = Field(default_factory=dict)
    scale: float = 1.0
    per_pod: bool = False
    version_label: str | None = Field(
        default=None,
        description="A label carrying the running version (OTLP's promoted service_version, a `by (version)` rule).",
    )


WorkloadKind = Literal["Deployment", "StatefulSet", "DaemonSet"]


class PodState(BaseModel):
    """How the pods of one version look to the Kubernetes API (``kubectl get pods``, ``describe pod``).

    Read by the eval's local Kubernetes API (evals/kube_world.py); the simulated signals do not
    depend on it. ``restarts`` counts from when the pods started (the version's rollout, or the
    last restart of the workload): a number, or a ramp (``{start: 2, slope_per_h: 12}``: a crash loop).
    """

    ready: bool = True
    restarts: float | Ramp = 0
    waiting: str | None = Field(
        default=None, description="state.waiting.reason: CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError"
    )
    terminated: str | None = Field(default=None, description="lastState.terminated.reason: OOMKilled, Error, Completed")
    exit_code: int | None = Field(
        default=None, description="lastState.terminated.exitCode (default 137 for OOMKilled, else 1)"
    )
    message: str = Field(default="", description="The waiting or terminated state's message.")


class WorkloadSpec(BaseModel):
    """One workload: its releases, its signals and the queries, series and effects that belong to it."""

    name: str
    namespace: str = "default"
    kind: WorkloadKind = "Deployment"
    container: str | None = Field(default=None, description="Main container; default the workload's name.")
    replicas: int = Field(default=3, ge=0)
    aliases: list[str] = Field(default_factory=list, description="Other names an operation may use for it.")
    image: str | None = Field(
        default=None,
        description="Image repository (tag = version). Set: the world also serves kube-state-metrics series "
        "(kube_pod_container_info{image}, kube_pod_owner, kube_replicaset_owner).",
    )
    pods: list[str] = Field(default_factory=list, description="Pod names of the running release (else generated).")
    releases: list[Release] = Field(default_factory=list)
    signals: dict[str, dict[str, SignalValue]] = Field(
        default_factory=dict, description="signal -> {version or 'default': value or ramp}"
    )
    queries: list[WorldQuery] = Field(default_factory=list)
    series: list[RawSeries] = Field(default_factory=list)
    cloud_metrics: list[CloudMetric] = Field(default_factory=list, description="What Cloud Monitor measures of it.")
    effects: dict[str, OperationEffect] = Field(default_factory=dict)
    versions: list[VersionSeries] = Field(default_factory=lambda: [VersionSeries()])
    pod_states: dict[str, PodState] = Field(
        default_factory=dict, description="version or 'default' -> how its pods look to the Kubernetes API"
    )
    template: dict[str, Any] = Field(
        default_factory=dict,
        description="Merged into the pod template the Kubernetes API shows (metadata.labels/annotations, "
        "spec.volumes, spec.containers[0] = the main container's env/envFrom/resources).",
    )

    @property
    def main_container(self) -> str:
        """The container the workload's signals describe."""
        return self.container or self.name

    def answers_to(self, name: str, namespace: str | None) -> bool:
        """Whether an operation naming ``name`` (in ``namespace``) means this workload."""
        return (name == self.name or name in self.aliases) and namespace in (None, "", self.namespace)


class NodeSpec(BaseModel):
    """A node: signals and queries of its own (no releases; no operation acts on it)."""

    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    signals: dict[str, dict[str, SignalValue]] = Field(
        default_factory=dict, description="signal -> {default: value or ramp}"
    )
    since: datetime | None = Field(
        default=None,
        description="When its ramps start (a filesystem filling since then); without it a ramp keeps its start value.",
    )
    queries: list[WorldQuery] = Field(default_factory=list)
    series: list[RawSeries] = Field(default_factory=list)
    cloud_metrics: list[CloudMetric] = Field(default_factory=list, description="What Cloud Monitor measures of it.")


class WorldSpec(BaseModel):
    """The static description of a world (``world.yaml`` in a scenario bundle).

    The top-level ``service`` ... ``version_metric`` fields are the first workload (the form
    every case had before ``workloads:``); either may be omitted, not both.
    """

    service: str | None = None
    namespace: str = "default"
    replicas: int = 3
    releases: list[Release] = Field(default_factory=list)
    signals: dict[str, dict[str, SignalValue]] = Field(
        default_factory=dict, description="signal -> {version or 'default': value}"
    )
    queries: list[WorldQuery] = Field(default_factory=list)
    effects: dict[str, OperationEffect] = Field(default_factory=dict)
    version_metric: str = "build_info"
    # the first workload, beyond the original fields
    kind: WorkloadKind = "Deployment"
    container: str | None = None
    image: str | None = None
    pods: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    versions: list[VersionSeries] | None = None
    series: list[RawSeries] = Field(default_factory=list)
    cloud_metrics: list[CloudMetric] = Field(default_factory=list)
    pod_states: dict[str, PodState] = Field(default_factory=dict)
    template: dict[str, Any] = Field(default_factory=dict)
    # more of the world
    workloads: list[WorkloadSpec] = Field(default_factory=list)
    nodes: list[NodeSpec] = Field(default_factory=list)
    events: list[WorldEvent] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_a_workload(self) -> WorldSpec:
        if self.service is None and not self.workloads:
            raise ValueError("a world needs `service` (one workload) or `workloads`")
        names = [(w.namespace, w.name) for w in self.all_workloads()]
        if len(set(names)) != len(names):
            raise ValueError("workloads: two workloads share a namespace and name")
        for workload in self.all_workloads():
            if not workload.releases:
                raise ValueError(f"workload {workload.name}: needs at least one release")
        return self

    def all_workloads(self) -> list[WorkloadSpec]:
        """Every workload, the top-level one first."""
        first = []
        if self.service is not None:
            first.append(
                WorkloadSpec(
                    name=self.service, namespace=self.namespace, kind=self.kind, container=self.container,
                    replicas=self.replicas, aliases=self.aliases, image=self.image, pods=self.pods,
                    releases=self.releases, signals=self.signals, queries=self.queries, series=self.series,
                    cloud_metrics=self.cloud_metrics, effects=self.effects,
                    versions=self.versions or [VersionSeries(metric=self.version_metric)],
                    pod_states=self.pod_states, template=self.template,
                )
            )  # fmt: skip
        return first + list(self.workloads)

    @property
    def primary(self) -> WorkloadSpec:
        """The first workload (what a v1 world was about)."""
        return self.all_workloads()[0]

    def moved(self, offset: timedelta) -> WorldSpec:
        """The same world with every time in it moved by ``offset`` (releases, events, node ramps, Unix-time values)."""
        data = self.model_dump()

        def move(releases: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [r | {"deployed_at": r["deployed_at"] + offset} for r in releases]

        data["releases"] = move(data["releases"])
        for workload in data["workloads"]:
            workload["releases"] = move(workload["releases"])
        for event in data["events"]:
            event["at"] = event["at"] + offset
            event["until"] = event["until"] + offset if event["until"] else None
        for node in data["nodes"]:
            node["since"] = node["since"] + offset if node["since"] else None
        for entity in [data, *data["workloads"], *data["nodes"]]:  # signals whose series tell a Unix time
            for raw in entity["series"]:
                table = entity["signals"].get(raw["signal"], {})
                if unix_time_metric(raw["metric"]) and raw["scale"] == 1:
                    table.update({k: _moved_time(v, offset) for k, v in table.items()})
        return WorldSpec.model_validate(data)

    @classmethod
    def load(cls, path: Path) -> WorldSpec:
        """Load ``world.yaml`` (or a scenario directory containing it)."""
        if path.is_dir():
            path = path / "world.yaml"
        return cls.model_validate(yaml.safe_load(path.read_text()))


_UNIX_TIME = re.compile(
    r"(_timestamp(_seconds)?|_start_time_seconds|_boot_time_seconds|_created|_expiry|_not_after|_not_before)$"
    r"|^kube_\w+_time$"
)


def unix_time_metric(name: str) -> bool:
    """Whether a metric's value is a Unix time, by its name.

    Prometheus' convention (``_timestamp_seconds``), process/container/node start times,
    OpenMetrics ``_created``, and the exporters' older names: blackbox's
    ``probe_ssl_earliest_cert_expiry``, x509-certificate-exporter's ``_not_after``/``_not_before``,
    kube-state-metrics' ``kube_*_time`` (``kube_pod_start_time``, ``kube_job_status_completion_time``).
    """
    return _UNIX_TIME.search(name) is not None


def moved_unix_time(value: float, seconds: float) -> float:
    """``value`` moved by ``seconds`` when it reads as Unix seconds (2001..2286), else as it is."""
    return value + seconds if 1e9 <= value < 1e10 else value


def _moved_time(value: Any, offset: timedelta) -> Any:
    """A signal's value (a number or a ramp's fields) moved as a Unix time."""
    seconds = offset.total_seconds()
    if isinstance(value, dict):
        return value | {
            k: moved_unix_time(v, seconds) for k in ("start", "max", "min") if (v := value.get(k)) is not None
        }
    return moved_unix_time(float(value), seconds)


def workload_key(workload: WorkloadSpec) -> str:
    """The key of a workload in the world's state: ``namespace/name``."""
    return f"{workload.namespace}/{workload.name}"


# --------------------------------------------------------------------------- the state (state.json)


class WorkloadState(BaseModel):
    """What runs now for one workload."""

    version: str
    history: list[Release]
    replicas: int
    isolated: bool = False


class AppliedOperation(BaseModel):
    """One operation the executor applied (or failed to)."""

    key: str | None
    method: str
    workload: str | None = Field(description="The workload's key; None when the operation named none of them.")
    params: dict[str, Any]
    at: datetime
    effective_at: datetime
    status: str
    detail: str = ""
    error: str = ""
    undone_at: datetime | None = None
    before: dict[str, Any] = Field(default_factory=dict)


class WorldState(BaseModel):
    """The mutable part of a world: what runs per workload and every operation applied."""

    workloads: dict[str, WorkloadState]
    primary: str
    applied: dict[str, dict[str, Any]] = Field(default_factory=dict, description="idempotency key -> first result")
    operations: list[AppliedOperation] = Field(default_factory=list)

    @property
    def main(self) -> WorkloadState:
        """The first workload's state."""
        return self.workloads[self.primary]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def version(self) -> str:
        """The version the first workload runs (written to the state file for people reading it)."""
        return self.main.version

    @property
    def replicas(self) -> int:
        """The first workload's replicas."""
        return self.main.replicas


# --------------------------------------------------------------------------- the world


class World:
    """A world spec plus its state file; tells signal values at any time and applies operations."""

    def __init__(self, spec: WorldSpec, state_path: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.spec = spec
        self.state_path = state_path
        self.clock = clock
        self.workloads = {workload_key(w): w for w in spec.all_workloads()}
        self.nodes = {n.name: n for n in spec.nodes}
        if not state_path.exists():
            state_path.parent.mkdir(parents=True, exist_ok=True)
            self._write(self._initial_state())

    def _initial_state(self) -> WorldState:
        states = {
            key: WorkloadState(
                version=sorted(w.releases, key=lambda r: r.deployed_at)[-1].version,
                history=sorted(w.releases, key=lambda r: r.deployed_at),
                replicas=w.replicas,
            )
            for key, w in self.workloads.items()
        }
        return WorldState(workloads=states, primary=workload_key(self.spec.primary))

    # ------------------------------------------------------------------ state file

    def state(self) -> WorldState:
        """The current state (read fresh: another process may have changed it)."""
        return WorldState.model_validate_json(self.state_path.read_text())

    def _write(self, state: WorldState) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(state.model_dump_json(indent=1))
        tmp.replace(self.state_path)

    @contextmanager
    def _locked(self) -> Iterator[WorldState]:
        lock_path = self.state_path.with_suffix(".lock")
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self.state()
            yield state
            self._write(state)

    # ------------------------------------------------------------------ time and signals

    def find(self, name: str | None, namespace: str | None = None) -> WorkloadSpec | None:
        """The workload an operation or an event names (None: the first one; unknown: None)."""
        if name is None or name == PRIMARY:
            return self.spec.primary
        return next((w for w in self.workloads.values() if w.answers_to(name, namespace)), None)

    def version_at(self, when: datetime, state: WorldState | None = None, workload: str | None = None) -> str | None:
        """The version a workload (default the first) ran at ``when``."""
        run = self.run_at(when, state or self.state(), workload or self.state().primary)
        return run.version if run else None

    @staticmethod
    def run_at(when: datetime, state: WorldState, key: str) -> Release | None:
        """The release (version and since when) running at ``when`` for workload ``key``."""
        running = None
        for release in state.workloads[key].history:
            if release.deployed_at <= when:
                running = release
        return running

    def value(self, key: str, signal: str, when: datetime | None = None, state: WorldState | None = None) -> float:
        """Signal ``signal`` of workload (or node) ``key`` at ``when`` (default now)."""
        when = when or self.clock()
        state = state or self.state()
        if key in self.nodes:
            node = self.nodes[key]
            hours = (when - node.since).total_seconds() / 3600 if node.since is not None else 0.0
            base = _profile_value(node.signals.get(signal, {}).get("default", 0.0), hours)
            return round(self._with_events(node.name, signal, when, base), 6)
        workload = self.workloads[key]
        run = self.run_at(when, state, key)
        if run is None:
            return 0.0
        table = workload.signals.get(signal, {})
        profile = table.get(run.version, table.get("default", 0.0))
        epoch, factor, override = run.deployed_at, 1.0, None
        for op in self._effective(state, key, run, when):
            effect = workload.effects.get(op.method, OperationEffect())
            if signal in effect.reset:
                epoch, factor, override = op.effective_at, 1.0, None
            factor *= effect.multiply.get(signal, 1.0)
            override = effect.set.get(signal, override)
        hours = (when - epoch).total_seconds() / 3600
        base = override if override is not None else _profile_value(profile, hours) * factor
        return round(self._with_events(workload.name, signal, when, base), 6)

    def _effective(self, state: WorldState, key: str, run: Release, when: datetime) -> list[AppliedOperation]:
        """Operations on ``key`` since its running version started that are in force at ``when``.

        An operation at the very moment a rollback started the run (a simulated clock does
        not move between two calls) counts only if it came after that rollback.
        """
        ops = [op for op in state.operations if op.workload == key and op.status == "success"]
        starters = [i for i, op in enumerate(ops) if op.effective_at == run.deployed_at and _changes_version(op)]
        first = starters[-1] + 1 if starters else 0
        return [
            op
            for i, op in enumerate(ops)
            if not op.params.get("undo")
            and run.deployed_at <= op.effective_at <= when
            and (op.effective_at > run.deployed_at or i >= first)
            and (op.undone_at is None or op.undone_at > when)
        ]

    def _with_events(self, name: str, signal: str, when: datetime, value: float) -> float:
        primary = self.spec.primary.name
        for event in self.spec.events:
            if event.signal != signal or (event.workload or primary) != name or not event.active(when):
                continue
            if event.set is not None:
                value = event.set
            if event.multiply is not None:
                value *= event.multiply
        return value

    def signal(self, name: str, state: WorldState | None = None, version: str | None = None) -> float:
        """Signal ``name`` of the first workload now (or, with ``version``, that version's base value)."""
        state = state or self.state()
        if version is not None:
            table = self.spec.primary.signals.get(name, {})
            return round(_profile_value(table.get(version, table.get("default", 0.0)), 0.0), 6)
        return self.value(state.primary, name, state=state)

    def pods(self, key: str, version: str) -> list[str]:
        """Pod names of workload ``key`` running ``version`` (declared for the first release, else generated)."""
        workload = self.workloads[key]
        initial = sorted(workload.releases, key=lambda r: r.deployed_at)[-1].version
        if workload.pods and version == initial:
            return list(workload.pods)
        return [pod_name(workload, version, i) for i in range(max(workload.replicas, 1))]

    # ------------------------------------------------------------------ queries

    def instant(self, expr: str) -> list[dict[str, Any]]:
        """A Prometheus instant-vector answer for ``expr`` now."""
        from tools.world_promql import answer_instant

        return answer_instant(self, expr, self.clock())

    def range(self, expr: str, start: datetime, end: datetime, step_s: float) -> list[dict[str, Any]]:
        """A Prometheus matrix answer for ``expr`` over [start, end]."""
        from tools.world_promql import answer_range

        return answer_range(self, expr, _steps(start, end, step_s))

    # ------------------------------------------------------------------ operations

    def apply(self, method: str, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        """Apply an executor operation once per idempotency ``key``; returns the result."""
        with self._locked() as state:
            if key and key in state.applied:
                return state.applied[key]
            now = self.clock()
            workload = self.find(params.get("service"), params.get("namespace"))
            target = workload_key(workload) if workload else None
            before = state.workloads[target].model_dump(mode="json") if target else {}
            delay = 0.0
            if target is None:
                where = f" in namespace {params['namespace']}" if params.get("namespace") else ""
                missing = f"workload {params.get('service')!r} not found{where}"
                result = {"status": "error", "detail": "", "error": missing}
            elif params.get("undo"):
                result = self._undo(state, target, method, now)
            else:
                effect = self.workloads[target].effects.get(method, OperationEffect())
                delay = effect.delay_s
                result = self._apply(state, target, method, params, now + timedelta(seconds=delay))
            state.operations.append(
                AppliedOperation(
                    key=key, method=method, workload=target, params=params, at=now,
                    effective_at=now + timedelta(seconds=delay), before=before,
                    status=result["status"], detail=result.get("detail", ""), error=result.get("error", ""),
                )
            )  # fmt: skip
            if key:
                state.applied[key] = result
            return result

    def _apply(
        self, state: WorldState, target: str, method: str, params: dict[str, Any], effective: datetime
    ) -> dict[str, Any]:
        workload = self.workloads[target]
        effect = workload.effects.get(method, OperationEffect())
        if effect.fails:
            return {"status": "error", "detail": "", "error": effect.detail or f"{method} failed"}
        detail = self._mutate(state.workloads[target], workload, method, params, effective)
        return {"status": "success", "detail": effect.detail or detail, "error": ""}

    @staticmethod
    def _mutate(
        ws: WorkloadState, workload: WorkloadSpec, method: str, params: dict[str, Any], effective: datetime
    ) -> str:
        match method:
            case "version_rollback" | "full_rollback":
                target = params.get("target") or _previous(ws)
                if target not in {r.version for r in ws.history}:
                    raise ValueError(f"target {target!r} was never deployed")
                ws.version = str(target)
                ws.history.append(Release(version=str(target), deployed_at=effective))
                return f"Rollback to {target} completed"
            case "scale":
                replicas = params.get("replicas")
                replicas = int(replicas) if replicas is not None else ws.replicas + int(params.get("delta", 1))
                if replicas < 0:
                    raise ValueError(f"scale: {replicas} replicas is not a replica count")
                before, ws.replicas = ws.replicas, replicas
                return f"Scaled {workload.name} from {before} to {ws.replicas} replicas"
            case "restart" | "config_refresh":
                return f"{method} of {workload.name} completed ({ws.replicas} pods)"
            case "isolate":
                ws.isolated = True
                return f"{workload.name} isolated"
        raise ValueError(f"unknown operation {method!r}")

    def _undo(self, state: WorldState, target: str, method: str, now: datetime) -> dict[str, Any]:
        """Put back what the newest not-yet-undone ``method`` on ``target`` changed (its effects end now)."""
        for op in reversed(state.operations):
            if op.workload != target or op.method != method or op.status != "success" or op.undone_at:
                continue
            if op.params.get("undo"):
                continue
            op.undone_at = now
            ws, before = state.workloads[target], WorkloadState.model_validate(op.before)
            if ws.version != before.version:
                ws.history.append(Release(version=before.version, deployed_at=now))
            ws.version, ws.replicas, ws.isolated = before.version, before.replicas, before.isolated
            return {"status": "success", "detail": f"undid {method} ({op.detail})", "error": ""}
        raise ValueError(f"nothing to undo: no {method} was applied")


def _changes_version(op: AppliedOperation) -> bool:
    """Whether ``op`` started a new run of its workload (a rollback, or the undo of one)."""
    return op.method in ("version_rollback", "full_rollback")


def _profile_value(profile: SignalValue, hours: float) -> float:
    return profile.at(hours) if isinstance(profile, Ramp) else float(profile)


def _previous(ws: WorkloadState) -> str:
    for release in reversed(ws.history):
        if release.version != ws.version:
            return release.version
    raise ValueError("no previous version to roll back to")


_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes generates name suffixes from


def _safe_hash(text: str, length: int) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:length])


def pod_name(workload: WorkloadSpec, version: str, index: int) -> str:
    """A pod name as the workload's controller would make it (ReplicaSet hash + suffix, or ordinal)."""
    if workload.kind == "StatefulSet":
        return f"{workload.name}-{index}"
    suffix = _safe_hash(f"{workload.name}/{version}/{index}", 5)
    if workload.kind == "DaemonSet":
        return f"{workload.name}-{suffix}"
    return f"{workload.name}-{replicaset_hash(workload, version)}-{suffix}"


def replicaset_hash(workload: WorkloadSpec, version: str) -> str:
    """The pod-template-hash of ``version``'s ReplicaSet."""
    return _safe_hash(f"{workload.namespace}/{workload.name}/{version}", 10)


def _steps(start: datetime, end: datetime, step_s: float) -> list[datetime]:
    if step_s <= 0 or end < start:
        return []
    count = min(int((end - start).total_seconds() // step_s) + 1, 11_000)
    return [datetime.fromtimestamp(start.timestamp() + i * step_s, UTC) for i in range(count)]


def load_world(scenario: Path, home: Path, clock: Callable[[], datetime] = utc_now) -> World:
    """The world of ``scenario`` with its state kept under ``home``."""
    spec = WorldSpec.load(scenario)
    return World(spec, home / "world" / f"{spec.primary.name}.json", clock)


def dump_state(world: World) -> str:
    """The world's state as indented JSON (for people)."""
    return json.dumps(world.state().model_dump(mode="json"), indent=2)
