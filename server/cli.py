"""The service's commands: serve, worker, briefing, executor serve, audit verify, mcp serve|connect, notify stats.

Registered on the root app by cli.py: ``serve``, ``worker`` and ``briefing`` as commands,
``executor``, ``audit``, ``mcp`` and ``notify`` as groups (``add_typer``). Heavy modules (uvicorn,
FastAPI, the graph) are imported inside the commands so the CLI starts fast.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli_common import ConfigOpt, JsonOpt, UsageError, emit_json, err, fail, guarded, load, out

if TYPE_CHECKING:
    from state.config import Settings

EXECUTOR_TOKEN_ENV = "ALERTPILOT_EXECUTOR_TOKEN"
# The applications served over MCP beside the provider servers of tools/mcp.
APPLICATION_SERVERS = {"assistant": "server.assistant"}

mcp_app = typer.Typer(help="Serve alertpilot's tools over MCP.", no_args_is_help=True)
executor_app = typer.Typer(help="The executor service that applies actions on the target host.", no_args_is_help=True)
audit_app = typer.Typer(help="The executor's hash-chained audit log.", no_args_is_help=True)
notify_app = typer.Typer(help="Notification pushes: delivery tracking.", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Intake and API only; run workers apart.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Run the webhook service (intake, incident API, web page, /metrics) with one worker."""
    import logging

    import uvicorn

    from server.app import create_app
    from server.scheduler import validate_schedule

    with guarded():
        settings = load(config)
        if not settings.secret(settings.server.token_env):
            raise UsageError(f"server.token_env: environment variable {settings.server.token_env} is not set")
        if settings.assistant.connect:
            _endpoint(None, settings)
        validate_schedule(settings)
        check_auth(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # proxy_headers off: the peer address must stay the TCP peer, which is what server.auth.trusted_proxies
    # is checked against (uvicorn would otherwise take X-Forwarded-For from 127.0.0.1 as the client).
    app = create_app(settings, run_worker=not no_worker)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)


def check_auth(settings: Settings) -> None:
    """Refuse to start with an auth setting that names an unset variable (one line naming the field)."""
    from server.context import webhook_tokens

    webhook_tokens(settings)
    auth = settings.server.auth
    if auth.link_secret_env and not settings.secret(auth.link_secret_env):
        raise UsageError(f"server.auth.link_secret_env: environment variable {auth.link_secret_env} is not set")
    if auth.trusted_header and not auth.trusted_proxies:
        raise UsageError("server.auth.trusted_proxies: required with trusted_header (the proxies it is taken from)")


