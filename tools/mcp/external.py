"""External MCP servers (``mcp_servers:`` in config) as registry tools, through langchain-mcp-adapters.

Each entry is a ``MultiServerMCPClient`` connection (``transport: stdio`` with
``command``/``args``, or ``transport: streamable_http`` with ``url``), plus an optional
``tools: [names]`` filter. Every external tool becomes a :class:`~tools.registry.Tool`,
so its calls go through the recording session like the built-in ones; a tool with a
built-in's name (``execute_query`` from prometheus-mcp-server) replaces the built-in.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, create_model

from tools.registry import Tool, ToolError

if TYPE_CHECKING:
    from pydantic.v1 import BaseModel as V1BaseModel

T = TypeVar("T")
OUR_KEYS = ("tools",)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even when this thread already runs a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def input_model(name: str, schema: dict[str, Any] | type[BaseModel] | type[V1BaseModel] | None) -> type[BaseModel]:
    """A permissive pydantic model for an MCP tool's JSON-schema arguments."""
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema
    if isinstance(schema, type):  # a pydantic v1 model (langchain still allows them): use its JSON schema
        schema = schema.schema()
    props = (schema or {}).get("properties") or {}
    required = set((schema or {}).get("required") or [])
    fields: dict[str, Any] = {key: (Any, ... if key in required else None) for key in props}
    return create_model(f"{name}_args", __config__=ConfigDict(extra="allow"), **fields)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(c if isinstance(c, str) else str(c.get("text", "")) for c in content)
    return str(content)


def unwrap(content: Any) -> Any:
    """An MCP answer as data: JSON when it is JSON; our own ``{status, data, error}`` envelope opened."""
    text = _text(content)
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, dict) and set(value) >= {"status", "data"} and value.get("status") in ("success", "error"):
        if value["status"] == "error":
            raise ToolError(str(value.get("error") or "the external tool failed"))
        return value["data"]
    return value


def _handler(server: str, lc_tool: Any) -> Any:
    def call(**kwargs: Any) -> Any:
        args = {k: v for k, v in kwargs.items() if v is not None}
        try:
            content = run_sync(lc_tool.ainvoke(args))
        except ToolError:
            raise
        except Exception as exc:  # noqa: BLE001 - transport and tool errors surface in many types
            raise ToolError(f"MCP server {server!r} tool {lc_tool.name}: {type(exc).__name__}: {exc}") from None
        return unwrap(content)

    return call


def external_tools(servers: dict[str, dict[str, Any]]) -> list[Tool]:
    """Registry tools for every tool of every configured MCP server.

    Raises ValueError naming ``mcp_servers.NAME`` when a server cannot be reached or listed.
    """
    from langchain_mcp_adapters.client import MultiServerMCPClient

    tools: list[Tool] = []
    for name, entry in servers.items():
        connection = {k: v for k, v in entry.items() if k not in OUR_KEYS}
        wanted = entry.get("tools")
        client = MultiServerMCPClient({name: connection})  # type: ignore[dict-item]
        try:
            listed = run_sync(client.get_tools(server_name=name))
        except Exception as exc:  # noqa: BLE001 - connection failures come as many types (and groups)
            raise ValueError(f"mcp_servers.{name}: cannot list tools ({type(exc).__name__}: {exc})") from None
        for lc_tool in listed:
            if wanted and lc_tool.name not in wanted:
                continue
            tools.append(
                Tool(
                    lc_tool.name,
                    f"[{name}] {lc_tool.description or lc_tool.name}",
                    input_model(lc_tool.name, lc_tool.args_schema),
                    _handler(name, lc_tool),
                )
            )
    return tools
