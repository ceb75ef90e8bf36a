"""A scenario world: a simulated service whose metrics follow what is deployed.

The demo and the eval harness need a world that reacts to actions without a cluster: a
service with a release history, signals whose values depend on the running version
(and on operations such as restart or isolate), and a Prometheus-shaped query surface.
The world's mutable state is a JSON file, so an executor in another process (or a
resumed run after a crash) sees the same deployment.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from tools.promql import normalize, split_comparison


class Release(BaseModel):
    """One deployed version."""

    version: str
    deployed_at: datetime


class WorldQuery(BaseModel):
    """A PromQL expression the world can answer, bound to one signal."""

    expr: str
    signal: str
    labels: dict[str, str] = Field(default_factory=dict)


class OperationEffect(BaseModel):
    """What an operation does to the signals, beyond changing the version."""

    multiply: dict[str, float] = Field(default_factory=dict)
    set: dict[str, float] = Field(default_factory=dict)
    fails: bool = False
    detail: str = ""


class WorldSpec(BaseModel):
    """The static description of a world (``world.yaml`` in a scenario bundle)."""

    service: str
    namespace: str = "default"
    replicas: int = 3
    releases: list[Release]
    signals: dict[str, dict[str, float]] = Field(description="signal -> {version or 'default': value}")
    queries: list[WorldQuery] = Field(default_factory=list)
    effects: dict[str, OperationEffect] = Field(default_factory=dict)
    version_metric: str = "build_info"

    @classmethod
    def load(cls, path: Path) -> WorldSpec:
        """Load ``world.yaml`` (or a scenario directory containing it)."""
        if path.is_dir():
            path = path / "world.yaml"
        return cls.model_validate(yaml.safe_load(path.read_text()))


class WorldState(BaseModel):
    """The mutable part of a world: what runs now and which operations touched it."""

    version: str
    history: list[Release]
    replicas: int
    isolated: bool = False
    modifiers: dict[str, float] = Field(default_factory=dict, description="signal -> factor")
    overrides: dict[str, float] = Field(default_factory=dict)
    applied: dict[str, dict[str, Any]] = Field(default_factory=dict, description="idempotency key -> first result")
    operations: list[dict[str, Any]] = Field(default_factory=list)


class World:
    """A world spec plus its state file; answers queries and applies operations."""

    def __init__(self, spec: WorldSpec, state_path: Path) -> None:
        self.spec = spec
        self.state_path = state_path
        if not state_path.exists():
            state_path.parent.mkdir(parents=True, exist_ok=True)
            self._write(self._initial_state())

    def _initial_state(self) -> WorldState:
        return WorldState(
            version=self.spec.releases[-1].version,
            history=list(self.spec.releases),
            replicas=self.spec.replicas,
        )

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

    # ------------------------------------------------------------------ signals

    def signal(self, name: str, state: WorldState | None = None, version: str | None = None) -> float:
        """Value of signal ``name`` for ``version`` (default: what runs now)."""
        state = state or self.state()
        table = self.spec.signals.get(name, {})
        running = version or state.version
        value = table.get(running, table.get("default", 0.0))
        if version is None:
            if name in state.overrides:
                return state.overrides[name]
            value *= state.modifiers.get(name, 1.0)
        return round(value, 6)

    def version_at(self, when: datetime, state: WorldState | None = None) -> str | None:
        """The version running at ``when`` according to the deployment history."""
        state = state or self.state()
        running = None
        for release in state.history:
            if release.deployed_at <= when:
                running = release.version
        return running

    def _match(self, expr: str) -> tuple[WorldQuery | None, str | None, float | None]:
        lhs, op, threshold = split_comparison(expr)
        wanted = normalize(lhs)
        for query in self.spec.queries:
            if normalize(query.expr) == wanted:
                return query, op, threshold
        return None, op, threshold

    def instant(self, expr: str) -> list[dict[str, Any]]:
        """A Prometheus instant-vector answer for ``expr`` at the current state."""
        state = self.state()
        if self.spec.version_metric in expr:
            return [self._sample({"version": state.version}, 1.0)]
        query, op, threshold = self._match(expr)
        if query is None:
            return []
        value = self.signal(query.signal, state)
        if op is not None and threshold is not None and not _holds(value, op, threshold):
            return []
        return [self._sample(query.labels, value)]

    def range(self, expr: str, start: datetime, end: datetime, step_s: float) -> list[dict[str, Any]]:
        """A Prometheus matrix answer: the value each version had while it ran."""
        state = self.state()
        points = _steps(start, end, step_s)
        if self.spec.version_metric in expr:
            series: dict[str, list[list[Any]]] = {}
            for at in points:
                version = self.version_at(at, state)
                if version:
                    series.setdefault(version, []).append([at.timestamp(), "1"])
            return [{"metric": {"version": v}, "values": vals} for v, vals in series.items()]
        query, _, _ = self._match(expr)
        if query is None:
            return []
        values = []
        for at in points:
            version = self.version_at(at, state)
            if version is None:
                continue
            current = version == state.version and at >= state.history[-1].deployed_at
            value = self.signal(query.signal, state) if current else self.signal(query.signal, version=version)
            values.append([at.timestamp(), repr(value)])
        return [{"metric": query.labels, "values": values}] if values else []

    @staticmethod
    def _sample(labels: dict[str, str], value: float) -> dict[str, Any]:
        return {"metric": labels, "value": [datetime.now(UTC).timestamp(), repr(value)]}

    # ------------------------------------------------------------------ operations

    def apply(self, method: str, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        """Apply an executor operation once per idempotency ``key``; returns the result."""
        with self._locked() as state:
            if key and key in state.applied:
                return state.applied[key]
            before = _snapshot(state)
            result = self._undo(state, method) if params.get("undo") else self._apply(state, method, params)
            state.operations.append({"key": key, "method": method, "params": params, **result, "before": before})
            if key:
                state.applied[key] = result
            return result

    def _apply(self, state: WorldState, method: str, params: dict[str, Any]) -> dict[str, Any]:
        effect = self.spec.effects.get(method, OperationEffect())
        if effect.fails:
            return {"status": "error", "detail": "", "error": effect.detail or f"{method} failed"}
        detail = self._mutate(state, method, params)
        for signal, factor in effect.multiply.items():
            state.modifiers[signal] = state.modifiers.get(signal, 1.0) * factor
        state.overrides.update(effect.set)
        return {"status": "success", "detail": effect.detail or detail, "error": ""}

    def _mutate(self, state: WorldState, method: str, params: dict[str, Any]) -> str:
        match method:
            case "version_rollback" | "full_rollback":
                target = params.get("target") or self._previous(state)
                if target not in {r.version for r in state.history}:
                    raise ValueError(f"target {target!r} was never deployed")
                state.version = str(target)
                state.history.append(Release(version=str(target), deployed_at=datetime.now(UTC)))
                state.modifiers.clear()
                state.overrides.clear()
                return f"Rollback to {target} completed"
            case "scale":
                replicas = params.get("replicas") or state.replicas + int(params.get("delta", 1))
                before, state.replicas = state.replicas, int(replicas)
                return f"Scaled {self.spec.service} from {before} to {state.replicas} replicas"
            case "restart" | "config_refresh":
                return f"{method} of {self.spec.service} completed ({state.replicas} pods)"
            case "isolate":
                state.isolated = not params.get("undo", False)
                return f"{self.spec.service} {'isolated' if state.isolated else 'back in rotation'}"
        raise ValueError(f"unknown operation {method!r}")

    @staticmethod
    def _undo(state: WorldState, method: str) -> dict[str, Any]:
        """Put back what the newest not-yet-undone ``method`` changed (its effects included)."""
        for op in reversed(state.operations):
            if op["method"] != method or op.get("status") != "success" or op.get("undone"):
                continue
            if op["params"].get("undo") or "before" not in op:
                continue
            before = op["before"]
            op["undone"] = True
            if state.version != before["version"]:
                state.history.append(Release(version=before["version"], deployed_at=datetime.now(UTC)))
            state.version = before["version"]
            state.replicas = before["replicas"]
            state.isolated = before["isolated"]
            state.modifiers = dict(before["modifiers"])
            state.overrides = dict(before["overrides"])
            return {"status": "success", "detail": f"undid {method} ({op.get('detail', '')})", "error": ""}
        raise ValueError(f"nothing to undo: no {method} was applied")

    @staticmethod
    def _previous(state: WorldState) -> str:
        versions = [r.version for r in state.history]
        for version in reversed(versions):
            if version != state.version:
                return version
        raise ValueError("no previous version to roll back to")


def _snapshot(state: WorldState) -> dict[str, Any]:
    return {
        "version": state.version,
        "replicas": state.replicas,
        "isolated": state.isolated,
        "modifiers": dict(state.modifiers),
        "overrides": dict(state.overrides),
    }


def _holds(value: float, op: str, threshold: float) -> bool:
    return {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
        "==": value == threshold,
        "!=": value != threshold,
    }[op]


def _steps(start: datetime, end: datetime, step_s: float) -> list[datetime]:
    if step_s <= 0 or end < start:
        return []
    count = min(int((end - start).total_seconds() // step_s) + 1, 11_000)
    return [datetime.fromtimestamp(start.timestamp() + i * step_s, UTC) for i in range(count)]


def load_world(scenario: Path, home: Path) -> World:
    """The world of ``scenario`` with its state kept under ``home``."""
    spec = WorldSpec.load(scenario)
    return World(spec, home / "world" / f"{spec.service}.json")


def dump_state(world: World) -> str:
    """The world's state as indented JSON (for people)."""
    return json.dumps(world.state().model_dump(mode="json"), indent=2)
