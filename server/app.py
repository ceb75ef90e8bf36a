"""The alertpilot service: webhooks, incident API, approvals, web timeline, /metrics.

Settings are loaded once (by the CLI, or here in the lifespan) and everything the
handlers use is built in the lifespan: the store, the queue, metrics, and, unless
disabled, `serve`'s own worker (a child process, see server/worker_process.py, or a
thread with `server.worker_mode: thread`) and the scheduler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from server import auth, login, stats_api, users_api, web, webhooks
from server.context import ServiceContext, queue_decision
from state.config import Settings

log = logging.getLogger("alertpilot.server")


class Decision(BaseModel):
    """Body of an approve/reject call (optional for approve); who decides is the credential's user."""

    model_config = {"extra": "forbid"}

    by: str | None = Field(default=None, description="Must name the authenticated user when given (else 400).")
    reason: str = Field(default="", max_length=2000)
    action: str | None = Field(default=None, description="The action_hash the caller was shown (else any).")


DECISION_BODY = {"requestBody": {"content": {"application/json": {"schema": Decision.model_json_schema()}}}}


def _threads(
    settings: Settings, ctx: ServiceContext, run_worker: bool, stop: threading.Event
) -> list[threading.Thread]:
    from server.scheduler import Scheduler

    scheduler = Scheduler(settings, ctx.store)  # validates schedule: before anything starts
    threads = [threading.Thread(target=scheduler.run, args=(stop,), name="scheduler", daemon=True)]
    if settings.assistant.connect:  # Xiaozhi's MCP endpoint, through `mcp connect assistant` as a child
        from server.bridge import supervise_bridge

        threads.append(threading.Thread(target=supervise_bridge, args=(settings, stop), name="bridge", daemon=True))
    if run_worker and settings.server.worker_mode == "process":
        from server.supervise import supervise
        from server.worker_process import WorkerProcess

        def children() -> None:  # each child's life is this thread's: started, restarted, stopped on ``stop``
            supervise(
                lambda: WorkerProcess(settings, ctx.metrics), stop, lambda _code: ctx.metrics.worker_restarts.inc()
            )

        threads.append(threading.Thread(target=children, name="worker-process", daemon=True))
    elif run_worker:

        def work() -> None:
            from server.worker import open_worker

            with open_worker(settings, metrics=ctx.metrics) as worker:
                worker.run(stop)

        threads.append(threading.Thread(target=work, name="worker", daemon=True))
    return threads


