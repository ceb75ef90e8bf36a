"""The executor protocol's types: what an executor is and what it answers.

Clients (tools/executor.py), backends (tools/backends/) and the executor service
(server/executor_app.py) all speak these; the wire format is
shared/reference/executor-protocol.md.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel


class ExecutionResult(BaseModel):
    """The executor's answer to one operation."""

    status: str
    detail: str = ""
    execution_time: float = 0.0
    error: str = ""
    audit: dict[str, Any] | None = None  # the executor's audit-log head after this answer: {"seq", "hash"}


class Executor(Protocol):
    """Runs one operation on the target, at most once per idempotency key."""

    def execute(self, method: str, params: dict[str, Any], idempotency_key: str | None) -> ExecutionResult:
        """Run ``method`` with ``params``."""
        ...
