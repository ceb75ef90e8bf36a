"""The composition root for providers: the one place that turns config into tools, executors and sources.

Interface modules (tools/execution.py, tools/release_source.py, tools/registry.py) define
what a provider is; provider modules implement one each; only this module chooses among
them, so no provider imports another and no interface imports a provider.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from state.config import Settings
from tools.execution import Executor
from tools.executor import DryRunExecutor, HttpExecutor, ProcessExecutor, devops_tools
from tools.logs.sources import LogSources
from tools.logs.tools import log_tools
from tools.metrics import PrometheusMetrics, WorldMetrics, metrics_tools
from tools.registry import Tool, ToolRegistry
from tools.world import World, load_world

if TYPE_CHECKING:
    from state.store import Store
    from tools.release import SourceRouter

# Backends that change the target themselves (``executor serve --backend``); ``http`` is the client of one.
BACKENDS = ("dry-run", "process", "kubernetes", "tke")


def open_world(settings: Settings) -> World | None:
    """The scenario world named by ``world:`` in config, with its state under home."""
    return load_world(settings.world, settings.home) if settings.world else None


def make_backend(name: str, settings: Settings, world: World | None = None, *, field: str = "--backend") -> Executor:
    """The backend called ``name``; raises ValueError naming ``field`` or the missing setting."""
    config = settings.executor
    if name == "dry-run":
        return DryRunExecutor()
    if name == "process":
        if world is None:
            raise ValueError(f"{field}: 'process' needs a scenario world (world: in config)")
        return ProcessExecutor(world)
    if name == "kubernetes":
        from tools.backends.kubernetes import KubernetesBackend, api_client_from

        kube = config.kubernetes
        client = api_client_from(kube, settings.secret(kube.token_env))
        return KubernetesBackend(client, kube.namespace, config.service, dry_run=kube.dry_run)
    if name == "tke":
        from tools.backends.tke import TkeHelmBackend, tke_client_from

        tke = config.tke
        if not tke.cluster_id:
            raise ValueError("executor.tke.cluster_id: required for the tke backend")
        client = tke_client_from(tke, settings.secret(tke.secret_id_env), settings.secret(tke.secret_key_env))
        return TkeHelmBackend(client, tke.cluster_id, tke.namespace, tke.cluster_type, config.service)
    raise ValueError(f"{field}: expected one of {', '.join(BACKENDS)}, got {name!r}")


def make_executor(settings: Settings, world: World | None = None) -> Executor:
    """What the agent acts through: dry-run under ``policy.dry_run``, the HTTP client, or a backend in process."""
    config = settings.executor
    if settings.policy.dry_run:
        return DryRunExecutor()
    if config.backend == "http":
        if not config.url:
            raise ValueError("executor.url: required when executor.backend is 'http'")
        return HttpExecutor(config.url, settings.secret(config.token_env), config.timeout_s, config.retry_s)
    return make_backend(config.backend, settings, world, field="executor.backend")


def release_router(settings: Settings, clones: dict[str, Path] | None = None) -> SourceRouter:
    """Release sources from config: ``github.clones`` (plus ``clones``) read locally, the rest via ``github.url``."""
    from tools.github import github_source_factory
    from tools.gitlocal import LocalGitSource
    from tools.release import SourceRouter
    from tools.release_source import ReleaseSource

    paths = {**settings.github.clones, **(clones or {})}
    local: dict[str, ReleaseSource] = {repo: LocalGitSource(path, repo) for repo, path in paths.items()}
    return SourceRouter(github_source_factory(settings.github.url, settings.github.token_env, settings.secret), local)


def release_registry(settings: Settings, clones: dict[str, Path] | None = None) -> ToolRegistry:
    """Only the release review tools (``alertpilot review``, the github MCP server)."""
    from tools.release import release_tools

    return ToolRegistry(release_tools(release_router(settings, clones)))


def observability_tools(settings: Settings, world: World | None = None) -> list[Tool]:
    """The read-only metrics tools (Prometheus, else the world) and the log tools."""
    tools: list[Tool] = []
    if settings.prometheus.url:
        tools += metrics_tools(PrometheusMetrics(settings.prometheus.url, settings.prometheus.timeout_s))
    elif world is not None:
        tools += metrics_tools(WorldMetrics(world))
    tools += log_tools(LogSources(settings.logs, os.environ))
    tools += cloud_monitor_tools(settings, world)
    if settings.kubernetes is not None:
        from tools.backends.kubernetes import api_client_from
        from tools.kube import kube_tools

        kube = settings.kubernetes
        tools += kube_tools(
            lambda: api_client_from(kube, settings.secret(kube.token_env)), world.clock if world is not None else None
        )
    return tools


def cloud_monitor_tools(settings: Settings, world: World | None = None) -> list[Tool]:
    """``get_monitor_data`` over ``cloud_monitor:`` (else over a world that declares Cloud Monitor metrics)."""
    from tools.cloud_monitor import TencentMonitor, WorldMonitor, monitor_tools
    from tools.tencent import TencentAccess

    config = settings.cloud_monitor
    if config is not None:

        def access() -> TencentAccess:
            return TencentAccess.from_env(
                dict(os.environ), config.secret_id_env, config.secret_key_env, config.region, config.endpoint
            )

        return monitor_tools(TencentMonitor(access))
    if world is not None and (
        any(w.cloud_metrics for w in world.workloads.values()) or any(n.cloud_metrics for n in world.nodes.values())
    ):
        return monitor_tools(WorldMonitor(world))
    return []


def notify_tool(settings: Settings, store: Store | None) -> list[Tool]:
    """``notify_people`` over the configured channels, deduplicated by ``store``'s delivery ledger when given."""
    from state.delivery import Ledger
    from tools.notify import Notifier
    from tools.notify.tool import notify_tools

    return notify_tools(Notifier(settings, Ledger(store) if store is not None else None))


def build_registry(settings: Settings, world: World | None = None, store: Store | None = None) -> ToolRegistry:
    """Every tool the config enables: metrics, logs, the guarded devops operations, external MCP tools.

    ``store`` is the process's incident store: notifications record their deliveries in
    it (a re-run never notifies twice). A tool from an ``mcp_servers:`` entry replaces a
    built-in of the same name.
    """
    registry = ToolRegistry(observability_tools(settings, world))
    for tool in devops_tools(make_executor(settings, world)):
        registry.add(tool)
    if settings.github.clones or any(service.repo for service in settings.services.values()):
        for tool in release_registry(settings).tools():
            registry.add(tool)
    for tool in notify_tool(settings, store):
        registry.add(tool)
    if settings.mcp_servers:
        from tools.mcp.external import external_tools

        for tool in external_tools(settings.mcp_servers):
            registry.add(tool)
    return registry
