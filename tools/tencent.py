"""Tencent Cloud access through tencentcloud-sdk-python: credentials, CLS search, TKE clients.

Credentials come from environment variables *named* in config (per user for the voice
assistant). ``endpoint`` (``host:port``) points a client at a local server in tests;
then the protocol is plain HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tools.registry import ToolError

MAX_LIMIT = 1000  # SearchLog's Limit ceiling


@dataclass(frozen=True)
class TencentAccess:
    """Where and as whom to call Tencent Cloud."""

    secret_id: str
    secret_key: str
    region: str
    endpoint: str | None = None

    @classmethod
    def from_env(
        cls, env: dict[str, str], id_env: str, key_env: str, region: str, endpoint: str | None = None
    ) -> TencentAccess:
        """Build from the environment variables named ``id_env`` and ``key_env``."""
        secret_id, secret_key = env.get(id_env), env.get(key_env)
        if not secret_id or not secret_key:
            raise ToolError(f"Tencent Cloud credentials missing: set {id_env} and {key_env}")
        return cls(secret_id, secret_key, region, endpoint)

    def client_profile(self, default_host: str) -> Any:
        """An SDK ClientProfile for this access (HTTP to ``endpoint`` when one is set)."""
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile

        http = HttpProfile(endpoint=self.endpoint or default_host)
        if self.endpoint:
            http.protocol = "http"
        http.reqTimeout = 15
        return ClientProfile(httpProfile=http)

    def credential(self) -> Any:
        """The SDK credential object."""
        from tencentcloud.common import credential

        return credential.Credential(self.secret_id, self.secret_key)


def sdk_error(exc: Exception) -> ToolError:
    """A ToolError carrying the SDK's error code and message."""
    code = getattr(exc, "code", None) or getattr(exc, "get_code", lambda: None)()
    message = getattr(exc, "message", None) or str(exc)
    return ToolError(f"Tencent Cloud error {code}: {message}")


class ClsSearch:
    """CLS ``SearchLog`` (API 2020-10-16) with ``Context`` paging."""

    def __init__(self, access: TencentAccess) -> None:
        from tencentcloud.cls.v20201016 import cls_client

        self._client = cls_client.ClsClient(
            access.credential(), access.region, access.client_profile("cls.tencentcloudapi.com")
        )

    def search(
        self, topic_id: str, query: str, start_ms: int, end_ms: int, *, limit: int = 1000, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Yield log records (``LogJson`` decoded) for ``query`` over [start_ms, end_ms], up to ``limit``."""
        from tencentcloud.cls.v20201016 import models
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        context = ""
        sent = 0
        while sent < limit:
            request = models.SearchLogRequest()
            request.TopicId = topic_id
            request.From = start_ms
            request.To = end_ms
            request.QueryString = query or "*"
            request.SyntaxRule = 1  # CQL
            request.Limit = min(page_size, MAX_LIMIT, limit - sent)
            request.Sort = "asc"
            if context:
                request.Context = context
            try:
                response = self._client.SearchLog(request)
            except TencentCloudSDKException as exc:
                raise sdk_error(exc) from None
            for item in response.Results or []:
                yield decode_log(item.LogJson, time_ms=item.Time, source=item.Source)
                sent += 1
                if sent >= limit:
                    return
            if response.ListOver or not response.Context:
                return
            context = response.Context


def decode_log(log_json: str | None, *, time_ms: int | None = None, source: str | None = None) -> dict[str, Any]:
    """A CLS ``LogJson`` string as a dict (a non-JSON body is kept as ``message``)."""
    record: dict[str, Any]
    try:
        decoded = json.loads(log_json or "{}")
        record = decoded if isinstance(decoded, dict) else {"message": decoded}
    except json.JSONDecodeError:
        record = {"message": log_json}
    if time_ms is not None:
        record.setdefault("__time_ms__", time_ms)
    if source:
        record.setdefault("__source__", source)
    return record


def tke_client(access: TencentAccess) -> Any:
    """A TKE API client (DescribeClusters, DescribeClusterInstances, RollbackClusterRelease...)."""
    from tencentcloud.tke.v20180525 import tke_client as tke

    return tke.TkeClient(access.credential(), access.region, access.client_profile("tke.tencentcloudapi.com"))
