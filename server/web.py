"""The web page: incident list and one incident's timeline, server-rendered (jinja2, no JS build)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from server.context import TOKEN_COOKIE, ServiceContext, authorized, presented_token, queue_decision

if TYPE_CHECKING:
    from graph.runner import IncidentRunner

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


def _ctx(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """Render ``name``; a ``?token=`` visit leaves a same-site cookie so forms work without it."""
    response = templates.TemplateResponse(request, name, context, status_code=status)
    if request.query_params.get("token"):
        response.set_cookie(TOKEN_COOKIE, presented_token(request) or "", httponly=True, samesite="strict")
    return response


def _thread_reader(ctx: ServiceContext) -> Any:
    """A runner over the service's checkpoints that only reads threads (no tools, no model)."""
    from graph.runner import open_reader

    return open_reader(ctx.settings, ctx.store)


def _change_text(value: Any) -> str:
    """One ``changes`` value as the page shows it: lists one item a line, the rest as `replay` prints it."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_change_text(item) for item in value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _checkpoints(runner: IncidentRunner, incident_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The thread's checkpoint timeline (as ``alertpilot replay ID`` shows it) and its recorded tool calls."""
    from graph.timeline import timeline

    try:
        entries = timeline(runner, incident_id)
    except KeyError:  # no checkpointed thread (e.g. created by a worker that died before its first step)
        return [], []
    rows = [
        {
            "id": e.id,
            "step": e.step,
            "node": e.node,
            "time": e.time,
            "changes": [(key, _change_text(value)) for key, value in e.changes.items()],
        }
        for e in entries
    ]
    calls = [c.model_dump(mode="json") for c in entries[-1].state.tool_calls] if entries else []
    return rows, calls


def _not_found(incident_id: str) -> HTMLResponse:
    return HTMLResponse(f"<h1>404</h1><p>no incident {html.escape(incident_id)}</p>", status_code=404)


def _unauthorized() -> HTMLResponse:
    return HTMLResponse("<h1>401</h1><p>Open this page with ?token=&lt;webhook token&gt;.</p>", status_code=401)


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The web UI lives under /ui."""
    return RedirectResponse("/ui", status_code=307)


@router.get("/ui", response_class=HTMLResponse, response_model=None)
def incident_list(request: Request, status: str | None = None) -> Response:
    """All incidents, newest first."""
    ctx = _ctx(request)
    if not authorized(request, ctx.token):
        return _unauthorized()
    return _page(request, "list.html", {"incidents": ctx.store.list(status=status, limit=200), "status": status})


@router.get("/ui/incidents/{incident_id}", response_class=HTMLResponse, response_model=None)
def incident_page(request: Request, incident_id: str, message: str = "") -> Response:
    """One incident's timeline: alert, triage, findings, report, attempts, approvals."""
    ctx = _ctx(request)
    if not authorized(request, ctx.token):
        return _unauthorized()
    doc = ctx.store.get(incident_id)
    if doc is None:
        return _not_found(incident_id)
    from tools.charts import key_series

    audit = ctx.store.audit_trail(incident_id)
    approvals = [a for a in audit if a["kind"] in ("approval", "approval_requested", "stopped")]
    with _thread_reader(ctx) as runner:
        checkpoints, calls = _checkpoints(runner, incident_id)
    context = {
        "inc": doc,
        "audit": audit,
        "approvals": approvals,
        "message": message,
        "checkpoints": checkpoints,
        "has_chart": bool(key_series(calls, doc.get("findings") or [])),
    }
    return _page(request, "incident.html", context)


@router.get("/ui/incidents/{incident_id}/chart.png", response_model=None)
def incident_chart_png(request: Request, incident_id: str) -> Response:
    """The PNG chart of the incident's key metric series, from the range queries its agents recorded."""
    from tools.charts import incident_chart

    ctx = _ctx(request)
    if not authorized(request, ctx.token):
        return _unauthorized()
    doc = ctx.store.get(incident_id)
    if doc is None:
        return _not_found(incident_id)
    with _thread_reader(ctx) as runner:
        calls = runner.tool_calls(incident_id)
    png = incident_chart(doc, calls)
    if png is None:
        return HTMLResponse("<h1>404</h1><p>no recorded range query to chart</p>", status_code=404)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/ui/incidents/{incident_id}/{verdict}", response_model=None)
def decide_form(
    request: Request,
    incident_id: str,
    verdict: str,
    user: str = Form(default=""),
    reason: str = Form(default=""),
) -> Response:
    """Approve or reject from the page, then show the incident again."""
    ctx = _ctx(request)
    if not authorized(request, ctx.token):
        return _unauthorized()
    if verdict not in ("approve", "reject"):
        return HTMLResponse("<h1>404</h1>", status_code=404)
    by = user.strip() or ctx.settings.acting_user
    try:
        queue_decision(ctx, incident_id, approved=verdict == "approve", by=by, reason=reason)
        message = f"{verdict} queued by {by}"
    except KeyError:
        return _not_found(incident_id)
    except (LookupError, ValueError, PermissionError) as exc:
        message = str(exc)
    return RedirectResponse(f"/ui/incidents/{incident_id}?message={message}", status_code=303)
