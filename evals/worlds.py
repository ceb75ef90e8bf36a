"""The worlds a case runs in: live or recorded.

Live: the simulated world (world.yaml) behind the metrics tools and the process
executor, or a real Prometheus loaded from the case's OpenMetrics. Recorded: the tool
answers captured from a live run (``recording.json``); an unrecorded call answers
``not_recorded``, which the scorer counts.

A world gives the harness four things: settings for this run, the tool backend the
agents call, the episode's simulated clock (:class:`tools.world.SimClock`: it starts when
the alert reached alertpilot, the world and the agents share it, and a wait advances it
instead of sleeping), and an oracle reading (the signal and the running version) at the end.

Network: an episode talks to 127.0.0.1 only. The live world serves the case's ``github/``
fixtures from a local GitHub API (evals/github_world.py) started for the episode;
the recorded world points GitHub at a closed loopback port (its answers come from the
recording). A case whose config names a server off the machine is refused
(evals/network.py).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from evals.case import Case, CaseError, CaseSkipped, Mitigation
from state.config import Settings, load_settings
from state.incident import ToolCall
from tools.registry import RecordedTools, ToolBackend, ToolRegistry
from tools.world import SimClock, World, WorldSpec, workload_key

if TYPE_CHECKING:
    from evals.prom_world import Anchor

WorldMode = Literal["live", "recorded", "prometheus"]

GITHUB_TOKEN_ENV = "ALERTPILOT_EVAL_GITHUB_TOKEN"  # the world's dummy token (a real GITHUB_TOKEN is never read)
GITHUB_TOKEN = "eval-world-token"
CLOSED_GITHUB = "http://127.0.0.1:1/api/v3"  # the recorded world: nothing listens on port 1
CLOSED_KUBE = "http://127.0.0.1:1"
KUBE_DIR = "kube"


@dataclass
class CaseWorld:
    """One prepared world for one episode."""

    settings: Settings
    backend: ToolBackend
    catalog: ToolRegistry
    world: World | None  # the simulated world whose state the oracle reads
    clock: SimClock  # the episode's time: the world's and the agents'
    case: Case  # the case as this world serves it (the prometheus world moved its times)
    answered: dict[str, int] | None = None  # prometheus world: metrics reads answered by Prometheus / the world
    offset_s: int = 0  # prometheus world: how far every time in the case moved

    def oracle(self, mitigation: Mitigation | None) -> tuple[float | None, str | None]:
        """(signal value, running version) of the oracle's workload, ``mitigation.after_s`` after the episode.

        Read on the episode's clock: ``after_s`` later a masked leak has climbed back and a
        delayed rollback has taken effect (the version is the one running then).
        """
        if self.world is None:
            return None, None
        state = self.world.state()
        if mitigation is None:
            return None, state.version
        workload = _oracle_workload(self.world, mitigation.workload)
        if workload is None:
            return None, None
        key = workload_key(workload)
        at = self.world.clock() + timedelta(seconds=mitigation.after_s)
        return self.world.value(key, mitigation.signal, at, state), self.world.version_at(at, state, key)


def _oracle_workload(world: World, name: str | None) -> Any:
    """The workload ``mitigation.workload`` names: ``name``, an alias, or ``namespace/name``."""
    if name and "/" in name:
        namespace, _, short = name.partition("/")
        return world.find(short, namespace)
    return world.find(name)


def wants_kube(case: Case) -> bool:
    """Whether the case's world is shown as a cluster (a local Kubernetes API for the episode).

    Yes when the case has ``kube/`` fixtures, or its world.yaml has ``workloads:`` or a workload
    with an ``image`` or ``pod_states``.
    """
    if (case.path / KUBE_DIR).is_dir():
        return True
    if not case.has_world:
        return False
    spec = WorldSpec.load(case.path)
    return bool(spec.workloads) or any(w.image or w.pod_states for w in spec.all_workloads())


def episode_start(case: Case) -> datetime:
    """When the episode's clock starts: the payload's newest alert time plus ``delivered_after_s``."""
    return case.notified_at + timedelta(seconds=case.expect.delivered_after_s)


def static_catalog() -> ToolRegistry:
    """Every tool alertpilot can offer, for names and input schemas (no provider behind them)."""
    from tools.executor import DryRunExecutor, devops_tools
    from tools.metrics import metrics_tools

    class _Nothing:
        def instant(self, *_: Any, **__: Any) -> list[dict[str, Any]]:
            return []

        def range(self, *_: Any, **__: Any) -> list[dict[str, Any]]:
            return []

        def metric_names(self) -> list[str]:
            return []

        def metadata(self, *_: Any, **__: Any) -> list[dict[str, Any]]:
            return []

        def targets(self, *_: Any, **__: Any) -> dict[str, Any]:
            return {}

    from tools.kube import kube_tools

    def _no_cluster() -> Any:
        raise RuntimeError("the static catalog has no cluster behind it")

    from tools.cloud_monitor import monitor_tools

    class _NoMonitor:
        def monitor_data(self, *_: Any, **__: Any) -> list[tuple[float, float]]:
            return []

    return ToolRegistry(
        [*metrics_tools(_Nothing()), *devops_tools(DryRunExecutor()), *kube_tools(_no_cluster),
         *monitor_tools(_NoMonitor())]
    )  # fmt: skip


def schemas_of(*catalogs: ToolRegistry) -> dict[str, dict[str, Any]]:
    """Tool name → input JSON schema over ``catalogs`` (later ones win)."""
    out: dict[str, dict[str, Any]] = {}
    for catalog in catalogs:
        out.update({tool.name: tool.input_schema() for tool in catalog.tools()})
    return out


def case_settings(case: Case, home: Path, **overrides: Any) -> Settings:
    """The case's config with its state in ``home``."""
    from state.config import ConfigError

    try:
        return load_settings(case.config_path, home=home, **overrides)
    except ConfigError as exc:
        raise CaseError(f"{case.config_path}: {exc}") from None