def worker(
    name: Annotated[str | None, typer.Option(help="Worker name in the audit trail (default host:pid).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Claim and run incidents from the durable queue until interrupted."""
    import logging
    import signal
    import threading

    from server.worker import open_worker

    with guarded():
        settings = load(config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open_worker(settings, name=name) as running:
        err.print(f"worker {running.name} on {settings.db_url.split('@')[-1]}")
        running.run(stop)


@executor_app.command("serve")
def executor_serve(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8780,
    backend: Annotated[
        str | None, typer.Option(help="dry-run, process, kubernetes or tke (default: executor.backend).")
    ] = None,
    allowed_namespaces: Annotated[
        str | None, typer.Option(help="Comma-separated namespaces it may touch (default: policy.allowed_namespaces).")
    ] = None,
    operations: Annotated[
        str | None, typer.Option(help="Comma-separated operations it runs (default: every mutating operation).")
    ] = None,
    min_replicas: Annotated[
        int | None, typer.Option(help="Floor of a scale's resulting count (default: policy.min_replicas).")
    ] = None,
    max_replicas: Annotated[
        int | None, typer.Option(help="Ceiling of a scale's resulting count (default: policy.max_replicas).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve POST /mcp (executor protocol); the token comes from $ALERTPILOT_EXECUTOR_TOKEN.

    The executor enforces its own policy whatever the agent asks: the operations, the
    namespaces and a scale's resulting replica count.
    """
    with guarded():
        settings = load(config)
        token = settings.secret(EXECUTOR_TOKEN_ENV)
        if not token:
            raise UsageError("ALERTPILOT_EXECUTOR_TOKEN: required (the token clients send as X-Auth-Token)")
        name = backend or settings.executor.backend
        if name == "http":
            raise UsageError("--backend: 'http' is the client side; choose dry-run, process, kubernetes or tke")
        from server.executor_app import build_service, create_app
        from tools.catalog import make_backend, open_world

        try:
            executor = make_backend(name, settings, open_world(settings) if name == "process" else None)
        except (ValueError, FileNotFoundError) as exc:
            raise UsageError(str(exc)) from None
        policy = _executor_policy(settings, executor, allowed_namespaces, operations, min_replicas, max_replicas)
        service = build_service(executor, name, token, settings.home, settings.executor.audit_path, policy)
    import uvicorn

    err.print(f"executor ({name}) on http://{host}:{port}/mcp, audit log {service.audit.path}")
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning")


def _executor_policy(
    settings: Settings, backend: Any, namespaces: str | None, operations: str | None,
    floor: int | None, ceiling: int | None,
) -> Any:  # fmt: skip
    """The executor's own policy from its flags, defaulting to the configured policy's limits."""
    from server.executor_policy import ExecutorPolicy, parse_list
    from state.policy import MUTATING_OPERATIONS

    ops = parse_list(operations) if operations is not None else frozenset(MUTATING_OPERATIONS)
    unknown = sorted(ops - set(MUTATING_OPERATIONS))
    if unknown or not ops:
        raise UsageError(f"--operations: unknown operation {unknown[0]!r}" if unknown else "--operations: empty")
    policy = settings.policy
    low = policy.min_replicas if floor is None else floor
    high = policy.max_replicas if ceiling is None else ceiling
    if low < 0 or high < 1 or low > high:
        raise UsageError(f"--min-replicas/--max-replicas: need 0 <= min <= max and max >= 1, got {low} and {high}")
    allowed = parse_list(namespaces) if namespaces is not None else frozenset(policy.allowed_namespaces)
    return ExecutorPolicy(
        operations=ops, allowed_namespaces=allowed, default_namespace=getattr(backend, "namespace", None),
        min_replicas=low, max_replicas=high,
    )  # fmt: skip


def _recorded_heads(settings: Settings, log: Path) -> list[tuple[int, str]]:
    """The executor heads (seq, hash) alertpilot kept with its attempts, for the device that wrote ``log``."""
    import json

    from state.store import Store

    try:
        with log.open("rb") as handle:
            device = json.loads(handle.readline() or b"{}").get("device")
    except (OSError, ValueError, AttributeError):
        device = None
    store = Store.from_url(settings.db_url)
    try:
        docs = store.documents()
    finally:
        store.engine.dispose()
    heads = []
    for doc in docs:
        for attempt in doc.get("attempts") or []:
            for answer in (attempt.get("result"), attempt.get("undo_result")):
                head = (answer or {}).get("audit") or {}
                if isinstance(head.get("seq"), int) and head.get("device") == device:
                    heads.append((head["seq"], str(head.get("hash"))))
    return heads


@audit_app.command("verify")
def audit_verify(
    file: Annotated[Path, typer.Argument(help="audit.jsonl to check.")],
    store: Annotated[
        bool, typer.Option("--store", help="Also check the heads alertpilot recorded (its configured database).")
    ] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the hash chain and its head; exit 0 intact, 1 edited/removed/reordered/truncated, 2 bad usage."""
    from server.audit_log import verify

    recorded: list[tuple[int, str]] = []
    if store:
        with guarded():
            settings = load(config)
            if file.is_file():
                recorded = _recorded_heads(settings, file)
    verdict = verify(file, recorded)
    if as_json:
        emit_json({"ok": verdict.ok, "records": verdict.records, "problem": verdict.problem})
    elif verdict.ok:
        out.print(f"ok: {verdict.records} records, chain intact")
    else:
        err.print(f"alertpilot: {file}: {verdict.problem}", markup=False)
    if not verdict.ok:
        raise typer.Exit(2 if verdict.problem.startswith("FILE:") else 1)


def _briefing_day(text: str | None, settings: Settings) -> Any:
    from datetime import UTC, date, datetime

    from agents.briefing import local_day

    if text is None:
        return local_day(settings, datetime.now(UTC))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date: expected YYYY-MM-DD, got {text!r}") from None


def _speak_to_wav(text: str, language: str, wav: Path) -> None:
    import subprocess

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise UsageError("--wav: espeak-ng is not installed")
    voice = "cmn" if language == "zh" else "en"
    done = subprocess.run([espeak, "-v", voice, "-w", str(wav), text], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise UsageError(f"--wav: espeak-ng failed: {done.stderr.strip()[:200]}")


def _print_briefing(doc: dict[str, Any]) -> None:
    if doc["status"] == "already_given":
        previous = doc.get("previous") or {}
        out.print(
            f"{doc['user']}: already briefed for {doc['day']} ({previous.get('trigger')} at {previous.get('at')}); "
            "nothing sent (--force to send again)",
            markup=False,
        )
        return
    out.print(doc["speech"], markup=False)
    for path in doc["files"]:
        err.print(f"saved {path}", markup=False)
    for delivery in doc["deliveries"]:
        later = " (kept: tried again later by `serve`)" if delivery["status"] == "retrying" else ""
        err.print(
            f"sent {doc['user']} via {delivery['channel']}: {delivery['status']} {delivery['detail']}{later}",
            markup=False,
        )


def briefing(
    user: Annotated[str | None, typer.Option(help="Only this configured user (default: every user).")] = None,
    day: Annotated[
        str | None, typer.Option("--date", help="Day of the briefing, YYYY-MM-DD (covers the day before).")
    ] = None,
    send: Annotated[bool, typer.Option("--send", help="Send it over the user's channels (once a day).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Send again even if already given that day.")] = False,
    wav: Annotated[Path | None, typer.Option("--wav", help="Also speak it into this WAV file (espeak-ng).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Yesterday's incidents as a spoken-style briefing and Markdown; optionally send it."""
    from agents.brain import ModelConfigError, make_model
    from agents.briefing import BriefingError, give, resolve_user
    from graph.runner import open_reader
    from state.store import Store

    docs: list[dict[str, Any]] = []
    with guarded():
        settings = load(config)
        try:
            when = _briefing_day(day, settings)
            readers = [resolve_user(settings, user)] if user else (settings.readers() or [resolve_user(settings, None)])
            if send and not settings.readers():
                raise UsageError("users: no users configured to send the briefing to")
            model = make_model(settings)
        except (BriefingError, ModelConfigError) as exc:
            raise UsageError(str(exc)) from None
        store = Store.from_url(settings.db_url)
        with open_reader(settings, store) as threads:
            for reader in readers:
                outcome = give(
                    settings, store, reader, when, trigger="cli", send=send, force=force, gated=send,
                    model=model, calls_for=threads.tool_calls,
                )  # fmt: skip
                docs.append(outcome.document())
        spoken = next((d["speech"] for d in docs if d.get("speech")), None)
        if wav is not None and spoken:
            _speak_to_wav(spoken, settings.language, wav)
    if as_json:
        emit_json(docs[0] if len(docs) == 1 else docs)
    else:
        for doc in docs:
            _print_briefing(doc)
    failed = any(d["status"] in ("failed", "retrying") for doc in docs for d in doc["deliveries"])
    raise typer.Exit(1 if failed else 0)


def _endpoint(given: str | None, settings: Settings) -> str:
    """The endpoint URL: ``--endpoint``, else the variable ``assistant.endpoint_env`` names."""
    env_name = settings.assistant.endpoint_env
    url = given or settings.secret(env_name)
    if not url:
        raise UsageError(f"assistant.endpoint_env: environment variable {env_name} is not set (or pass --endpoint)")
    if not url.startswith(("ws://", "wss://")):
        from server.bridge import redact

        where = "--endpoint" if given else f"assistant.endpoint_env ({env_name})"
        raise UsageError(f"{where}: expected a ws:// or wss:// URL, got {redact(url)!r}")
    return url


@mcp_app.command("connect")
def mcp_connect(
    name: Annotated[str, typer.Argument(help="The stdio server to pipe (assistant).")],
    endpoint: Annotated[
        str | None,
        typer.Option(help="wss://.../mcp/?token=... (default: the variable assistant.endpoint_env names)."),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Pipe an MCP server to Xiaozhi's MCP endpoint (WebSocket), reconnecting until SIGTERM."""
    import logging

    from server.bridge import BridgeOptions, child_command, redact, run_bridge
    from state.config import find_config
    from tools.mcp import SERVERS

    with guarded():
        settings = load(config)
        known = {**SERVERS, **APPLICATION_SERVERS}
        if name not in known:
            raise UsageError(f"NAME: unknown MCP server {name!r} (one of {', '.join(sorted(known))})")
        url = _endpoint(endpoint, settings)
        path = find_config(config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    assistant = settings.assistant
    import os

    quiet = {"FASTMCP_LOG_LEVEL": os.environ.get("FASTMCP_LOG_LEVEL", "WARNING")}  # not a line per request
    options = BridgeOptions(
        endpoint=url, command=child_command(name, str(path.resolve()) if path else None), env={**os.environ, **quiet},
        ping_interval_s=assistant.ping_interval_s, ping_timeout_s=assistant.ping_timeout_s,
        reconnect_max_s=assistant.reconnect_max_s,
    )  # fmt: skip
    err.print(f"piping `mcp serve {name}` to {redact(url)}", markup=False)
    raise typer.Exit(run_bridge(options))


@mcp_app.command("serve")
def mcp_serve(
    name: Annotated[str, typer.Argument(help="Server: see tools/mcp SERVERS.")],
    transport: Annotated[str, typer.Option(help="stdio or http (streamable HTTP).")] = "stdio",
    host: Annotated[str, typer.Option(help="HTTP bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8765,
    config: ConfigOpt = None,
) -> None:
    """Serve one of alertpilot's MCP servers (stdio for assistants, http for agents)."""
    from tools.mcp import SERVERS, build_server

    if transport not in ("stdio", "http"):
        raise fail(f"--transport: expected stdio or http, got {transport!r}")
    with guarded():
        settings = load(config)
        try:
            server = build_server(name, settings, {**SERVERS, **APPLICATION_SERVERS})
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if transport == "stdio":
        server.run("stdio")
        return
    server.settings.host = host
    server.settings.port = port
    server.run("streamable-http")


def _since(text: str | None) -> Any:
    import re
    from datetime import timedelta

    from state.store import utcnow

    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhd])\s*", text)
    if not match:
        raise UsageError(f"--since: expected a duration such as 30m, 24h or 7d, got {text!r}")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return utcnow() - timedelta(**{unit: float(match.group(1))})


@notify_app.command("stats")
def notify_stats(
    since: Annotated[str | None, typer.Option(help="Only pushes started this long ago or later: 30m, 24h, 7d.")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delivery success rate per channel: delivered, retrying, failed, attempts and the last error."""
    from state.delivery import Ledger
    from state.store import Store

    with guarded():
        settings = load(config)
        start = _since(since)
        stats = Ledger(Store.from_url(settings.db_url)).stats(since=start)
    if as_json:
        emit_json({"since": start.isoformat() if start else None, "channels": stats})
        return
    if not stats:
        out.print("no pushes recorded" + (f" since {start:%Y-%m-%d %H:%M} UTC" if start else ""))
        return
    heads = f"{'delivered':>9} {'retrying':>8} {'failed':>6} {'success':>8} {'attempts':>8}"
    out.print(f"{'channel':<10} {heads}  last error")
    for channel, entry in stats.items():
        rate = "-" if entry["success_rate"] is None else f"{entry['success_rate'] * 100:.1f}%"
        out.print(
            f"{channel:<10} {entry['delivered']:>9} {entry['retrying']:>8} {entry['failed']:>6} {rate:>8} "
            f"{entry['attempts']:>8}  {entry['last_error'][:60]}",
            markup=False,
        )
