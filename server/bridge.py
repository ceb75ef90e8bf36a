"""``alertpilot mcp connect NAME --endpoint URL``: pipe a stdio MCP server to Xiaozhi's MCP endpoint.

Xiaozhi reaches external tools through an *MCP endpoint*: a WebSocket URL with a token
(``wss://.../mcp/?token=...``). The tool side dials out; the endpoint then acts as the MCP
client (``initialize``, ``notifications/initialized``, ``tools/list``, ``tools/call``), one
JSON-RPC message per text frame, and drops the connection now and then. This bridge keeps
one stdio server (``alertpilot mcp serve NAME``) running across connections, so who is
speaking and what waits for their confirmation survive a drop, and:

- reconnects with exponential backoff and jitter (reset once a connection held a while,
  so an endpoint that accepts and drops at once is not hammered) and keeps each
  connection alive with WebSocket pings;
- renumbers the endpoint's request ids per connection, so an answer that arrives after
  its connection dropped never reaches the next connection under a colliding id. A
  ``tools/call`` cut off that way finishes in the server; when the endpoint asks the very
  same call again soon after reconnecting (Xiaozhi retries), it gets that answer instead
  of running the call twice (an approval or an email happens once);
- restarts the stdio server if it dies, and replays the endpoint's ``initialize`` to it;
- never logs the token (every URL and error is redacted), and exits cleanly on SIGTERM:
  the WebSocket is closed with 1001 and the stdio server ends on the end of its input.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("alertpilot.bridge")
MAX_FRAME = 4 * 1024 * 1024
REFUSED = (401, 403)  # the endpoint does not take this token: retrying cannot help


def redact(url: str) -> str:
    """``url`` with every query value and any password replaced by ``***`` (tokens ride in the query)."""
    parts = urllib.parse.urlsplit(url)
    query = "&".join(f"{k}=***" for k, _v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def secrets_of(url: str) -> list[str]:
    """The strings of ``url`` that must never be logged: query values and the password."""
    parts = urllib.parse.urlsplit(url)
    values = [v for _k, v in urllib.parse.parse_qsl(parts.query) if len(v) >= 4]
    return values + ([parts.password] if parts.password else [])


@dataclass
class Backoff:
    """Exponential backoff with equal jitter: the n-th wait is in [b/2, b], b = min(maximum, initial * 2^n)."""

    initial: float = 1.0
    maximum: float = 120.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next(self) -> float:
        """The wait before the next try (and count this failure)."""
        base = min(self.maximum, self.initial * 2**self.failures)
        self.failures += 1
        return base / 2 + self.rng.uniform(0, base / 2)

    def reset(self) -> None:
        """Start over after a success."""
        self.failures = 0


@dataclass
class _Pending:
    conn: int
    original_id: Any
    method: str
    key: str | None  # tools/call: its name and arguments, to recognise the same call asked again
    waiter: tuple[int, Any] | None = None  # the same call asked on a later connection


@dataclass
class Calls:
    """Request ids between the endpoint's connections and the one stdio server (pure: no I/O).

    Requests from the endpoint get bridge ids; the server's answers go back under the
    endpoint's id, on the connection that asked, or nowhere. A ``tools/call`` whose
    connection dropped keeps its answer for ``orphan_ttl_s`` to give to the same call
    asked again.
    """

    orphan_ttl_s: float = 120.0
    clock: Callable[[], float] = time.monotonic
    current: int | None = None
    _next_id: int = 0
    _pending: dict[int, _Pending] = field(default_factory=dict)
    _orphans: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)

    def connected(self, conn: int) -> None:
        """A new endpoint connection is the one answers go to."""
        self.current = conn

    def dropped(self) -> None:
        """The endpoint connection is gone; answers to it are kept (tools/call) or dropped."""
        self.current = None

    def _fresh_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def internal(self, method: str, params: Any) -> dict[str, Any]:
        """A request of the bridge's own (a replayed ``initialize``) whose answer nobody receives."""
        bid = self._fresh_id()
        self._pending[bid] = _Pending(conn=-1, original_id=None, method=method, key=None)
        return {"jsonrpc": "2.0", "id": bid, "method": method, "params": params}

    def from_endpoint(self, message: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """What to forward to the server, and what to answer the endpoint at once."""
        if "method" not in message or "id" not in message or self.current is None:
            return message, None  # notifications, and answers to the server's own requests
        method = str(message["method"])
        key = _call_key(message) if method == "tools/call" else None
        if key is not None:
            answered = self._answer_again(key, message["id"])
            if answered is not None:
                return None, answered
            for pending in self._pending.values():
                if pending.key == key and pending.conn != self.current and pending.waiter is None:
                    pending.waiter = (self.current, message["id"])
                    return None, None  # already running: its answer goes to this request
        bid = self._fresh_id()
        self._pending[bid] = _Pending(self.current, message["id"], method, key)
        return {**message, "id": bid}, None

    def _answer_again(self, key: str, request_id: Any) -> dict[str, Any] | None:
        now = self.clock()
        self._orphans = {k: v for k, v in self._orphans.items() if now - v[1] <= self.orphan_ttl_s}
        kept = self._orphans.pop(key, None)
        return {**kept[0], "id": request_id} if kept else None

    def from_server(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """What to send the endpoint for one message of the server (None: nothing)."""
        if "method" in message or "id" not in message:
            return message if self.current is not None else None  # the server's requests and notifications
        pending = self._pending.pop(message["id"], None) if isinstance(message["id"], int) else None
        if pending is None or pending.conn == -1:
            return None
        if pending.conn == self.current:
            return {**message, "id": pending.original_id}
        if pending.waiter is not None and pending.waiter[0] == self.current:
            return {**message, "id": pending.waiter[1]}
        if pending.key is not None:
            self._orphans[pending.key] = (message, self.clock())
        return None

    def server_restarted(self) -> list[dict[str, Any]]:
        """Errors for the current connection's requests the dead server will never answer."""
        errors = [
            {"jsonrpc": "2.0", "id": p.original_id,
             "error": {"code": -32603, "message": "the assistant restarted; please ask again"}}
            for p in self._pending.values() if p.conn == self.current and self.current is not None
        ]  # fmt: skip
        self._pending.clear()
        return errors


def _call_key(message: dict[str, Any]) -> str:
    params = message.get("params") or {}
    return json.dumps({"name": params.get("name"), "arguments": params.get("arguments") or {}}, sort_keys=True)


@dataclass(frozen=True)
class BridgeOptions:
    """Where to connect, what to run, and how patiently."""

    endpoint: str
    command: list[str]
    env: dict[str, str] | None = None
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0
    reconnect_initial_s: float = 1.0
    reconnect_max_s: float = 120.0
    stable_after_s: float = 30.0
    orphan_ttl_s: float = 120.0


class Bridge:
    """The endpoint connection loop and the supervised stdio server."""

    def __init__(self, options: BridgeOptions, *, rng: random.Random | None = None) -> None:
        self.options = options
        self.calls = Calls(orphan_ttl_s=options.orphan_ttl_s)
        self.backoff = Backoff(options.reconnect_initial_s, options.reconnect_max_s, rng or random.Random())
        self._hidden = secrets_of(options.endpoint)
        self._ws: Any = None
        self._proc: asyncio.subprocess.Process | None = None
        self._ready = asyncio.Event()
        self._initialize: dict[str, Any] | None = None  # the endpoint's last initialize, replayed to a new server
        self.connections = 0

    def safe(self, text: str) -> str:
        """``text`` with the endpoint's secrets removed."""
        for secret in self._hidden:
            text = text.replace(secret, "***").replace(urllib.parse.quote(secret, safe=""), "***")
        return re.sub(r"(token=)[^&\s'\"]+", r"\1***", text)

    # ------------------------------------------------------------------ the stdio server

    async def _supervise(self, stop: asyncio.Event) -> None:
        waits = Backoff(1.0, 30.0, random.Random())
        while not stop.is_set():
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                *self.options.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=self.options.env, limit=MAX_FRAME,
            )  # fmt: skip
            self._proc = proc
            log.info("MCP server started (pid %s)", proc.pid)
            if self._initialize is not None:  # a restarted server: initialize it as the endpoint did
                await self._to_server(self.calls.internal("initialize", self._initialize))
                await self._to_server({"jsonrpc": "2.0", "method": "notifications/initialized"})
            self._ready.set()
            await asyncio.gather(self._read_server(proc), self._read_stderr(proc))
            code = await proc.wait()
            self._ready.clear()
            self._proc = None
            if stop.is_set():
                return
            log.error("MCP server exited with code %s; restarting it", code)
            for error in self.calls.server_restarted():
                await self._to_endpoint(error)
            if time.monotonic() - started > self.options.stable_after_s:
                waits.reset()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), waits.next())

    async def _read_server(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("MCP server wrote a line that is not JSON-RPC: %.120s", line)
                continue
            if isinstance(message, dict):
                outgoing = self.calls.from_server(message)
                if outgoing is not None:
                    await self._to_endpoint(outgoing)

    async def _read_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            log.info("server: %s", self.safe(line.decode(errors="replace").rstrip()))

    async def _to_server(self, message: dict[str, Any]) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        proc.stdin.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
        with contextlib.suppress(ConnectionError):
            await proc.stdin.drain()

    async def _to_endpoint(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(message, ensure_ascii=False))

    async def _stop_server(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the stdio server ends on the end of its input
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                proc.kill()
                await proc.wait()

    # ------------------------------------------------------------------ the endpoint

    async def _from_endpoint(self, frame: str | bytes) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            await self._to_endpoint({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})
            return
        for item in message if isinstance(message, list) else [message]:
            if not isinstance(item, dict):
                continue
            if item.get("method") == "initialize":
                self._initialize = item.get("params") or {}
            forward, answer = self.calls.from_endpoint(item)
            if answer is not None:
                log.info("answered a repeated %s from the call cut off by the dropped connection", item.get("method"))
                await self._to_endpoint(answer)
            elif forward is None:
                log.info("a repeated %s waits for the call cut off by the dropped connection", item.get("method"))
            if forward is not None:
                await self._ready.wait()
                await self._to_server(forward)

    async def _session(self, ws: Any, stop: asyncio.Event) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                receiving = asyncio.ensure_future(ws.recv())
                done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if receiving not in done:
                    receiving.cancel()
                    return
                await self._from_endpoint(receiving.result())
        finally:
            stopping.cancel()

    async def _connect_once(self, stop: asyncio.Event) -> int | None:
        """One connection, until it drops or ``stop``; an exit code when retrying cannot help."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

        where = redact(self.options.endpoint)
        opened = None
        try:
            async with connect(
                self.options.endpoint, ping_interval=self.options.ping_interval_s,
                ping_timeout=self.options.ping_timeout_s, open_timeout=15, close_timeout=5, max_size=MAX_FRAME,
                user_agent_header="alertpilot-bridge",
            ) as ws:  # fmt: skip
                opened = time.monotonic()
                self.connections += 1
                self.calls.connected(self.connections)
                self._ws = ws
                log.info("connected to %s (connection %d)", where, self.connections)
                await self._session(ws, stop)
                if stop.is_set():
                    await ws.close(1001, "alertpilot bridge stopping")
        except InvalidStatus as exc:
            status = exc.response.status_code
            log.error("%s refused the connection: HTTP %s", where, status)
            if status in REFUSED:
                log.error("the endpoint does not accept this token; check the variable assistant.endpoint_env names")
                return 1
        except InvalidURI:
            log.error("not a WebSocket URL: %s", where)
            return 2
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
            log.warning("connection to %s lost: %s", where, self.safe(f"{type(exc).__name__}: {exc}"))
        finally:
            self._ws = None
            self.calls.dropped()
        if opened is not None and time.monotonic() - opened >= self.options.stable_after_s:
            self.backoff.reset()
        return None

    async def run(self, stop: asyncio.Event) -> int:
        """Connect, pipe, reconnect until ``stop``; 0 on a clean stop, 1 when the endpoint refuses the token."""
        server = asyncio.ensure_future(self._supervise(stop))
        code = 0
        try:
            while not stop.is_set():
                refused = await self._connect_once(stop)
                if refused is not None:
                    code = refused
                    break
                if stop.is_set():
                    break
                delay = self.backoff.next()
                log.info("reconnecting to %s in %.1fs", redact(self.options.endpoint), delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
        finally:
            stop.set()
            await self._stop_server()
            server.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await server
        log.info("bridge stopped")
        return code


def run_bridge(options: BridgeOptions) -> int:
    """Run the bridge until SIGTERM/SIGINT; the process exit code."""
    import signal

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await Bridge(options).run(stop)

    return asyncio.run(main())


def child_command(name: str, config: str | None) -> list[str]:
    """The command line of ``alertpilot mcp <verb> NAME`` run with this interpreter."""
    import sys

    return [sys.executable, "-m", "cli", "mcp", "serve", name] + (["--config", config] if config else [])


def write_settings_file(settings: Any) -> str:
    """``settings`` as a YAML file only its owner can read, for children that must run with exactly them.

    Settings hold no secrets (only the names of the variables that do), and the children
    inherit the environment.
    """
    import os

    import yaml

    folder = settings.home / "run"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"serve-{os.getpid()}.yaml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        yaml.safe_dump(settings.model_dump(mode="json"), handle, allow_unicode=True)
    return str(path)


def supervise_bridge(settings: Any, stop: Any, *, popen: Callable[..., Any] | None = None) -> None:
    """`serve`'s bridge child: ``mcp connect assistant`` restarted with backoff until ``stop``, then SIGTERM."""
    import subprocess
    import sys

    config = write_settings_file(settings)
    command = [sys.executable, "-m", "cli", "mcp", "connect", "assistant", "--config", config]
    waits = Backoff(1.0, settings.assistant.reconnect_max_s)
    start = popen or subprocess.Popen
    while not stop.is_set():
        child = start(command)
        log.info("assistant bridge runs as child pid %s", child.pid)
        started = time.monotonic()
        while child.poll() is None and not stop.wait(0.5):
            pass
        if stop.is_set():
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return
        log.error("assistant bridge exited with code %s; restarting it", child.returncode)
        if time.monotonic() - started > 60:
            waits.reset()
        stop.wait(waits.next())
