"""``alertpilot mcp serve github``: release review tools under github-mcp-server's names.

``get_release_by_tag``, ``get_latest_release``, ``pull_request_read`` (methods ``get``,
``get_files``, ``get_diff``) and ``get_file_contents``, over GitHub (``github.url``) or the
local clones in ``github.clones``.
"""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

from state.config import Settings
from tools.catalog import release_registry
from tools.mcp.expose import expose


def build(settings: Settings) -> FastMCP:
    """The github server over the configured release sources."""
    server = FastMCP("alertpilot-github")
    expose(server, release_registry(settings))
    return server
