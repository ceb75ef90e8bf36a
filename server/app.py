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

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from server import web, webhooks
from server.context import ServiceContext, authorized, queue_decision
from state.config import Settings

log = logging.getLogger("alertpilot.server")


class Decision(BaseModel):
    """Body of an approve/reject call."""

    by: str | None = Field(default=None, description="Who decides (defaults to the configured acting user).")
    reason: str = ""


def _threads(
    settings: Settings, ctx: ServiceContext, run_worker: bool, stop: threading.Event
) -> list[threading.Thread]:
    from server.scheduler import Scheduler

    scheduler = Scheduler(settings, ctx.store)  # validates schedule: before anything starts
    threads = [threading.Thread(target=scheduler.run, args=(stop,), name="scheduler", daemon=True)]
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

    app = FastAPI(title="alertpilot", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(webhooks.router)
    app.include_router(web.router)
    _api_routes(app)
    return app


def _ctx(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _api_routes(app: FastAPI) -> None:  # noqa: C901 - a flat list of small route functions
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

    @app.get("/dead-letters", response_model=None)
    def dead_letters(request: Request, limit: int = 100) -> Any:
        """Queue items no worker could process, newest first, with the reason."""
        from state.queue_health import QueueHealth

        ctx = _ctx(request)
        if not authorized(request, ctx.token):
            return _problem(401, "unauthorized")
        return QueueHealth(ctx.store.engine).dead_letters(limit=max(1, min(limit, 1000)))

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        """Prometheus exposition of the service's metrics."""
        body = await run_in_threadpool(generate_latest, _ctx(request).metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/incidents", response_model=None)
    def incidents(request: Request, status: str | None = None, limit: int = 100) -> Any:
        """Incident summaries, newest first."""
        ctx = _ctx(request)
        if not authorized(request, ctx.token):
            return _problem(401, "unauthorized")
        return ctx.store.list(status=status, limit=max(1, min(limit, 1000)))

    @app.get("/incidents/{incident_id}", response_model=None)
    def incident(request: Request, incident_id: str) -> Any:
        """The incident document plus its audit trail."""
        ctx = _ctx(request)
        if not authorized(request, ctx.token):
            return _problem(401, "unauthorized")
        doc = ctx.store.get(incident_id)
        if doc is None:
            return _problem(404, f"no incident {incident_id}")
        doc["audit"] = ctx.store.audit_trail(incident_id)
        return doc

    def decide(request: Request, incident_id: str, body: Decision | None, approved: bool) -> Any:
        ctx = _ctx(request)
        if not authorized(request, ctx.token):
            return _problem(401, "unauthorized")
        body = body or Decision()
        try:
            result = queue_decision(
                ctx, incident_id, approved=approved, by=body.by or ctx.settings.acting_user, reason=body.reason
            )
        except KeyError:
            return _problem(404, f"no incident {incident_id}")
        except PermissionError as exc:
            return _problem(403, str(exc))
        except LookupError as exc:
            return _problem(409, str(exc))
        except ValueError as exc:
            return _problem(422, str(exc))
        return JSONResponse(result, status_code=202)

    @app.post("/incidents/{incident_id}/approve", response_model=None)
    def approve(request: Request, incident_id: str, body: Decision | None = None) -> Any:
        """Approve the action the incident waits on (a worker applies it)."""
        return decide(request, incident_id, body, True)

    @app.post("/incidents/{incident_id}/reject", response_model=None)
    def reject(request: Request, incident_id: str, body: Decision | None = None) -> Any:
        """Reject the action the incident waits on; ``reason`` is required."""
        return decide(request, incident_id, body, False)
