"""The executor service (``alertpilot executor serve``): the host-side end of the executor protocol.

``POST /mcp`` with ``{"method": ..., "params": "<JSON string>"}``, ``X-Auth-Token`` and an
optional ``Idempotency-Key`` (shared/reference/executor-protocol.md). Checks run in
this order: token (401), body (400 naming the field), method (404), params (400 naming
``params.<field>``), idempotency key (409 when reused for another request or still running),
the executor's own policy (403, server/executor_policy.py: a refusal is remembered under its
key like an answer), then the backend acts and the answer is 200 with ``status`` success or
error.
Every answer the backend produced, and every replay of one, is appended to the
hash-chained audit log.
"""

from __future__ import annotations

import hmac
import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.audit_log import AuditError, AuditLog
from server.executor_policy import ExecutorPolicy, Refusal
from server.idempotency import IdempotencyStore, fingerprint
from state.policy import MUTATING_OPERATIONS
from tools.execution import ExecutionResult, Executor

MAX_BODY = 64 * 1024


class OperationParams(BaseModel):
    """The decoded ``params`` of an operation (unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid")

    service: str | None = Field(default=None, min_length=1)
    namespace: str | None = Field(default=None, min_length=1)
    target: str | None = Field(default=None, min_length=1)
    revision: int | None = Field(default=None, ge=1)
    replicas: int | None = Field(default=None, ge=0)
    delta: int | None = None
    undo: bool = False


# params that belong to particular operations (the rest are common to all)
OWN_PARAMS = frozenset({"target", "revision", "replicas", "delta"})


@dataclass
class ExecutorService:
    """What the app needs: the backend, the token, and where keys and the audit log live."""

    backend: Executor
    backend_name: str
    token: str
    idempotency: IdempotencyStore
    audit: AuditLog
    policy: ExecutorPolicy = field(default_factory=ExecutorPolicy)
    device: str = socket.gethostname()


class BadRequest(Exception):
    """A 4xx answer with a JSON error naming the field."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def _error(code: int, field: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": f"{field}: {message}" if field else message, "field": field, **extra}, code)


