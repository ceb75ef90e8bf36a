"""The web page: incident list and one incident's timeline, server-rendered (jinja2, no JS build)."""

from __future__ import annotations

import html
import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server import auth
from server.context import ServiceContext, queue_decision
from server.login import auth_problem, ctx_of, set_session, templates, viewer

if TYPE_CHECKING:
    from graph.runner import IncidentRunner

router = APIRouter()
__all__ = ["auth_problem", "router"]
ANSWER_KINDS = ("answer", "approval", "approval_requested", "stopped")


def _page(
    request: Request, name: str, context: dict[str, Any], me: auth.Principal, cookie: str | None, status: int = 200
) -> Response:
    """Render ``name`` for ``me`` (their name, the CSRF token every form carries), with a new session cookie."""
    response = templates.TemplateResponse(request, name, {**context, "me": me}, status_code=status)
    if cookie:
        set_session(response, ctx_of(request), request, cookie)
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


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The web UI lives under /ui."""
    return RedirectResponse("/ui", status_code=307)


@router.get("/ui", response_class=HTMLResponse, response_model=None)
def incident_list(request: Request, status: str | None = None) -> Response:
    """All incidents, newest first."""
    ctx = ctx_of(request)
    me, cookie = viewer(ctx, request)
    rows = ctx.store.list(status=status, limit=200)
    return _page(request, "list.html", {"incidents": rows, "status": status}, me, cookie)


def _answers(audit: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The approval records the page lists: who answered, with which credential, through which source."""
    return [a for a in audit if a["kind"] in ANSWER_KINDS]


@router.get("/ui/incidents/{incident_id}", response_class=HTMLResponse, response_model=None)
def incident_page(request: Request, incident_id: str, message: str = "") -> Response:
    """One incident's timeline: alert, triage, findings, report, attempts, approvals."""
    from server.decisions import action_hash
    from tools.charts import key_series

    ctx = ctx_of(request)
    me, cookie = viewer(ctx, request)
    doc = ctx.store.get(incident_id)
    if doc is None:
        return _not_found(incident_id)
    audit = ctx.store.audit_trail(incident_id)
    with _thread_reader(ctx) as runner:
        checkpoints, calls = _checkpoints(runner, incident_id)
        preview = impact(runner, incident_id) if doc.get("pending") else None
    context = {
        "inc": doc,
        "audit": audit,
        "approvals": _answers(audit),
        "message": message[:300],
        "checkpoints": checkpoints,
        "has_chart": bool(key_series(calls, doc.get("findings") or [])),
        "action": action_hash(doc.get("pending")),
        "preview": preview,
    }
    return _page(request, "incident.html", context, me, cookie)


def impact(runner: IncidentRunner, incident_id: str) -> dict[str, Any] | None:
    """The impact preview the guard attached to the approval request the thread waits on (None: no wait)."""
    waiting = runner.pending_interrupt(incident_id)
    if not waiting or waiting.get("kind") == "timer":
        return None
    preview = waiting.get("preview")
    return preview if isinstance(preview, dict) else None


@router.get("/ui/incidents/{incident_id}/chart.png", response_model=None)
def incident_chart_png(request: Request, incident_id: str) -> Response:
    """The PNG chart of the incident's key metric series, from the range queries its agents recorded."""
    from tools.charts import incident_chart

    ctx = ctx_of(request)
    viewer(ctx, request)
    doc = ctx.store.get(incident_id)
    if doc is None:
        return _not_found(incident_id)
    with _thread_reader(ctx) as runner:
        calls = runner.tool_calls(incident_id)
    png = incident_chart(doc, calls)
    if png is None:
        return HTMLResponse("<h1>404</h1><p>no recorded range query to chart</p>", status_code=404)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


def _answer_message(answer: Any, verdict: str, by: str) -> str:
    """What the page says after an answer (or why it was refused)."""
    from server.decisions import Conflict

    if isinstance(answer, Conflict | LookupError | ValueError | PermissionError):
        return str(answer)
    return f"{verdict} queued by {by}"