def create_app(
    settings: Settings | None = None,
    *,
    run_worker: bool = True,
    load: Callable[[], Settings] | None = None,
) -> FastAPI:
    """The FastAPI app; ``settings`` (or ``load()`` in the lifespan) is read exactly once."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from state.config import load_settings

        loaded = settings or (load or load_settings)()
        from server.redact import install_for

        install_for(loaded)  # every logger of the service redacts the configured secrets
        ctx = ServiceContext.build(loaded)
        stop = threading.Event()
        threads = _threads(loaded, ctx, run_worker, stop)
        for thread in threads:
            thread.start()
        app.state.ctx = ctx
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=20)
            ctx.store.engine.dispose()

    app = FastAPI(title="alertpilot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(auth.AuthProblem, web.auth_problem)  # type: ignore[arg-type]
    app.include_router(webhooks.router)
    app.include_router(login.router)
    app.include_router(web.router)
    app.include_router(users_api.router)
    app.include_router(stats_api.router)
    _api_routes(app)
    _decision_routes(app)
    return app


def _ctx(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _guarded_metrics(request: Request) -> None:
    """``server.auth.protect_metrics``: /metrics and /openapi.json need a viewer credential."""
    ctx = _ctx(request)
    if ctx.settings.server.auth.protect_metrics:
        auth.require(ctx, request, "viewer")


def _api_routes(app: FastAPI) -> None:  # noqa: C901 - a flat list of small route functions
    @app.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request) -> JSONResponse:
        """The OpenAPI schema (behind a viewer credential with ``server.auth.protect_metrics``)."""
        _guarded_metrics(request)
        return JSONResponse(app.openapi())

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        """The process answers (a liveness probe: restarting serve would not revive a dead worker)."""
        return {"status": "ok"}

    @app.get("/healthz", response_model=None)
    async def healthz(request: Request) -> JSONResponse:
        """200 while a worker's heartbeat is current, else 503; with the queue's depth (server/health.py)."""
        from server.health import health
        from state.queue_health import QueueHealth

        ctx = _ctx(request)
        status, body = await run_in_threadpool(health, ctx.queue, QueueHealth(ctx.store.engine))
        return JSONResponse(body, status_code=status)

    @app.get("/dead-letters", response_model=None, dependencies=[Depends(_viewer)])
    def dead_letters(request: Request, limit: int = 100) -> Any:
        """Queue items no worker could process, newest first, with the reason."""
        from state.queue_health import QueueHealth

        return QueueHealth(_ctx(request).store.engine).dead_letters(limit=max(1, min(limit, 1000)))

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        """Prometheus exposition of the service's metrics."""
        await run_in_threadpool(_guarded_metrics, request)
        body = await run_in_threadpool(generate_latest, _ctx(request).metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/incidents", response_model=None, dependencies=[Depends(_viewer)])
    def incidents(request: Request, status: str | None = None, limit: int = 100) -> Any:
        """Incident summaries, newest first (a viewer credential)."""
        ctx = _ctx(request)
        return ctx.store.list(status=status, limit=max(1, min(limit, 1000)))

    @app.get("/incidents/{incident_id}", response_model=None, dependencies=[Depends(_viewer)])
    def incident(request: Request, incident_id: str) -> Any:
        """The incident document plus its audit trail (a viewer credential)."""
        ctx = _ctx(request)
        doc = ctx.store.get(incident_id)
        if doc is None:
            return _problem(404, f"no incident {incident_id}")
        doc["audit"] = ctx.store.audit_trail(incident_id)
        return doc


def _viewer(request: Request) -> auth.Principal:
    """Dependency: a viewer credential, checked before any parameter is validated."""
    return auth.require(_ctx(request), request, "viewer")


def _decision_routes(app: FastAPI) -> None:
    async def answer(request: Request, incident_id: str, approved: bool) -> Any:
        ctx = _ctx(request)
        principal = await run_in_threadpool(auth.require, ctx, request, "approver")
        auth.check_post(ctx.settings, request, principal, request.headers.get("x-csrf-token"))
        try:
            body = await webhooks.read_model(request, Decision)
        except webhooks.HttpProblem as problem:
            return problem.response()
        if body.by is not None and body.by.strip().lower() != principal.user.lower():
            return _problem(400, f"by: {body.by!r} is not the authenticated user {principal.user!r}")
        return await run_in_threadpool(_queue_answer, ctx, principal, incident_id, approved, body)

    @app.post("/incidents/{incident_id}/approve", response_model=None, openapi_extra=DECISION_BODY)
    async def approve(request: Request, incident_id: str) -> Any:
        """Approve the action the incident waits on as the authenticated approver (a worker applies it)."""
        return await answer(request, incident_id, True)

    @app.post("/incidents/{incident_id}/reject", response_model=None, openapi_extra=DECISION_BODY)
    async def reject(request: Request, incident_id: str) -> Any:
        """Reject the action the incident waits on; ``reason`` is required."""
        return await answer(request, incident_id, False)


def _queue_answer(
    ctx: ServiceContext, principal: auth.Principal, incident_id: str, approved: bool, body: Decision
) -> JSONResponse:
    from server.decisions import Conflict

    try:
        result = queue_decision(
            ctx, incident_id, approved=approved, by=principal.user, reason=body.reason,
            credential=principal.credential, source="api", action=body.action,
        )  # fmt: skip
    except KeyError:
        return _problem(404, f"no incident {incident_id}")
    except PermissionError as exc:
        return _problem(403, str(exc))
    except Conflict as exc:
        return _problem(409, str(exc))
    except LookupError as exc:
        return _problem(409, str(exc))
    except ValueError as exc:
        return _problem(422, str(exc))
    return JSONResponse(result, status_code=202)