def check_network(case: Case, home: Path) -> Settings:
    """The case's settings as written; CaseError when they would reach past 127.0.0.1."""
    settings = case_settings(case, home)
    refuse_remote(case, settings)
    return settings


def refuse_remote(case: Case, settings: Settings) -> None:
    """CaseError when the case's settings as written would reach past 127.0.0.1."""
    from evals.network import remote_endpoint

    explicit = "url" in settings.github.model_fields_set
    reason = remote_endpoint(settings, github_explicit=explicit, kube_world=wants_kube(case))
    if reason:
        raise CaseError(f"{case.config_path}: {reason}")


def load_recording(case: Case) -> list[ToolCall]:
    """The tool calls captured for ``case``."""
    path = case.recording_path
    if not path.is_file():
        raise CaseSkipped(
            f"{case.id}: no {path.name}; record one with `alertpilot eval record --cases {case.path}` "
            "on a machine that can run the live world"
        )
    data = json.loads(path.read_text())
    return [ToolCall.model_validate(c) for c in data.get("calls", [])]


@contextmanager
def open_world(case: Case, home: Path, mode: WorldMode, prometheus_url: str | None = None) -> Iterator[CaseWorld]:
    """Prepare ``case``'s world under ``home`` (fresh state every time).

    CaseSkipped when this world cannot serve the case (the run reports why and goes on).
    """
    from evals.github_world import serve_fixtures
    from evals.network import remote_endpoint
    from tools.catalog import build_registry

    shutil.rmtree(home / "world", ignore_errors=True)
    written = check_network(case, home)
    if mode != "recorded" and not case.has_world:
        raise CaseSkipped(
            f"{case.id}: a {mode} run needs world.yaml (this case can only be replayed: --world recorded)"
        )
    reviews = (case.path / "github").is_dir() or any(s.repo for s in written.services.values())
    with ExitStack() as stack:
        github_url = CLOSED_GITHUB
        if mode != "recorded" and reviews:
            github_url = stack.enter_context(serve_fixtures(case.path / "github")).api_url
            stack.enter_context(_env(GITHUB_TOKEN_ENV, GITHUB_TOKEN))
        overrides: dict[str, Any] = {"github": {"url": github_url, "token_env": GITHUB_TOKEN_ENV}}
        if prometheus_url:
            overrides["prometheus"] = {"url": prometheus_url}
        spec = WorldSpec.load(case.path) if case.has_world else None
        clock = SimClock(episode_start(case))
        anchor = None
        if mode == "prometheus" and spec is not None:
            anchor = stack.enter_context(_prometheus(case, home, written, overrides))
            spec, case, clock = spec.moved(anchor.offset), anchor.case(case), SimClock(anchor.now)
        world = World(spec, home / "world" / "state.json", clock=clock) if spec else None
        if wants_kube(case) or written.kubernetes is not None:
            overrides["kubernetes"] = _kube(stack, case, world, mode, anchor, written)
        settings = case_settings(case, home, **overrides)
        reason = remote_endpoint(settings)
        if reason:  # an override (or the environment) pointed somewhere else
            raise CaseError(f"{case.id}: {reason}")
        if mode == "live":
            registry = build_registry(settings, world)
            yield CaseWorld(settings, registry, registry, world, clock, case)
            return
        if anchor is not None:
            yield _prometheus_case_world(settings, world, anchor, case, clock)
            return
        recorded = RecordedTools([_without_key(c) for c in load_recording(case)])
        catalog = build_registry(settings, world) if world else static_catalog()
        yield CaseWorld(settings, _ApplyingRecording(recorded, world), catalog, world, clock, case)


