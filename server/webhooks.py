"""Webhook intake: authenticate, bound, parse, store durably, answer.

The alert is committed to the queue before the 2xx. Bad input gets a 4xx naming the
problem (Alertmanager does not retry 4xx); a 5xx means the payload was *not* stored, so a
sender's retry is right.

The generic webhook may sign instead of sending the token, replay-safely: the HMAC-SHA256
covers ``{timestamp}.{delivery id}.{body}`` (headers ``X-Alertpilot-Timestamp``, Unix
seconds, and ``X-Alertpilot-Delivery``); a timestamp more than :data:`REPLAY_WINDOW_S` (5
minutes) from now is refused, and a delivery id seen within the window stores nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from server.context import ServiceContext, webhook_authorized
from server.webhook_schemas import body_of
from state.alert import MAX_PAYLOAD_BYTES, AlertParseError, decode_payload, parse_alerts

log = logging.getLogger("alertpilot.webhooks")
router = APIRouter()
Model = TypeVar("Model", bound=BaseModel)
SIGNATURE_HEADERS = ("x-alertpilot-signature", "x-hub-signature-256", "x-signature")
TIMESTAMP_HEADER = "x-alertpilot-timestamp"
DELIVERY_HEADER = "x-alertpilot-delivery"
REPLAY_WINDOW_S = 300.0


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


def signed_content(timestamp: str, delivery: str, body: bytes) -> bytes:
    """What the generic webhook's HMAC covers: ``{timestamp}.{delivery}.{body}``."""
    return f"{timestamp}.{delivery}.".encode() + body


def signature_ok(secret: str, content: bytes, header: str) -> bool:
    """Whether ``header`` (``sha256=<hex>`` or bare hex) is the HMAC-SHA256 of ``content``."""
    given = header.strip().removeprefix("sha256=").lower()
    expected = hmac.new(secret.encode(), content, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)


def _signed_delivery(request: Request, source: str, key: str | None, body: bytes, now: float) -> str:
    """The delivery id of a valid, fresh signature, or HttpProblem 401 saying what is wrong."""
    header = next((request.headers[h] for h in SIGNATURE_HEADERS if h in request.headers), None)
    if source != "generic" or not header or not key:
        raise HttpProblem(401, "unauthorized: send Authorization: Bearer <token> or ?token=")
    stamp, delivery = request.headers.get(TIMESTAMP_HEADER, ""), request.headers.get(DELIVERY_HEADER, "")
    if not stamp or not delivery or len(delivery) > 128:
        raise HttpProblem(401, "unauthorized: a signature needs X-Alertpilot-Timestamp and X-Alertpilot-Delivery "
                          "(at most 128 characters)")  # fmt: skip
    if not signature_ok(key, signed_content(stamp, delivery, body), header):
        raise HttpProblem(401, "unauthorized: bad signature")
    try:
        age = now - float(stamp)
    except ValueError:
        raise HttpProblem(401, "unauthorized: X-Alertpilot-Timestamp is not Unix seconds") from None
    if not abs(age) <= REPLAY_WINDOW_S:  # also NaN
        raise HttpProblem(401, f"unauthorized: X-Alertpilot-Timestamp is {age:.0f}s off (at most 300s)")
    return f"generic:{delivery}"


async def _intake(request: Request, source: str) -> tuple[dict[str, Any], int, int]:
    ctx: ServiceContext = request.app.state.ctx
    token_ok = webhook_authorized(request, ctx, source)
    body = await read_body(request)
    delivery = None
    if not token_ok:
        try:
            delivery = _signed_delivery(request, source, ctx.hmac_key, body, time.time())
        except HttpProblem:
            ctx.metrics.alerts.labels(source, "rejected").inc()
            raise
    try:
        payload = decode_payload(body)
        alerts = parse_alerts(payload, source)
    except AlertParseError as exc:
        ctx.metrics.alerts.labels(source, "rejected").inc()
        status = 400 if exc.field == "body" else 422
        raise HttpProblem(status, f"{source} payload: {exc}", exc.field) from None
    try:
        stored = await run_in_threadpool(ctx.queue.enqueue_alerts, alerts, delivery, 2 * REPLAY_WINDOW_S)
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


@router.post("/webhooks/alertmanager", openapi_extra=body_of("alertmanager"))
async def alertmanager(request: Request) -> JSONResponse:
    """Alertmanager webhook v4 (one notification = one alert group)."""
    return await _answer(request, "alertmanager")


@router.post("/webhooks/cls", openapi_extra=body_of("cls"))
async def cls(request: Request) -> JSONResponse:
    """A CLS alarm notification rendered from alertpilot's template."""
    return await _answer(request, "cls")


@router.post("/webhooks/generic", openapi_extra=body_of("generic"))
async def generic(request: Request) -> JSONResponse:
    """The generic JSON form; also accepts an HMAC-SHA256 signature instead of the token."""
    return await _answer(request, "generic")


@router.post("/webhooks/tencent", openapi_extra=body_of("tencent"))
async def tencent(request: Request) -> JSONResponse:
    """A Tencent Cloud Monitor alarm callback: answers 200 ``{"sessionId", "retCode": 0}``."""
    try:
        payload, _accepted, _duplicates = await _intake(request, "tencent")
    except HttpProblem as problem:
        return problem.response()
    return JSONResponse({"sessionId": payload.get("sessionId"), "retCode": 0})
