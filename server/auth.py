"""Who is asking: the one place a request's credential becomes a principal with a role.

Threat model (issue 21): the webhook token sits in Alertmanager's, Tencent's and CLS's
configuration, so it only posts alerts; people act with their own credentials, and the
approver is always the authenticated principal, never a name a request carries. A
request authenticates with exactly one of:

- ``Authorization: Bearer <user token>`` (``apt_<id>_<secret>``, :mod:`state.identity`);
- the page's session cookie (HttpOnly, SameSite=Strict, Secure behind https), whose
  unsafe requests must also carry the session's CSRF token and come from our own origin;
- ``server.auth.trusted_header`` set by a reverse proxy (oauth2-proxy, Pomerium), taken
  only when the TCP peer is one of ``server.auth.trusted_proxies``; on the page it opens
  a session of ours, so forms still carry a CSRF token.

A webhook token presented anywhere but a webhook is recognised and refused with 403. No
credential is read from a URL here (the webhooks' ``?token=`` is theirs alone).
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from fastapi import Request

from server.context import ServiceContext
from state.config import Role, Settings

SESSION_COOKIE = "alertpilot_session"
LOGIN_CSRF_COOKIE = "alertpilot_login_csrf"
RANK = {"viewer": 1, "approver": 2, "admin": 3}
Via = Literal["token", "session", "sso", "webhook"]


class AuthProblem(Exception):
    """A request the credential check refuses: 401 (no usable credential) or 403 (not allowed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user: str
    role: Role
    credential: str  # token:<id> | password | sso | webhook:<source>
    via: Via
    csrf: str | None = None  # the session's CSRF token (session logins only)

    def may(self, role: Role) -> bool:
        """Whether this principal holds ``role`` or a higher one (webhook credentials hold none)."""
        return self.via != "webhook" and RANK[self.role] >= RANK[role]


def bearer(request: Request) -> str | None:
    """The bearer token of the Authorization header, if any."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def webhook_source(ctx: ServiceContext, presented: str) -> str | None:
    """Which webhook credential ``presented`` is (``default`` or a source name), or None."""
    for source, token in ctx.webhook_tokens.items():
        if hmac.compare_digest(presented.encode(), token.encode()):
            return source
    return "default" if hmac.compare_digest(presented.encode(), ctx.token.encode()) else None


def peer_trusted(settings: Settings, request: Request) -> bool:
    """Whether the TCP peer is a configured proxy (``server.auth.trusted_proxies``)."""
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.server.auth.trusted_proxies)


def _from_token(ctx: ServiceContext, presented: str) -> Principal:
    source = webhook_source(ctx, presented)
    if source is not None:
        return Principal(f"webhook:{source}", "viewer", f"webhook:{source}", "webhook")
    info = ctx.identity.verify_token(presented)
    if info is None:
        raise AuthProblem(401, "unauthorized: unknown, expired or revoked token")
    user = ctx.settings.user(info.user)
    if user is None:
        raise AuthProblem(401, f"unauthorized: {info.user!r} is no longer a configured user")
    return Principal(user.name, info.role, f"token:{info.id}", "token")  # type: ignore[arg-type]


def session_principal(ctx: ServiceContext, request: Request) -> Principal | None:
    """The principal of the page session cookie, if it names a live session of a configured user."""
    cookie = request.cookies.get(SESSION_COOKIE)
    found = ctx.identity.session(cookie) if cookie else None
    if found is None or ctx.settings.user(found.user) is None:
        return None
    return Principal(found.user, found.role, found.credential, "session", found.csrf)  # type: ignore[arg-type]


def sso_user(ctx: ServiceContext, request: Request) -> str | None:
    """The configured user a trusted proxy's header names (None: no header, untrusted peer, unknown user)."""
    header = ctx.settings.server.auth.trusted_header
    if not header or not peer_trusted(ctx.settings, request):
        return None
    user = ctx.settings.login_user(request.headers.get(header, ""))
    return user.name if user else None


def authenticate(ctx: ServiceContext, request: Request) -> Principal:
    """The request's principal; raises :class:`AuthProblem` 401 when it carries no usable credential."""
    presented = bearer(request)
    if presented:
        return _from_token(ctx, presented)
    found = session_principal(ctx, request)
    if found is not None:
        return found
    name = sso_user(ctx, request)
    if name is not None:
        user = ctx.settings.user(name)
        assert user is not None
        return Principal(user.name, user.page_role, "sso", "sso")
    raise AuthProblem(401, "unauthorized: send Authorization: Bearer <your token>, or log in at /ui/login")


def require_role(principal: Principal, role: Role) -> Principal:
    """``principal`` if it holds ``role``; 403 for webhook credentials and lower roles."""
    if principal.via == "webhook":
        raise AuthProblem(403, "forbidden: a webhook credential can only post alerts")
    if not principal.may(role):
        raise AuthProblem(403, f"forbidden: {principal.user} is a {principal.role}; this needs {role}")
    return principal


def require(ctx: ServiceContext, request: Request, role: Role) -> Principal:
    """The request's principal, if it holds ``role`` (401 without a credential, 403 below ``role``)."""
    return require_role(authenticate(ctx, request), role)


def own_origins(settings: Settings, request: Request) -> set[str]:
    """The origins a page's own form posts come from: this request's host and ``server.auth.public_url``."""
    origins = {f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"}
    if settings.server.auth.public_url:
        parts = urlsplit(settings.server.auth.public_url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def same_origin(settings: Settings, request: Request) -> bool:
    """Whether an unsafe request comes from our own pages (Origin, else Referer, else Sec-Fetch-Site)."""
    origin = request.headers.get("origin")
    if origin is None and request.headers.get("referer"):
        parts = urlsplit(request.headers["referer"])
        origin = f"{parts.scheme}://{parts.netloc}"
    if origin is not None:
        return origin in own_origins(settings, request)
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def check_post(settings: Settings, request: Request, principal: Principal, csrf: str | None) -> None:
    """Refuse a cookie-borne unsafe request that is cross-origin or lacks the session's CSRF token.

    Bearer-token requests carry no ambient credential, so a forged cross-site request
    cannot carry one either: they need neither check.
    """
    if principal.via == "token":
        return
    if not same_origin(settings, request):
        raise AuthProblem(403, "forbidden: cross-origin request")
    if principal.csrf is None or not csrf or not hmac.compare_digest(csrf.encode(), principal.csrf.encode()):
        raise AuthProblem(403, "forbidden: missing or wrong CSRF token (reload the page)")


def secure_cookies(settings: Settings, request: Request) -> bool:
    """Whether cookies get ``Secure``: https here, https at a trusted proxy, or an https public URL."""
    if request.url.scheme == "https" or (settings.server.auth.public_url or "").startswith("https://"):
        return True
    return peer_trusted(settings, request) and request.headers.get("x-forwarded-proto", "") == "https"


def local_path(target: str | None, default: str = "/ui") -> str:
    """``target`` when it is a path on this site (no open redirect), else ``default``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
