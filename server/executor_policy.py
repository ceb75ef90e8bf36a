"""The executor's own policy: what it refuses whatever the agent's guard decided.

A compromised or buggy agent (a model that obeyed an injected log line, a guard with a
bug) must not be able to do what the guard would refuse, so the executor service checks
every request itself before its backend acts: the operation allowlist, the namespaces it
may touch (``executor serve --allowed-namespaces``) and, for ``scale``, the *resulting*
replica count against a floor and a ceiling. A delta is turned into the absolute count it
leads to (read from the backend), so "however it is expressed" the same bound applies;
a backend that cannot tell the current count refuses a delta instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from state.policy import MUTATING_OPERATIONS

# (service, namespace) -> the current replica count, or None when the backend cannot tell
ReplicaReader = Callable[[str, str | None], int | None]


class Refusal(Exception):
    """A request the executor's policy refuses (HTTP 403), naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class ExecutorPolicy:
    """What the executor allows, independent of the agent (empty namespaces = any)."""

    operations: frozenset[str] = field(default_factory=lambda: frozenset(MUTATING_OPERATIONS))
    allowed_namespaces: frozenset[str] = frozenset()
    default_namespace: str | None = None
    min_replicas: int = 1
    max_replicas: int = 50

    def admit(self, method: str, params: dict[str, Any], current: ReplicaReader | None) -> dict[str, Any]:
        """The params the backend gets (a scale's delta made absolute), or :class:`Refusal`."""
        if method not in self.operations:
            raise Refusal("method", f"{method!r} is not allowed on this executor (allowed: {sorted(self.operations)})")
        namespace = params.get("namespace") or self.default_namespace
        if self.allowed_namespaces and namespace not in self.allowed_namespaces:
            allowed = ", ".join(sorted(self.allowed_namespaces))
            raise Refusal("params.namespace", f"{namespace!r} is outside this executor's namespaces ({allowed})")
        if method == "scale" and not params.get("undo"):
            return self._scale(params, current)
        return params

    def _scale(self, params: dict[str, Any], current: ReplicaReader | None) -> dict[str, Any]:
        if params.get("replicas") is not None and params.get("delta") is not None:
            raise Refusal("params.delta", "give replicas or delta, not both")
        wanted = params.get("replicas")
        if wanted is None:
            delta = int(params.get("delta") or 1)
            now = current(str(params.get("service") or ""), params.get("namespace")) if current else None
            if now is None:
                raise Refusal("params.delta", "this backend cannot read the current replica count: send replicas")
            wanted = now + delta
        if wanted < self.min_replicas:
            raise Refusal("params.replicas", f"the scale leaves {wanted}, below this executor's floor of "
                          f"{self.min_replicas}")  # fmt: skip
        if wanted > self.max_replicas:
            raise Refusal("params.replicas", f"the scale leaves {wanted}, above this executor's ceiling of "
                          f"{self.max_replicas}")  # fmt: skip
        return {k: v for k, v in params.items() if k != "delta"} | {"replicas": wanted}


def parse_list(text: str | None) -> frozenset[str]:
    """``a,b , c`` as a set of names (empty for None or blank)."""
    return frozenset(part.strip() for part in (text or "").split(",") if part.strip())
