"""The web page: incident list and one incident's timeline, server-rendered (jinja2, no JS build)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from server.context import TOKEN_COOKIE, ServiceContext, authorized, presented_token, queue_decision

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
        return HTMLResponse(f"<h1>404</h1><p>no incident {incident_id}</p>", status_code=404)
    audit = ctx.store.audit_trail(incident_id)
    approvals = [a for a in audit if a["kind"] in ("approval", "approval_requested", "stopped")]
    return _page(request, "incident.html", {"inc": doc, "audit": audit, "approvals": approvals, "message": message})


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
        return HTMLResponse(f"<h1>404</h1><p>no incident {incident_id}</p>", status_code=404)
    except (LookupError, ValueError, PermissionError) as exc:
        message = str(exc)
    return RedirectResponse(f"/ui/incidents/{incident_id}?message={message}", status_code=303)
