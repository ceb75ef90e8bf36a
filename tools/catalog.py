"""Assemble the live tool registry from settings (the one place providers are chosen)."""

from __future__ import annotations

import os

from state.config import Settings
from tools.executor import devops_tools, make_executor
from tools.logs.sources import LogSources
from tools.logs.tools import log_tools
from tools.metrics import PrometheusMetrics, WorldMetrics, metrics_tools
from tools.notify.tool import notify_tools
from tools.registry import Tool, ToolRegistry
from tools.world import World, load_world


def open_world(settings: Settings) -> World | None:
    """The scenario world named by ``world:`` in config, with its state under home."""
    return load_world(settings.world, settings.home) if settings.world else None


def observability_tools(settings: Settings, world: World | None = None) -> list[Tool]:
    """The read-only metrics tools (Prometheus, else the world) and the log tools."""
    tools: list[Tool] = []
    if settings.prometheus.url:
        tools += metrics_tools(PrometheusMetrics(settings.prometheus.url, settings.prometheus.timeout_s))
    elif world is not None:
        tools += metrics_tools(WorldMetrics(world))
    tools += log_tools(LogSources(settings.logs, os.environ))
    return tools


def build_registry(settings: Settings, world: World | None = None) -> ToolRegistry:
    """Every tool the config enables: metrics, logs, the guarded devops operations, external MCP tools.

    A tool from an ``mcp_servers:`` entry replaces a built-in of the same name.
    """
    registry = ToolRegistry(observability_tools(settings, world))
    for tool in devops_tools(make_executor(settings, world)):
        registry.add(tool)
    if settings.github.clones or any(service.repo for service in settings.services.values()):
        from tools.release import release_tools, router_from_settings

        for tool in release_tools(router_from_settings(settings)):
            registry.add(tool)
    for tool in notify_tools(settings):
        registry.add(tool)
    if settings.mcp_servers:
        from tools.mcp.external import external_tools

        for tool in external_tools(settings.mcp_servers):
            registry.add(tool)
    return registry
