"""People's credentials over HTTP, for an admin: list users, create and revoke tokens.

The same rules as ``alertpilot users`` (server/users_cli.py), which imports them from here:
:func:`person` (who may hold a credential) and :func:`token_doc` (what is shown of a token).
Every change is an auth event naming the admin, their credential and the source ``api``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from server import auth
from server.context import ServiceContext
from state.config import Role, Settings, UserConfig
from state.identity import Identity, TokenInfo

router = APIRouter()


class CredentialError(ValueError):
    """A credential that may not be made; the message names the field."""


def person(settings: Settings, name: str) -> UserConfig:
    """The configured user ``name`` who may hold a credential (the agent's own account may not)."""
    user = settings.user(name)
    if user is None:
        raise CredentialError(f"NAME: no user {name!r} under users: in the config")
    if user.name.lower() == settings.acting_user.lower():
        raise CredentialError(f"NAME: {user.name!r} is the agent's own account (acting_user); people get their own")
    return user


def when(epoch: float | None) -> str:
    """An epoch time as ISO 8601 UTC, ``-`` for none."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds") if epoch else "-"


def token_doc(info: TokenInfo, now: float) -> dict[str, Any]:
    """What is shown of a token (never its secret)."""
    return {
        "id": info.id, "user": info.user, "role": info.role, "state": info.state(now),
        "created_at": when(info.created_at), "expires_at": when(info.expires_at),
        "last_used_at": when(info.last_used_at),
    }  # fmt: skip


def users_doc(settings: Settings, identity: Identity) -> list[dict[str, Any]]:
    """Configured users with role, permission, speaker, whether a password is set, and their tokens."""
    now = time.time()
    tokens = identity.tokens()
    return [
        {
            "name": u.name, "email": u.email, "role": u.page_role, "rollback_permission": u.rollback_permission,
            "speaker": u.speaker, "password": identity.has_password(u.name),
            "agent": u.name.lower() == settings.acting_user.lower(),
            "tokens": [token_doc(t, now) for t in tokens if t.user.lower() == u.name.lower()],
        }
        for u in settings.users
    ]  # fmt: skip


class NewToken(BaseModel):
    """Body of ``POST /users/{name}/tokens``."""

    model_config = {"extra": "forbid"}

    role: Role = "viewer"
    expires_days: float | None = Field(default=None, gt=0, le=3650)


def _ctx(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def _admin(request: Request) -> auth.Principal:
    """Dependency: an admin's credential (checked before the body), CSRF-checked for a page session."""
    ctx = _ctx(request)
    principal = auth.require(ctx, request, "admin")
    if request.method != "GET":
        auth.check_post(ctx.settings, request, principal, request.headers.get("x-csrf-token"))
    return principal


Admin = Annotated[auth.Principal, Depends(_admin)]


@router.get("/users", response_model=None)
def list_users(request: Request, _: Admin) -> Any:
    """Configured users and their tokens (an admin)."""
    ctx = _ctx(request)
    return users_doc(ctx.settings, ctx.identity)


@router.post(
    "/users/{name}/tokens", response_model=None, status_code=201,
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": NewToken.model_json_schema()}}}},
)  # fmt: skip
async def create_token(request: Request, name: str, admin: Admin) -> Any:
    """Create a token for ``name``; the answer carries it once (the body is read after the credential check)."""
    from server.webhooks import HttpProblem, read_model

    try:
        body = await read_model(request, NewToken, limit=4096)
    except HttpProblem as problem:
        return problem.response()
    return await run_in_threadpool(_create, _ctx(request), name, body, admin)


def _create(ctx: ServiceContext, name: str, body: NewToken, admin: auth.Principal) -> JSONResponse:
    try:
        user = person(ctx.settings, name)
    except CredentialError as exc:
        return JSONResponse({"error": str(exc).replace("NAME", "name"), "field": "name"}, status_code=404)
    plain, info = ctx.identity.create_token(user.name, body.role, body.expires_days)
    ctx.identity.record("token_created", admin.user, admin.credential, "api", user=user.name, token=info.id,
                        role=body.role, expires_at=when(info.expires_at))  # fmt: skip
    return JSONResponse({**token_doc(info, time.time()), "token": plain}, status_code=201)


@router.delete("/users/tokens/{token_id}", response_model=None)
def revoke_token(request: Request, token_id: str, admin: Admin) -> Any:
    """Revoke a token at once (and the page sessions opened with it)."""
    ctx = _ctx(request)
    info = ctx.identity.revoke_token(token_id)
    if info is None:
        return JSONResponse({"error": f"no token {token_id}"}, status_code=404)
    ctx.identity.record("token_revoked", admin.user, admin.credential, "api", user=info.user, token=info.id)
    return token_doc(info, time.time())
