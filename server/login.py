"""The page's login: ``/ui/login`` (password or token), ``/ui/logout``, SSO sessions, refusals.

A login opens a server-side session (:mod:`state.identity`) whose cookie is HttpOnly,
SameSite=Strict, path ``/``, and Secure behind https. The login form itself carries a
CSRF token too (double-submit: a SameSite=Strict cookie and the same value in the form),
so nobody can log a browser into someone else's account. Every login, failed login and
logout is an auth event with the principal, the credential and the source ``page``.
Ten failed logins for one name within 15 minutes refuse further tries for that name
until the window passes.
"""

from __future__ import annotations

import html
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from server import auth
from server.context import ServiceContext

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
FAILED_LOGINS = 10
FAILED_WINDOW_S = 900.0


def ctx_of(request: Request) -> ServiceContext:
    """The service context built in the app's lifespan."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def set_session(response: Response, ctx: ServiceContext, request: Request, cookie: str) -> None:
    """Attach the session cookie (HttpOnly, SameSite=Strict, Secure behind https)."""
    response.set_cookie(
        auth.SESSION_COOKIE, cookie, max_age=int(ctx.settings.server.auth.session_ttl_s), path="/",
        httponly=True, samesite="strict", secure=auth.secure_cookies(ctx.settings, request),
    )  # fmt: skip


def page_principal(ctx: ServiceContext, request: Request) -> tuple[auth.Principal, str | None]:
    """Who looks at the page, and a new session cookie to set when a trusted proxy signed them in.

    A session cookie wins; a bearer token (API clients reading the page) is taken as is; a
    trusted proxy's header opens a session of ours, so the page's forms carry a CSRF token.
    Raises :class:`server.auth.AuthProblem` 401 when there is none of these.
    """
    found = auth.session_principal(ctx, request)
    name = auth.sso_user(ctx, request)
    if found is not None and (name is None or name.lower() == found.user.lower()):
        return found, None
    if name is not None:
        user = ctx.settings.user(name)
        assert user is not None
        ttl = ctx.settings.server.auth.session_ttl_s
        cookie, session = ctx.identity.open_session(user.name, user.page_role, "sso", ttl)
        ctx.identity.record("login", user.name, "sso", "page", header=ctx.settings.server.auth.trusted_header)
        return auth.Principal(user.name, session.role, "sso", "session", session.csrf), cookie  # type: ignore[arg-type]
    return auth.authenticate(ctx, request), None


def viewer(ctx: ServiceContext, request: Request) -> tuple[auth.Principal, str | None]:
    """The page's principal when they may read incidents (webhook credentials may not)."""
    principal, cookie = page_principal(ctx, request)
    if principal.via == "webhook":
        raise auth.AuthProblem(403, "forbidden: a webhook credential can only post alerts")
    return principal, cookie


async def auth_problem(request: Request, problem: auth.AuthProblem) -> Response:
    """The exception handler: JSON for the API; for the page a login redirect (401 on GET) or a short page."""
    if not request.url.path.startswith("/ui"):
        return JSONResponse({"error": problem.message}, status_code=problem.status)
    if problem.status == 401 and request.method == "GET" and not request.url.path.endswith(".png"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ui/login?next={quote(target, safe='')}", status_code=303)
    body = f'<h1>{problem.status}</h1><p>{html.escape(problem.message)}</p><p><a href="/ui/login">log in</a></p>'
    return HTMLResponse(body, status_code=problem.status)


def _login_page(request: Request, next_path: str, message: str = "", status: int = 200) -> Response:
    csrf = secrets.token_urlsafe(24)
    context: dict[str, Any] = {"next": next_path, "csrf": csrf, "message": message, "me": None}
    response = templates.TemplateResponse(request, "login.html", context, status_code=status)
    ctx = ctx_of(request)
    response.set_cookie(
        auth.LOGIN_CSRF_COOKIE, csrf, max_age=1800, path="/ui/login", httponly=True, samesite="strict",
        secure=auth.secure_cookies(ctx.settings, request),
    )  # fmt: skip
    return response


@router.get("/ui/login", response_class=HTMLResponse, response_model=None)
def login_form(request: Request, next: str = "/ui") -> Response:  # noqa: A002 - the query parameter's name
    """The login form: user name and password, or a personal token."""
    ctx = ctx_of(request)
    target = auth.local_path(next)
    if auth.session_principal(ctx, request) is not None:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, target)


def _check_login(ctx: ServiceContext, user: str, password: str, token: str) -> tuple[str, str, str]:
    """(user, role, credential) for a good password or token; AuthProblem 401 otherwise."""
    if token:
        info = ctx.identity.verify_token(token)
        found = ctx.settings.user(info.user) if info else None
        if info is None or found is None:
            raise auth.AuthProblem(401, "unknown, expired or revoked token")
        return found.name, info.role, f"token:{info.id}"
    found = ctx.settings.user(user) if user else None
    # check_password runs the hash even for an unknown user, so timing does not tell who exists
    if not ctx.identity.check_password(user or "-", password) or found is None:
        raise auth.AuthProblem(401, "wrong user name or password")
    return found.name, found.page_role, "password"


@router.post("/ui/login", response_model=None)
def login(
    request: Request,
    user: str = Form(default="", max_length=128),
    password: str = Form(default="", max_length=1024),
    token: str = Form(default="", max_length=256),
    csrf_token: str = Form(default="", max_length=128),
    next: str = Form(default="/ui", max_length=2048),  # noqa: A002 - the form field's name
) -> Response:
    """Log in with a password or a token; opens a session and goes to ``next`` (a local path)."""
    import time

    ctx = ctx_of(request)
    target = auth.local_path(next)
    expected = request.cookies.get(auth.LOGIN_CSRF_COOKIE, "")
    if not auth.same_origin(ctx.settings, request) or not expected or not secrets.compare_digest(expected, csrf_token):
        raise auth.AuthProblem(403, "forbidden: cross-origin login or missing CSRF token (reload the login page)")
    name = (user.strip() or "token").lower()
    if ctx.identity.failures_since(name, time.time() - FAILED_WINDOW_S) >= FAILED_LOGINS:
        return _login_page(request, target, "too many failed logins: try again in 15 minutes", status=429)
    try:
        who, role, credential = _check_login(ctx, user.strip(), password, token.strip())
    except auth.AuthProblem as problem:
        ctx.identity.record("login_failed", name, "token" if token else "password", "page")
        return _login_page(request, target, problem.message, status=401)
    cookie, _session = ctx.identity.open_session(who, role, credential, ctx.settings.server.auth.session_ttl_s)
    ctx.identity.record("login", who, credential, "page", role=role)
    response = RedirectResponse(target, status_code=303)
    set_session(response, ctx, request, cookie)
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE, path="/ui/login")
    return response


@router.post("/ui/logout", response_model=None)
def logout(request: Request, csrf_token: str = Form(default="", max_length=128)) -> Response:
    """End the page session."""
    ctx = ctx_of(request)
    principal = auth.session_principal(ctx, request)
    if principal is not None:
        auth.check_post(ctx.settings, request, principal, csrf_token)
        ctx.identity.close_session(request.cookies.get(auth.SESSION_COOKIE, ""))
        ctx.identity.record("logout", principal.user, principal.credential, "page")
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response
