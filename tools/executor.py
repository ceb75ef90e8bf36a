"""Executor clients (dry-run, local process, HTTP) and the mutating devops tools.

Which one an agent acts through is chosen in tools/catalog.py (the composition root).

The wire protocol is shared/reference/executor-protocol.md: ``POST /mcp`` with
``{"method": ..., "params": "<JSON string>"}``, ``X-Auth-Token`` and an optional
``Idempotency-Key``; the answer is ``{"status", "detail", "execution_time", "error"}``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from state.policy import MUTATING_OPERATIONS, OPERATIONS, OperationArgs
from tools.execution import ExecutionResult, Executor
from tools.registry import Tool, ToolError
from tools.world import World


class DryRunExecutor:
    """Says what it would do and does nothing."""

    def execute(self, method: str, params: dict[str, Any], idempotency_key: str | None) -> ExecutionResult:
        """Describe the operation without running it."""
        return ExecutionResult(
            status="success",
            detail=f"dry-run: would run {method} {json.dumps(params, sort_keys=True)}",
        )


class ProcessExecutor:
    """The local process backend: drives the demo service's deployment in its world."""

    def __init__(self, world: World) -> None:
        self.world = world

    def execute(self, method: str, params: dict[str, Any], idempotency_key: str | None) -> ExecutionResult:
        """Apply the operation to the world (once per key)."""
        started = time.perf_counter()
        try:
            outcome = self.world.apply(method, params, idempotency_key)
        except ValueError as exc:
            outcome = {"status": "error", "detail": "", "error": str(exc)}
        return ExecutionResult(**outcome, execution_time=round(time.perf_counter() - started, 4))

    def current_replicas(self, service: str, namespace: str | None) -> int | None:
        """The workload's replicas in the world now (None: no such workload)."""
        from tools.world import workload_key

        workload = self.world.find(service or None, namespace)
        if workload is None:
            return None
        return self.world.state().workloads[workload_key(workload)].replicas


# Answers that mean "not reached" (a proxy or load balancer in front of a down executor): retried like no answer.
UNREACHABLE_STATUSES = frozenset({502, 503, 504})


class HttpExecutor:
    """A remote executor service speaking the executor protocol.

    An executor that cannot be reached (connection refused, timeout, a proxy's 502/503/504)
    is retried with exponential backoff for ``retry_s`` under the same idempotency key, so a
    blip of a few seconds costs nothing; past that the answer is ``status: "unreachable"``
    (nothing was done), which the execute node turns into a durable wait, not a spent rung.
    """

    def __init__(
        self, url: str, token: str | None, timeout_s: float = 30.0, retry_s: float = 20.0,
        sleep: Any = time.sleep, clock: Any = time.monotonic,
    ) -> None:  # fmt: skip
        self.url = url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.sleep, self.clock = sleep, clock

    def execute(self, method: str, params: dict[str, Any], idempotency_key: str | None) -> ExecutionResult:
        """POST the operation to ``{url}/mcp``, retrying while the executor cannot be reached."""
        import httpx

        headers = {"X-Auth-Token": self.token or ""}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        body = {"method": method, "params": json.dumps(params)}
        deadline, delay, tries = self.clock() + self.retry_s, 0.25, 0
        while True:
            tries += 1
            try:
                response = httpx.post(f"{self.url}/mcp", json=body, headers=headers, timeout=self.timeout_s)
                if response.status_code not in UNREACHABLE_STATUSES:
                    break
                why = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                why = type(exc).__name__
            if self.clock() + delay > deadline:
                detail = f"executor at {self.url} unreachable after {tries} tries over {self.retry_s:.0f}s: {why}"
                return ExecutionResult(status="unreachable", error=detail)
            self.sleep(delay)
            delay = min(delay * 2, 5.0)
        if response.status_code != 200:
            raise ToolError(f"executor answered HTTP {response.status_code}: {response.text[:200]}")
        return ExecutionResult.model_validate(response.json())


def devops_tools(executor: Executor) -> list[Tool]:
    """The mutating operations as tools; only the guarded execute node may call them."""

    def make(method: str) -> Tool:
        def run(**args: Any) -> dict[str, Any]:
            key = args.pop("idempotency_key", None)
            params = {k: v for k, v in args.items() if v not in (None, False)}
            result = executor.execute(method, params, key)
            return result.model_dump(exclude={"audit"} if result.audit is None else None)

        return Tool(method, OPERATIONS[method].description, OperationArgs, run, mutating=True)

    return [make(method) for method in MUTATING_OPERATIONS]