def _kube(
    stack: ExitStack, case: Case, world: World | None, mode: WorldMode, anchor: Any, written: Settings
) -> dict[str, Any]:
    """The ``kubernetes:`` settings of the episode: the world's own API on 127.0.0.1 (closed when recorded)."""
    from evals.kube_world import TOKEN, TOKEN_ENV, serve_world

    base = written.kubernetes.model_dump(exclude={"host", "token_env", "verify_ssl"}) if written.kubernetes else {}
    host = CLOSED_KUBE
    if mode != "recorded" and world is not None:
        host = stack.enter_context(serve_world(world, case.path / KUBE_DIR, moved=anchor))
        stack.enter_context(_env(TOKEN_ENV, TOKEN))
    return base | {"host": host, "token_env": TOKEN_ENV, "verify_ssl": False}


@contextmanager
def _prometheus(case: Case, home: Path, written: Settings, overrides: dict[str, Any]) -> Iterator[Anchor]:
    """Serve the case's metrics, moved to now, from a real Prometheus; point ``overrides`` at it and at moved logs."""
    from evals.prom_world import Anchor, anchored_openmetrics, moved_logs, serve_openmetrics

    anchor = Anchor.for_case(case)
    with serve_openmetrics(anchored_openmetrics(case, anchor), home / "prometheus") as url:
        overrides["prometheus"] = {"url": url}
        if written.logs.files:
            files = moved_logs(written.logs.files, anchor, home / "logs")
            overrides["logs"] = written.logs.model_dump() | {"files": files}
        yield anchor


def _prometheus_case_world(
    settings: Settings, world: World | None, anchor: Anchor, case: Case, clock: SimClock
) -> CaseWorld:
    """Metrics reads from the real Prometheus until the executor acts; everything else from the world."""
    from evals.prom_world import PrometheusUntilActed
    from tools.catalog import build_registry
    from tools.metrics import PrometheusMetrics, metrics_tools

    url = settings.prometheus.url
    assert url is not None
    local = settings.model_copy(update={"prometheus": settings.prometheus.model_copy(update={"url": None})})
    registry = build_registry(local, world)
    prometheus = ToolRegistry(metrics_tools(PrometheusMetrics(url, settings.prometheus.timeout_s)))
    backend = PrometheusUntilActed(registry, prometheus)
    offset = int(anchor.offset.total_seconds())
    return CaseWorld(settings, backend, registry, world, clock, case, answered=backend.answered, offset_s=offset)


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    """``name=value`` in the environment while the world is open (the previous value restored)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


def _without_key(call: ToolCall) -> ToolCall:
    return call.model_copy(update={"args": {k: v for k, v in call.args.items() if k != "idempotency_key"}})


class _ApplyingRecording:
    """Recorded answers; a recorded mutating call that succeeded also changes the simulated world.

    The oracle then sees its effect (when the case has a world).
    """

    def __init__(self, recorded: RecordedTools, world: World | None) -> None:
        self.recorded = recorded
        self.world = world

    def has(self, name: str) -> bool:
        """Whether ``name`` was recorded."""
        return self.recorded.has(name)

    def is_mutating(self, name: str) -> bool:
        """Whether ``name`` was recorded as mutating."""
        return self.recorded.is_mutating(name)

    def invoke(self, name: str, args: dict[str, Any]) -> Any:
        """The recorded answer (and its effect on the simulated world)."""
        # idempotency keys name the incident, which differs on every run: match without them
        result = self.recorded.invoke(name, {k: v for k, v in args.items() if k != "idempotency_key"})
        if self.world is not None and result.ok and self.recorded.is_mutating(name):
            params = {k: v for k, v in args.items() if k != "idempotency_key" and v not in (None, False)}
            # the recording said it worked; when the simulation cannot follow, the oracle will say so
            with suppress(ValueError):
                self.world.apply(name, params, args.get("idempotency_key"))
        return result
