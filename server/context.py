"""What the service's request handlers share, built once in the app's lifespan."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from server.metrics import Metrics
from state.config import ConfigError, Settings
from state.queue import Queue
from state.store import Store

TOKEN_COOKIE = "alertpilot_token"


@dataclass
class ServiceContext:
    """Settings, store, queue, metrics and the secrets the handlers check."""

    settings: Settings
    store: Store
    queue: Queue
    metrics: Metrics
    token: str
    hmac_key: str | None

    @classmethod
    def build(cls, settings: Settings) -> ServiceContext:
        """Open the store and queue; refuse to run without a webhook token."""
        token = settings.secret(settings.server.token_env)
        if not token:
            raise ConfigError(f"server.token_env: environment variable {settings.server.token_env} is not set")
        store = Store.from_url(settings.db_url)
        queue = Queue(store.engine)
        return cls(
            settings=settings,
            store=store,
            queue=queue,
            metrics=Metrics(store, queue),
            token=token,
            hmac_key=settings.secret(settings.server.hmac_secret_env) or token,
        )


def presented_token(request: Request) -> str | None:
    """The token a request carries: bearer header, ``?token=``, or the web UI's cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("token") or request.cookies.get(TOKEN_COOKIE)


def authorized(request: Request, token: str) -> bool:
    """Whether the request carries the service token (constant-time compare)."""
    given = presented_token(request)
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def queue_decision(ctx: ServiceContext, incident_id: str, *, approved: bool, by: str, reason: str) -> dict[str, Any]:
    """Check an answer to a pending approval (:func:`server.decisions.decide`) and queue it for a worker.

    Raises KeyError (no incident), LookupError (not waiting), ValueError (bad field) and
    PermissionError (the approver may not roll back) instead of queueing.
    """
    from server.decisions import Verdict, decide, queue_for_worker

    return decide(
        ctx.settings, ctx.store, Verdict(incident_id, approved, by, reason), queue_for_worker(ctx.queue, ctx.store)
    )
