"""Executor backends: what actually changes the target (kubernetes, TKE Helm, the demo world, dry-run).

``make_backend`` is the one place a backend is chosen, for ``alertpilot executor serve
--backend`` and for an agent configured to act in-process (``executor.backend``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from state.config import Settings
    from tools.executor import Executor
    from tools.world import World

BACKENDS = ("dry-run", "process", "kubernetes", "tke")


def make_backend(name: str, settings: Settings, world: World | None = None) -> Executor:
    """The backend called ``name``; raises ValueError naming the missing setting."""
    from tools.executor import DryRunExecutor, ProcessExecutor

    config = settings.executor
    if name == "dry-run":
        return DryRunExecutor()
    if name == "process":
        if world is None:
            raise ValueError("--backend process: needs a scenario world (world: in config)")
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
    raise ValueError(f"--backend: expected one of {', '.join(BACKENDS)}, got {name!r}")
