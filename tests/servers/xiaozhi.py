"""A local Xiaozhi MCP endpoint: a WebSocket server that acts as the MCP client, as Xiaozhi's does.

The tool side dials in to ``/mcp/?token=...`` (a wrong token gets HTTP 401). On every
connection the endpoint sends ``initialize`` (id 1, protocol 2024-11-05),
``notifications/initialized`` and ``tools/list`` (id 2); tool calls then count up from 3
on each connection, so ids repeat across connections as they do with the real endpoint.
Every frame must be one JSON-RPC message in a text frame. The test drives it from its
own thread with :meth:`call`; ``drop=True`` cuts the connection (no close frame, as a
network drop does) right after sending the call, then waits for the tool side to dial
in again and asks the same call again, as Xiaozhi retries.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Opcode


class CountingConnection(ServerConnection):
    """A server connection that counts the pings the client sends (keepalive)."""

    pings = 0

    def process_event(self, event: Any) -> None:
        if getattr(event, "opcode", None) is Opcode.PING:
            CountingConnection.pings += 1
        super().process_event(event)


@dataclass
class Session:
    """One connection of the tool side."""

    ws: ServerConnection
    number: int
    next_id: int = 3
    waiting: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    tools: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    server_info: dict[str, Any] = field(default_factory=dict)


class XiaozhiEndpoint:
    """The endpoint in a background thread with its own event loop."""

    def __init__(self, token: str, port: int = 0) -> None:
        self.token = token
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.sessions: list[Session] = []
        self.refused = 0
        self.closes: list[int | None] = []  # close codes the tool side sent
        self.bad_frames: list[str] = []
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/mcp/?token={self.token}"

    def _check(self, connection: ServerConnection, request: Any) -> Any:
        parts = urlsplit(request.path)
        if parts.path != "/mcp/" or parse_qs(parts.query).get("token") != [self.token]:
            self.refused += 1
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid token\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        session = Session(ws, len(self.sessions) + 1)
        self.sessions.append(session)
        reader = asyncio.ensure_future(self._read(session))
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2024-11-05", "capabilities": {"roots": {"listChanged": True}, "sampling": {}},
            "clientInfo": {"name": "XiaozhiMCPEndpointClient", "version": "1.0.0"}}}))  # fmt: skip
        init = await self._expect(session, 1)
        session.server_info = init["result"]["serverInfo"]
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized", "params": {}}))
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        listed = await self._expect(session, 2)
        session.tools = [tool["name"] for tool in listed["result"]["tools"]]
        session.ready.set()
        await reader
        self.closes.append(ws.close_code)

    def _expect(self, session: Session, request_id: int) -> asyncio.Future[dict[str, Any]]:
        future = session.waiting.setdefault(request_id, self.loop.create_future())
        return future

    async def _read(self, session: Session) -> None:
        try:
            async for frame in session.ws:
                if not isinstance(frame, str):
                    self.bad_frames.append(f"binary frame {frame[:40]!r}")
                    continue
                message = json.loads(frame)  # exactly one JSON-RPC message per frame
                if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
                    self.bad_frames.append(frame[:120])
                    continue
                future = session.waiting.get(message.get("id"))  # type: ignore[arg-type]
                if future is not None and not future.done():
                    future.set_result(message)
        except Exception:  # noqa: BLE001 - a dropped connection ends the reader
            pass

    async def _call(self, name: str, arguments: dict[str, Any], drop: bool) -> dict[str, Any]:
        session = self.sessions[-1]
        await asyncio.wait_for(session.ready.wait(), 60)
        request_id = session.next_id
        session.next_id += 1
        answer = self._expect(session, request_id)
        await session.ws.send(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                                          "params": {"name": name, "arguments": arguments}}))  # fmt: skip
        if not drop:
            return await asyncio.wait_for(answer, 90)
        session.ws.transport.abort()  # the network went away: no close frame, the answer never arrives
        count = len(self.sessions)
        for _ in range(600):
            if len(self.sessions) > count:
                break
            await asyncio.sleep(0.1)
        return await self._call(name, arguments, drop=False)

    def call(self, name: str, drop: bool = False, **arguments: Any) -> dict[str, Any]:
        """Call a tool as Xiaozhi does; the JSON-RPC answer."""
        return asyncio.run_coroutine_threadsafe(self._call(name, arguments, drop), self.loop).result(180)

    def speak(self, name: str, drop: bool = False, **arguments: Any) -> str:
        """What Xiaozhi would say: the ``response`` of the tool's ``{"action": "RESPONSE"}`` answer."""
        answer = self.call(name, drop, **arguments)
        assert "result" in answer, answer
        assert not answer["result"].get("isError"), answer
        spoken = json.loads(answer["result"]["content"][0]["text"])
        assert spoken["action"] == "RESPONSE", spoken
        return str(spoken["response"])

    def wait_ready(self, connections: int = 1, timeout: float = 60) -> Session:
        """Block until the ``connections``-th connection is initialized and has listed its tools."""

        async def ready() -> Session:
            for _ in range(int(timeout * 10)):
                if len(self.sessions) >= connections:
                    await asyncio.wait_for(self.sessions[connections - 1].ready.wait(), timeout)
                    return self.sessions[connections - 1]
                await asyncio.sleep(0.1)
            raise TimeoutError(f"no connection {connections} after {timeout}s")

        return asyncio.run_coroutine_threadsafe(ready(), self.loop).result(timeout + 5)

    def start(self) -> None:
        self._thread.start()

        async def open_server() -> Any:
            return await serve(self._handler, "127.0.0.1", self.port, process_request=self._check,
                               create_connection=CountingConnection, ping_interval=None)  # fmt: skip

        self._server = asyncio.run_coroutine_threadsafe(open_server(), self.loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


@contextmanager
def xiaozhi_endpoint(token: str, port: int = 0) -> Iterator[XiaozhiEndpoint]:
    """A running :class:`XiaozhiEndpoint`."""
    endpoint = XiaozhiEndpoint(token, port)
    endpoint.start()
    try:
        yield endpoint
    finally:
        endpoint.stop()
