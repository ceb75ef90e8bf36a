"""MCP servers that expose alertpilot's tools (FastMCP, ``mcp<2``).

Each server is built by a factory ``build(settings) -> FastMCP`` in its own module;
``SERVERS`` maps the name used by ``alertpilot mcp serve NAME`` to that module; the
applications served over MCP (the voice assistant, server/assistant.py) are added by
``alertpilot mcp serve`` itself, so tools/ never imports server/.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server.fastmcp import FastMCP

    from state.config import Settings

SERVERS: dict[str, str] = {
    "devops": "tools.mcp.devops",
    "github": "tools.mcp.github",
    "observability": "tools.mcp.observability",
}


def build_server(name: str, settings: Settings, servers: Mapping[str, str] = SERVERS) -> FastMCP:
    """The MCP server called ``name`` among ``servers`` (name -> module with ``build(settings)``)."""
    module_name = servers.get(name)
    if module_name is None:
        raise ValueError(f"NAME: unknown MCP server {name!r} (one of {', '.join(sorted(servers))})")
    module = importlib.import_module(module_name)
    server: FastMCP = module.build(settings)
    quiet_requests()
    return server


def quiet_requests() -> None:
    """No log line per request; warnings stay.

    The SDK's INFO "Processing request of type ..." (formatted by Rich, on stderr) costs a
    large share of a call's time and drowns a stdio client's log.
    """
    for name in ("mcp.server.lowlevel.server", "mcp.server.fastmcp", "mcp.server.streamable_http"):
        logging.getLogger(name).setLevel(logging.WARNING)
