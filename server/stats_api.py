"""``GET /stats`` (JSON) and ``/ui/stats`` (the operations page with charts): a viewer credential each.

Both take ``since`` (a date, a time, or 7d / 12h / 30m), ``service`` and ``noise_min``; a bad
value is a 422 with one line naming the field. The credential is checked before any
parameter is read. Stats are computed on request from the facts tables (state/stats.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from server import auth
from server.login import ctx_of, set_session, templates, viewer
from state.stats import OperationsStats, operations_stats, parse_since

router = APIRouter()
MAX_NOISE_MIN = 1000


def _viewer(request: Request) -> auth.Principal:
    """Dependency: a viewer credential, checked before any parameter."""
    return auth.require(ctx_of(request), request, "viewer")


def _query(request: Request) -> tuple[datetime | None, str | None, int]:
    """(since, service, noise_min) from the query string; ValueError names the field."""
    params = request.query_params
    since = parse_since(params.get("since"), datetime.now(UTC))
    service = (params.get("service") or "").strip() or None
    raw = params.get("noise_min", "3").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_NOISE_MIN:
        raise ValueError(f"noise_min: expected a whole number from 1 to {MAX_NOISE_MIN}, got {raw!r}")
    return since, service, int(raw)


def _stats(request: Request) -> OperationsStats:
    since, service, noise_min = _query(request)
    return operations_stats(ctx_of(request).store, since=since, service=service, noise_min=noise_min)


@router.get("/stats", response_model=None, dependencies=[Depends(_viewer)])
def stats(request: Request) -> Any:
    """Operations analytics: incidents, MTTA/MTTR, per rung and pattern, escalations, approvals, budget, noise."""
    try:
        return _stats(request).model_dump(mode="json")
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=422)


@router.get("/ui/stats", response_class=HTMLResponse, response_model=None)
def stats_page(request: Request) -> Response:
    """The operations page: the same numbers as ``GET /stats``, with charts."""
    from server.stats_charts import render
    from server.stats_text import pct, span

    ctx = ctx_of(request)
    me, cookie = viewer(ctx, request)
    params = {"since": request.query_params.get("since", ""), "service": request.query_params.get("service", "")}
    context: dict[str, Any] = {"me": me, "params": params, "pct": pct, "span": span, "error": "", "charts": {}}
    try:
        result = _stats(request)
        context |= {"stats": result, "charts": render(result)}
        status = 200
    except ValueError as exc:
        context |= {"stats": None, "error": str(exc)}
        status = 422
    response = templates.TemplateResponse(request, "stats.html", context, status_code=status)
    if cookie:
        set_session(response, ctx, request, cookie)
    return response
