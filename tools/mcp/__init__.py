"""MCP servers that expose alertpilot's tools (FastMCP, ``mcp<2``).

Each server is built by a factory ``build(settings) -> FastMCP`` in its own module;
``SERVERS`` maps the name used by ``alertpilot mcp serve NAME`` to that module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server.fastmcp import FastMCP

    from state.config import Settings

SERVERS: dict[str, str] = {
    "devops": "tools.mcp.devops",
    "assistant": "tools.mcp.assistant",
    "github": "tools.mcp.github",
    "observability": "tools.mcp.observability",
}


def build_server(name: str, settings: Settings) -> FastMCP:
    """The MCP server called ``name``."""
    module_name = SERVERS.get(name)
    if module_name is None:
        raise ValueError(f"NAME: unknown MCP server {name!r} (one of {', '.join(sorted(SERVERS))})")
    module = importlib.import_module(module_name)
    server: FastMCP = module.build(settings)
    return server
