"""The TKE executor backend: roll a Helm release back through the TKE API (tke 2018-05-25).

``version_rollback`` and ``full_rollback`` call ``RollbackClusterRelease`` for the release
named by ``service``: ``{"revision": n}`` goes to that Helm revision; ``{"target": v}`` goes
to the newest revision whose ``AppVersion`` (else chart version) is ``v``, found with
``DescribeClusterReleaseHistory``; no target (or ``undo``) goes to the revision before
the newest. Other operations are not Helm operations and answer an error saying so.
"""

from __future__ import annotations

import time
from typing import Any

from tools.execution import ExecutionResult


class TkeError(Exception):
    """The release cannot be rolled back as asked."""


class TkeHelmBackend:
    """Helm release rollback on one TKE cluster, through a ``TkeClient`` passed in."""

    def __init__(self, client: Any, cluster_id: str, namespace: str = "default", cluster_type: str = "tke",
                 default_service: str | None = None) -> None:  # fmt: skip
        self.client = client
        self.cluster_id = cluster_id
        self.namespace = namespace
        self.cluster_type = cluster_type
        self.default_service = default_service

    def execute(self, method: str, params: dict[str, Any], idempotency_key: str | None) -> ExecutionResult:
        """Run ``method`` on the Helm release named by ``params['service']``."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        started = time.perf_counter()
        try:
            if method not in ("version_rollback", "full_rollback"):
                raise TkeError(f"{method} is not supported by the tke backend (it rolls back Helm releases)")
            name = params.get("service") or self.default_service
            if not name:
                raise TkeError("params.service: required (no executor.service default)")
            detail = self.rollback(name, params.get("namespace") or self.namespace, params)
            status, error = "success", ""
        except TkeError as exc:
            detail, status, error = "", "error", str(exc)
        except TencentCloudSDKException as exc:
            detail, status, error = "", "error", f"TKE {exc.get_code()}: {exc.get_message()}"
        return ExecutionResult(
            status=status, detail=detail, error=error, execution_time=round(time.perf_counter() - started, 4)
        )

    def history(self, name: str, namespace: str) -> list[Any]:
        """The release's revisions, newest first."""
        from tencentcloud.tke.v20180525 import models

        request = models.DescribeClusterReleaseHistoryRequest()
        request.ClusterId, request.Name, request.Namespace = self.cluster_id, name, namespace
        request.ClusterType = self.cluster_type
        entries = self.client.DescribeClusterReleaseHistory(request).ReleaseHistorySet or []
        return sorted(entries, key=lambda e: int(e.Revision or 0), reverse=True)

    def _revision(self, name: str, namespace: str, params: dict[str, Any]) -> int:
        if params.get("revision") and not params.get("undo"):
            return int(params["revision"])
        entries = self.history(name, namespace)
        target = None if params.get("undo") else params.get("target")
        if target:
            for entry in entries[1:] or entries:
                if target in (entry.AppVersion, (entry.Chart or "").rsplit("-", 1)[-1]):
                    return int(entry.Revision)
            raise TkeError(f"target {target!r}: no revision of release {name!r} runs it")
        if len(entries) < 2:
            raise TkeError(f"no rollout history found for release {name!r}")
        return int(entries[1].Revision)

    def rollback(self, name: str, namespace: str, params: dict[str, Any]) -> str:
        """``RollbackClusterRelease`` to the revision ``params`` asks for."""
        from tencentcloud.tke.v20180525 import models

        revision = self._revision(name, namespace, params)
        request = models.RollbackClusterReleaseRequest()
        request.ClusterId, request.Name, request.Namespace = self.cluster_id, name, namespace
        request.Revision, request.ClusterType = revision, self.cluster_type
        response = self.client.RollbackClusterRelease(request)
        release = getattr(response, "Release", None)
        state = f" ({release.Status})" if release is not None and getattr(release, "Status", None) else ""
        return f"Helm release {namespace}/{name} rolled back to revision {revision}{state}"


def tke_client_from(config: Any, secret_id: str | None, secret_key: str | None) -> Any:
    """A ``TkeClient`` for ``executor.tke`` (``endpoint`` points it at a local server in tests)."""
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.tke.v20180525.tke_client import TkeClient

    if not secret_id or not secret_key:
        raise ValueError(f"executor.tke: set {config.secret_id_env} and {config.secret_key_env}")
    http = HttpProfile(endpoint=config.endpoint, protocol="http") if config.endpoint else HttpProfile()
    return TkeClient(credential.Credential(secret_id, secret_key), config.region, ClientProfile(httpProfile=http))
