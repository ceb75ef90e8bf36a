"""Assemble the live tool registry from settings (the one place providers are chosen)."""

from __future__ import annotations

from state.config import Settings
from tools.executor import devops_tools, make_executor
from tools.metrics import PrometheusMetrics, WorldMetrics, metrics_tools
from tools.notify.tool import notify_tools
from tools.registry import ToolRegistry
from tools.world import World, load_world


def open_world(settings: Settings) -> World | None:
    """The scenario world named by ``world:`` in config, with its state under home."""
    return load_world(settings.world, settings.home) if settings.world else None


def build_registry(settings: Settings, world: World | None = None) -> ToolRegistry:
    """Every tool the config enables: metrics, and the guarded devops operations."""
    registry = ToolRegistry()
    if settings.prometheus.url:
        registry_metrics = PrometheusMetrics(settings.prometheus.url, settings.prometheus.timeout_s)
        for tool in metrics_tools(registry_metrics):
            registry.add(tool)
    elif world is not None:
        for tool in metrics_tools(WorldMetrics(world)):
            registry.add(tool)
    for tool in devops_tools(make_executor(settings, world)):
        registry.add(tool)
    for tool in notify_tools(settings):
        registry.add(tool)
    return registry