def parse_request(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(method, params) from a request body, or :class:`BadRequest` naming the field."""
    if len(raw) > MAX_BODY:
        raise BadRequest(400, "body", f"over {MAX_BODY // 1024} KiB")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest(400, "body", "not valid JSON (or nested too deep)") from None
    if not isinstance(body, dict):
        raise BadRequest(400, "body", "must be a JSON object")
    unknown = sorted(set(body) - {"method", "params"})
    if unknown:
        raise BadRequest(400, unknown[0], "unknown field")
    method = body.get("method")
    if not isinstance(method, str) or not method:
        raise BadRequest(400, "method", "required, a non-empty string")
    text = body.get("params", "{}")
    if not isinstance(text, str):
        raise BadRequest(400, "params", "must be a JSON string (an object encoded as text)")
    try:
        params = json.loads(text or "{}")
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        raise BadRequest(400, "params", f"not valid JSON (or nested too deep): {text[:40]!r}") from None
    if not isinstance(params, dict):
        raise BadRequest(400, "params", "must encode a JSON object")
    return method, params


def validate_params(params: dict[str, Any], method: str | None = None) -> dict[str, Any]:
    """The params ``method`` accepts, without defaults; :class:`BadRequest` names the field.

    Besides the common ones, an operation takes only its own (the guard's table,
    tools/guard.py::OPERATION_PARAMS): ``replicas`` on a restart is refused, not ignored.
    """
    from tools.guard import OPERATION_PARAMS

    try:
        parsed = OperationParams.model_validate(params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(400, f"params.{where}", first["msg"]) from None
    given = parsed.model_dump(exclude_defaults=True)
    if method is not None:
        own = OPERATION_PARAMS.get(method, frozenset())
        foreign = sorted(k for k in given if k in OWN_PARAMS and k not in own)
        if foreign:
            raise BadRequest(400, f"params.{foreign[0]}", f"not accepted by {method}")
    return given


def create_app(service: ExecutorService) -> FastAPI:
    """The executor FastAPI app over ``service``."""
    app = FastAPI(title="alertpilot executor", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Liveness, and which backend acts."""
        return {"status": "ok", "backend": service.backend_name}

    @app.post("/mcp")
    async def mcp(request: Request) -> JSONResponse:
        """Run one operation (executor protocol)."""
        given = request.headers.get("x-auth-token") or ""
        if not hmac.compare_digest(given.encode(), service.token.encode()):
            return _error(401, "X-Auth-Token", "missing or wrong token")
        try:
            method, raw_params = parse_request(await request.body())
            if method not in MUTATING_OPERATIONS:
                return _error(404, "method", f"unknown method {method!r}", methods=list(MUTATING_OPERATIONS))
            params = validate_params(raw_params, method)
        except BadRequest as exc:
            return _error(exc.status, exc.field, exc.message)
        key = request.headers.get("idempotency-key") or None
        result = await run_in_threadpool(_run, service, method, params, key)
        if isinstance(result, JSONResponse):
            return result
        return JSONResponse(result)

    return app


def _run(
    service: ExecutorService, method: str, params: dict[str, Any], key: str | None
) -> dict[str, Any] | JSONResponse:
    """Claim the key, act once, store and audit the answer."""
    if key is not None:
        if len(key) > 200:
            return _error(400, "Idempotency-Key", "longer than 200 characters")
        claim = service.idempotency.claim(key, fingerprint(method, params))
        if claim.outcome == "conflict":
            return _error(409, "Idempotency-Key", "already used for a different request")
        if claim.outcome == "running":
            return _error(409, "Idempotency-Key", "the first request with this key has not finished")
        if claim.outcome == "replay" and claim.response is not None:
            service.audit.append(_audit_fields(service, method, params, key, claim.response, replayed=True))
            if claim.response.get("status") == "refused":
                return _error(403, "policy", str(claim.response.get("error")), status="refused")
            return claim.response
    try:
        service.audit.ready()
    except AuditError as exc:  # acting now would leave an action the log cannot prove
        return _error(423, "audit", f"{exc}; not acting until a person checks the log")
    try:
        admitted = service.policy.admit(method, params, getattr(service.backend, "current_replicas", None))
    except Refusal as exc:
        refused = {"status": "refused", "detail": "", "error": str(exc), "execution_time": 0.0}
        if key is not None:
            service.idempotency.complete(key, refused)
        service.audit.append(_audit_fields(service, method, params, key, refused, replayed=False))
        return _error(403, exc.field, exc.message, status="refused")
    try:
        answer = service.backend.execute(method, admitted, key)
    except ValueError as exc:
        answer = ExecutionResult(status="error", error=str(exc))
    response = answer.model_dump(exclude={"audit"})
    record = service.audit.append(_audit_fields(service, method, params, key, response, replayed=False))
    # the agent keeps the head beside the attempt, out of the executor's reach (``audit verify --store``)
    response["audit"] = {"seq": record["seq"], "hash": record["hash"], "device": service.device}
    if key is not None:
        service.idempotency.complete(key, response)
    return response


def _audit_fields(
    service: ExecutorService,
    method: str,
    params: dict[str, Any],
    key: str | None,
    response: dict[str, Any],
    *,
    replayed: bool,
) -> dict[str, Any]:
    return {
        "device": service.device,
        "backend": service.backend_name,
        "operation": method,
        "params": params,
        "idempotency_key": key,
        "replayed": replayed,
        "status": response.get("status"),
        "detail": response.get("detail", ""),
        "error": response.get("error", ""),
        "execution_time": response.get("execution_time", 0.0),
    }


def build_service(
    backend: Executor,
    backend_name: str,
    token: str,
    home: Path,
    audit_path: Path | None,
    policy: ExecutorPolicy | None = None,
) -> ExecutorService:
    """The service with its key store in ``home/executor.db``, the audit log where configured, and its policy."""
    return ExecutorService(
        backend=backend,
        backend_name=backend_name,
        token=token,
        idempotency=IdempotencyStore(home / "executor.db"),
        audit=AuditLog(audit_path or home / "audit.jsonl"),
        policy=policy or ExecutorPolicy(default_namespace=getattr(backend, "namespace", None)),
    )
