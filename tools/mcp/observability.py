"""``alertpilot mcp serve observability``: metrics (prometheus-mcp-server's tool names) and log tools.

Tools: ``execute_query``, ``execute_range_query``, ``list_metrics``,
``get_metric_metadata``, ``get_targets`` (so an agent configured for
prometheus-mcp-server works unchanged), plus ``search_logs``, ``classify_logs`` and
``trace_chain``, and, when ``kubernetes:`` is configured, the Kubernetes read tools
(``k8s_pods``, ``k8s_events``, ``k8s_rollout_history``, ``k8s_owner``, ``k8s_workload``,
``k8s_find_workload``, ``k8s_pod_logs``, ``k8s_node``), and, when ``cloud_monitor:`` is configured
(or a world declares Cloud Monitor metrics), ``get_monitor_data``. All read-only.
"""

from __future__ import annotations

from mcp.server.fastmcp import FastMCP

from state.config import Settings
from tools.catalog import observability_tools, open_world
from tools.mcp.expose import expose
from tools.registry import ToolRegistry


def build(settings: Settings) -> FastMCP:
    """The observability server over the configured Prometheus (or world) and log sources."""
    server = FastMCP("alertpilot-observability")
    expose(server, ToolRegistry(observability_tools(settings, open_world(settings))))
    return server
