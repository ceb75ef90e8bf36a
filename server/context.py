"""What the service's request handlers share, built once in the app's lifespan."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from server.metrics import Metrics
from state.config import ConfigError, Settings
from state.identity import Identity
from state.queue import Queue
from state.store import Store


@dataclass
class ServiceContext:
    """Settings, store, queue, metrics and the secrets the handlers check."""

    settings: Settings
    store: Store
    queue: Queue
    metrics: Metrics
    token: str
    hmac_key: str | None
    identity: Identity = field(init=False)
    webhook_tokens: dict[str, str] = field(default_factory=dict)  # source -> its own token (else ``token``)

    def __post_init__(self) -> None:
        self.identity = Identity(self.store)

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
            webhook_tokens=webhook_tokens(settings),
        )


def webhook_tokens(settings: Settings) -> dict[str, str]:
    """Each source's own webhook token (``server.auth.webhook_tokens``); a named variable must be set."""
    tokens: dict[str, str] = {}
    for source, env_name in settings.server.auth.webhook_tokens.items():
        value = settings.secret(env_name)
        if not value:
            raise ConfigError(f"server.auth.webhook_tokens.{source}: environment variable {env_name} is not set")
        tokens[source] = value
    return tokens


def presented_token(request: Request) -> str | None:
    """The token a webhook sender presents: bearer header or ``?token=`` (Tencent's callback can send no header)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("token")


def webhook_authorized(request: Request, ctx: ServiceContext, source: str) -> bool:
    """Whether the request carries ``source``'s webhook token: its own, else the default (constant time)."""
    given = presented_token(request)
    token = ctx.webhook_tokens.get(source, ctx.token)
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def queue_decision(
    ctx: ServiceContext, incident_id: str, *, approved: bool, by: str, reason: str, credential: str, source: str,
    action: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Check an answer to a pending approval (:func:`server.decisions.decide`) and queue it for a worker.

    ``by`` is the authenticated principal and ``credential``/``source`` say how they
    authenticated (audited). Raises KeyError (no incident), LookupError (not waiting;
    ``Conflict`` when already answered or the action changed), ValueError (bad field) and
    PermissionError (the approver may not roll back) instead of queueing.
    """
    from server.decisions import Verdict, decide, queue_for_worker

    verdict = Verdict(incident_id, approved, by, reason, credential=credential, source=source, action=action)
    return decide(ctx.settings, ctx.store, verdict, queue_for_worker(ctx.queue, ctx.store))
