"""``alertpilot mcp serve devops``: the executor operations as MCP tools."""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

from state.config import Settings
from tools.catalog import make_executor, open_world
from tools.executor import devops_tools
from tools.mcp.expose import expose
from tools.registry import ToolRegistry


def build(settings: Settings) -> FastMCP:
    """The devops server over the configured executor backend."""
    server = FastMCP("alertpilot-devops")
    expose(server, ToolRegistry(devops_tools(make_executor(settings, open_world(settings)))))
    return server
