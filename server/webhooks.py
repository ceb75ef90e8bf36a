"""Webhook intake: authenticate, bound, parse, store durably, answer.

The alert is committed to the queue before the 2xx. Bad input gets a 4xx naming the
problem (Alertmanager does not retry 4xx); a 5xx means the payload was *not* stored, so a
sender's retry is right.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from server.context import ServiceContext, webhook_authorized
from state.alert import MAX_PAYLOAD_BYTES, AlertParseError, decode_payload, parse_alerts

log = logging.getLogger("alertpilot.webhooks")
router = APIRouter()
Model = TypeVar("Model", bound=BaseModel)
SIGNATURE_HEADERS = ("x-alertpilot-signature", "x-hub-signature-256", "x-signature")


class HttpProblem(Exception):
    """An HTTP error with a one-line reason."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def response(self) -> JSONResponse:
        """The JSON error body: ``{"error": ..., "field": ...}``."""
        body: dict[str, Any] = {"error": self.message}
        if self.field:
            body["field"] = self.field
        return JSONResponse(body, status_code=self.status)


async def read_body(request: Request, limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """The request body, refused with 413 past ``limit`` (checked before and while reading)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HttpProblem(413, f"body: {declared} bytes is over the 1 MiB limit", "body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpProblem(413, "body: over the 1 MiB limit", "body")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_model(request: Request, model: type[Model], limit: int = 64 * 1024) -> Model:
    """The body as ``model`` (an empty body gives its defaults); HttpProblem 413/422 naming the field."""
    raw = await read_body(request, limit)
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise HttpProblem(422, f"{where}: {first['msg']}", where) from None


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` (``sha256=<hex>`` or bare hex) is the HMAC-SHA256 of ``body``."""
    given = header.strip().removeprefix("sha256=").lower()
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)


async def _intake(request: Request, source: str) -> tuple[dict[str, Any], int, int]:
    ctx: ServiceContext = request.app.state.ctx
    token_ok = webhook_authorized(request, ctx, source)
    body = await read_body(request)
    if not token_ok:
        header = next((request.headers[h] for h in SIGNATURE_HEADERS if h in request.headers), None)
        if not (source == "generic" and header and ctx.hmac_key and signature_ok(ctx.hmac_key, body, header)):
            ctx.metrics.alerts.labels(source, "rejected").inc()
            raise HttpProblem(401, "unauthorized: send Authorization: Bearer <token> or ?token=")
    try:
        payload = decode_payload(body)
        alerts = parse_alerts(payload, source)
    except AlertParseError as exc:
        ctx.metrics.alerts.labels(source, "rejected").inc()
        status = 400 if exc.field == "body" else 422
        raise HttpProblem(status, f"{source} payload: {exc}", exc.field) from None
    try:
        stored = await run_in_threadpool(ctx.queue.enqueue_alerts, alerts)
    except SQLAlchemyError as exc:
        log.error("could not store %s alert: %s", source, exc)
        raise HttpProblem(503, f"not stored ({type(exc).__name__}); retry later") from None
    ctx.metrics.alerts.labels(source, "accepted").inc(stored.accepted)
    ctx.metrics.alerts.labels(source, "duplicate").inc(stored.duplicates)
    return payload, stored.accepted, stored.duplicates


async def _answer(request: Request, source: str) -> JSONResponse:
    try:
        _payload, accepted, duplicates = await _intake(request, source)
    except HttpProblem as problem:
        return problem.response()
    return JSONResponse({"status": "stored", "accepted": accepted, "duplicates": duplicates})


@router.post("/webhooks/alertmanager")
async def alertmanager(request: Request) -> JSONResponse:
    """Alertmanager webhook v4 (one notification = one alert group)."""
    return await _answer(request, "alertmanager")


@router.post("/webhooks/cls")
async def cls(request: Request) -> JSONResponse:
    """A CLS alarm notification rendered from alertpilot's template."""
    return await _answer(request, "cls")


@router.post("/webhooks/generic")
async def generic(request: Request) -> JSONResponse:
    """The generic JSON form; also accepts an HMAC-SHA256 signature instead of the token."""
    return await _answer(request, "generic")


@router.post("/webhooks/tencent")
async def tencent(request: Request) -> JSONResponse:
    """A Tencent Cloud Monitor alarm callback: answers 200 ``{"sessionId", "retCode": 0}``."""
    try:
        payload, _accepted, _duplicates = await _intake(request, "tencent")
    except HttpProblem as problem:
        return problem.response()
    return JSONResponse({"sessionId": payload.get("sessionId"), "retCode": 0})
