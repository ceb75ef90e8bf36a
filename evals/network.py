"""The eval's network rule: an episode talks to 127.0.0.1 only.

A case's config may name servers (Prometheus, the executor, a Kubernetes API for the
executor or for the read tools, MCP servers, ...); the harness refuses a case whose config points any of them off the
machine, or that would reach a cloud API by default (a CLS topic or COS bucket without
a local ``endpoint``, a ``cloud_monitor:`` section without a local ``endpoint``, a Kubernetes
backend without a local ``host``, a TKE backend without a local ``endpoint``). GitHub is always
the world's own local server (evals/github_world.py),
so an explicit non-local ``github.url`` in a case is refused too rather than silently ignored.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from state.config import Settings

LOCAL_NAMES = {"localhost", "localhost.localdomain"}


def is_loopback(address: str) -> bool:
    """Whether ``address`` (a URL, ``host:port`` or a bare host) names this machine's loopback."""
    text = address.strip()
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoints(
    settings: Settings, github_explicit: bool = True, kube_world: bool = False
) -> list[tuple[str, str | None]]:
    """(config field, address) of every server the settings would reach; None = a cloud default.

    ``kube_world``: the eval world brings its own Kubernetes API, so a ``kubernetes:`` section
    without a ``host`` is pointed at it (an explicit host must still be local).
    """
    out: list[tuple[str, str | None]] = []
    if github_explicit:
        out.append(("github.url", settings.github.url))
    if settings.kubernetes is not None and (settings.kubernetes.host or not kube_world):
        out.append(("kubernetes.host", settings.kubernetes.host))
    if settings.prometheus.url:
        out.append(("prometheus.url", settings.prometheus.url))
    executor = settings.executor
    if executor.url or executor.backend == "http":
        out.append(("executor.url", executor.url))
    if executor.backend == "kubernetes" or executor.kubernetes.host:
        out.append(("executor.kubernetes.host", executor.kubernetes.host))
    if executor.backend == "tke" or executor.tke.endpoint:
        out.append(("executor.tke.endpoint", executor.tke.endpoint))
    cls = settings.logs.cls
    if cls.endpoint or any(cls.topics.model_dump().values()):
        out.append(("logs.cls.endpoint", cls.endpoint))
    cos = settings.logs.cos
    if cos.endpoint or cos.bucket:
        out.append(("logs.cos.endpoint", cos.endpoint))
    if settings.cloud_monitor is not None:  # the eval's Cloud Monitor is the world's declared metrics
        out.append(("cloud_monitor.endpoint", settings.cloud_monitor.endpoint))
    for name, entry in settings.mcp_servers.items():
        if entry.get("url"):
            out.append((f"mcp_servers.{name}.url", str(entry["url"])))
    if settings.notify.smtp.get("host"):
        out.append(("notify.smtp.host", str(settings.notify.smtp["host"])))
    return out


def remote_endpoint(settings: Settings, github_explicit: bool = True, kube_world: bool = False) -> str | None:
    """A one-line reason when the settings would reach past 127.0.0.1, else None."""
    for field, address in endpoints(settings, github_explicit, kube_world):
        if address is None:
            return f"{field}: not set, so the run would reach the cloud API; evals talk to 127.0.0.1 only"
        if not is_loopback(address):
            return f"{field}: {address!r} is not a loopback address; evals talk to 127.0.0.1 only"
    return None


REPLAY_ONLY = "127.0.0.1:9"  # nothing answers there: a captured case is replayed from its recording


def replay_only(config: dict[str, Any]) -> dict[str, Any]:
    """A captured deployment's config (``Settings.model_dump``) with every server it names moved to 127.0.0.1:9.

    Which sources are configured still decides which calls the agents make on replay; where
    they live does not (the recording answers). ``github.url`` is dropped: the eval world
    always brings its own. MCP servers given by URL are left as they are and refused by the
    harness (their tools' schemas would have to be listed from them).
    """
    config.get("github", {}).pop("url", None)
    logs = config.get("logs", {})
    cls = logs.get("cls", {})
    if cls.get("endpoint") or any((cls.get("topics") or {}).values()):
        cls["endpoint"] = REPLAY_ONLY
    cos = logs.get("cos", {})
    if cos.get("endpoint") or cos.get("bucket"):
        cos["endpoint"] = f"http://{REPLAY_ONLY}"
    smtp = config.get("notify", {}).get("smtp") or {}
    if smtp.get("host"):
        smtp["host"], smtp["port"] = REPLAY_ONLY.split(":")[0], int(REPLAY_ONLY.split(":")[1])
    return config