@router.post("/ui/incidents/{incident_id}/{verdict}", response_model=None)
def decide_form(
    request: Request,
    incident_id: str,
    verdict: str,
    csrf_token: str = Form(default="", max_length=128),
    reason: str = Form(default="", max_length=2000),
    action: str = Form(default="", max_length=128),
) -> Response:
    """Approve or reject from the page as the logged-in user, then show the incident again."""
    ctx = ctx_of(request)
    me, _cookie = viewer(ctx, request)
    auth.check_post(ctx.settings, request, me, csrf_token)
    if verdict not in ("approve", "reject"):
        return HTMLResponse("<h1>404</h1>", status_code=404)
    auth.require_role(me, "approver")
    try:
        queue_decision(
            ctx, incident_id, approved=verdict == "approve", by=me.user, reason=reason,
            credential=me.credential, source="page", action=action or None,
        )  # fmt: skip
        message = _answer_message(None, verdict, me.user)
    except KeyError:
        return _not_found(incident_id)
    except (LookupError, ValueError, PermissionError) as exc:
        message = _answer_message(exc, verdict, me.user)
    return RedirectResponse(f"/ui/incidents/{incident_id}?message={quote(message)}", status_code=303)


def _link_context(ctx: ServiceContext, token: str, me: auth.Principal) -> tuple[Any, dict[str, Any]]:
    """The link's claims and the incident it is for, once it is genuine, unexpired, unused, and ``me``'s."""
    from server import links

    claims = links.verify(links.link_key(ctx.settings, ctx.identity), token, time.time())
    if ctx.identity.claimed(f"link:{claims.nonce}"):
        raise links.LinkError(410, "this link was already used")
    doc = ctx.store.get(claims.incident)
    links.usable(claims, doc, me.user)
    assert doc is not None
    return claims, doc


def _link_refused(problem: Exception) -> HTMLResponse:
    fallback = 409 if isinstance(problem, LookupError) else 422 if isinstance(problem, ValueError) else 403
    status = getattr(problem, "status", fallback)
    text = html.escape(getattr(problem, "message", str(problem)))
    return HTMLResponse(f'<h1>{status}</h1><p id="message">{text}</p><p><a href="/ui">incidents</a></p>', status)


@router.get("/ui/links/{token}", response_class=HTMLResponse, response_model=None)
def link_page(request: Request, token: str) -> Response:
    """A signed link from a notice: the action, its impact preview and a confirm button (nothing acts yet)."""
    from server.links import LinkError

    ctx = ctx_of(request)
    me, cookie = viewer(ctx, request)
    auth.require_role(me, "approver")
    try:
        claims, doc = _link_context(ctx, token, me)
    except LinkError as problem:
        return _link_refused(problem)
    with _thread_reader(ctx) as runner:
        preview = impact(runner, claims.incident)
    context = {"inc": doc, "claims": claims, "token": token, "preview": preview, "expires": claims.expires}
    return _page(request, "link.html", context, me, cookie)


@router.post("/ui/links/{token}", response_model=None)
def link_confirm(
    request: Request,
    token: str,
    csrf_token: str = Form(default="", max_length=128),
    reason: str = Form(default="", max_length=2000),
) -> Response:
    """Confirm a signed link: answers once, as the user it was sent to, for the action it names."""
    from server.links import LinkError

    ctx = ctx_of(request)
    me, _cookie = viewer(ctx, request)
    auth.check_post(ctx.settings, request, me, csrf_token)
    auth.require_role(me, "approver")
    try:
        claims, _doc = _link_context(ctx, token, me)
        if not ctx.identity.claim(f"link:{claims.nonce}"):
            raise LinkError(410, "this link was already used")
    except LinkError as problem:
        return _link_refused(problem)
    approved = claims.verdict == "approve"
    try:
        queue_decision(
            ctx, claims.incident, approved=approved, by=me.user, reason=reason or "rejected from a notice link",
            credential=f"link:{claims.nonce}", source="link", action=claims.action,
        )  # fmt: skip
        message = _answer_message(None, claims.verdict, me.user)
    except KeyError:
        return _not_found(claims.incident)
    except (LookupError, ValueError, PermissionError) as exc:
        return _link_refused(exc)
    return RedirectResponse(f"/ui/incidents/{claims.incident}?message={quote(message)}", status_code=303)
