"""Tencent Cloud Monitor's metric data (monitor API 2018-07-24 ``GetMonitorData``) as a read tool.

A Cloud Monitor metric alarm (a CLB listener's ``HttpCode5XX``, a CVM's ``CPUUsage``, a
database's ``SlowQueries``) carries exactly what the API needs to read its signal back: the
product's namespace (``qce/loadbalance`` in the callback, ``QCE/LOADBALANCE`` to the API), the
metric name and the object's dimensions. ``get_monitor_data`` asks for that series, so a
cloud alarm that no Prometheus series measures can still be sized before an action and
re-read after one.

The answer has the shape of a Prometheus matrix (``result: [{metric: dimensions, values:
[[epoch s, "value"], ...]}]``), the same as ``execute_range_query`` gives, so what reads one
reads the other. Two providers: :class:`TencentMonitor` (tencentcloud-sdk-python's
``MonitorClient``; ``endpoint`` points it at a local server in tests) and
:class:`WorldMonitor` (an eval world's declared Cloud Monitor metrics, tools/world_cloud.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, Field

from tools.metrics import parse_when
from tools.registry import Tool, ToolError
from tools.tencent import TencentAccess, sdk_error
from tools.world import World

TOOL = "get_monitor_data"
PERIODS = (10, 60, 300, 3600, 86400)  # the statistic periods Cloud Monitor metrics offer
MAX_POINTS = 7200  # GetMonitorData's data-point ceiling per request
# the short region names alarm callbacks (and the v2 API) use -> API 3.0 region ids
_REGIONS = {
    "bj": "ap-beijing", "sh": "ap-shanghai", "gz": "ap-guangzhou", "cd": "ap-chengdu", "cq": "ap-chongqing",
    "nj": "ap-nanjing", "hk": "ap-hongkong", "sg": "ap-singapore", "th": "ap-bangkok", "jkt": "ap-jakarta",
    "jp": "ap-tokyo", "kr": "ap-seoul", "in": "ap-mumbai", "sao": "sa-saopaulo", "ca": "na-toronto",
    "usw": "na-siliconvalley", "use": "na-ashburn", "de": "eu-frankfurt", "shjr": "ap-shanghai-fsi",
    "szjr": "ap-shenzhen-fsi", "bjjr": "ap-beijing-fsi", "tsn": "ap-tianjin", "szx": "ap-shenzhen",
}  # fmt: skip


def api_region(region: str | None) -> str | None:
    """The API region id for a callback's region (``sh`` → ``ap-shanghai``); an id passes through."""
    text = (region or "").strip().lower()
    if not text:
        return None
    return _REGIONS.get(text, text)


def api_namespace(namespace: str) -> str:
    """The namespace as the API writes it (callbacks send ``qce/loadbalance``; the API wants upper case)."""
    return namespace.strip().upper()


class MonitorProvider(Protocol):
    """A source of Cloud Monitor data points."""

    def monitor_data(
        self, namespace: str, metric: str, dimensions: dict[str, str], period: int, start: datetime, end: datetime,
        region: str | None,
    ) -> list[tuple[float, float]]:  # fmt: skip
        """(epoch seconds, value) points of one object's metric over [start, end]."""
        ...


class MonitorData(BaseModel):
    """Arguments of ``get_monitor_data``."""

    namespace: str = Field(min_length=1, description="Cloud Monitor namespace, e.g. QCE/LOADBALANCE, QCE/CVM.")
    metric: str = Field(min_length=1, description="MetricName, e.g. HttpCode5XX, CPUUsage.")
    dimensions: dict[str, str] = Field(
        min_length=1, description="The object's dimensions (Name -> Value), e.g. {InstanceId: ins-j0hk02zo}."
    )
    start: str = Field(description="RFC 3339 or Unix time.")
    end: str = Field(description="RFC 3339 or Unix time.")
    period: int = Field(default=60, description="Statistic period in seconds: 10, 60, 300, 3600 or 86400.")
    region: str | None = Field(default=None, description="Region (ap-shanghai, or a callback's short name: sh).")


class TencentMonitor:
    """``GetMonitorData`` through tencentcloud-sdk-python's monitor client, one client per region.

    ``access`` is called on first use: missing credentials are a tool error the caller can act on,
    not a failure to build the tool catalog.
    """

    def __init__(self, access: Callable[[], TencentAccess]) -> None:
        self._access = access
        self._clients: dict[str, Any] = {}

    def _client(self, region: str | None) -> Any:
        from tencentcloud.monitor.v20180724 import monitor_client

        access = self._access()
        region = api_region(region) or access.region
        if region not in self._clients:
            self._clients[region] = monitor_client.MonitorClient(
                access.credential(), region, access.client_profile("monitor.tencentcloudapi.com")
            )
        return self._clients[region]

    def monitor_data(
        self, namespace: str, metric: str, dimensions: dict[str, str], period: int, start: datetime, end: datetime,
        region: str | None,
    ) -> list[tuple[float, float]]:  # fmt: skip
        """One object's data points (the first DataPoint the API answers)."""
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.monitor.v20180724 import models

        request = models.GetMonitorDataRequest()
        request.Namespace = api_namespace(namespace)
        request.MetricName = metric
        instance = models.Instance()
        instance.Dimensions = []
        for name, value in dimensions.items():
            dimension = models.Dimension()
            dimension.Name, dimension.Value = name, value
            instance.Dimensions.append(dimension)
        request.Instances = [instance]
        request.Period = period
        request.StartTime = start.isoformat()
        request.EndTime = end.isoformat()
        try:
            response = self._client(region).GetMonitorData(request)
        except TencentCloudSDKException as exc:
            raise sdk_error(exc) from None
        points: list[tuple[float, float]] = []
        for point in response.DataPoints or []:
            points.extend(
                (float(t), float(v)) for t, v in zip(point.Timestamps or [], point.Values or [], strict=False)
                if v is not None
            )  # fmt: skip
        return sorted(points)


class WorldMonitor:
    """An eval world's Cloud Monitor: the signals its workloads and nodes declare for a metric and object."""

    def __init__(self, world: World) -> None:
        self.world = world

    def monitor_data(
        self, namespace: str, metric: str, dimensions: dict[str, str], period: int, start: datetime, end: datetime,
        region: str | None,
    ) -> list[tuple[float, float]]:  # fmt: skip
        """The declared signal's value at every period boundary in [start, end] (none when nothing declares it)."""
        from tools.world_cloud import answer_monitor

        return answer_monitor(self.world, namespace, metric, dimensions, period, start, end)


def monitor_tools(provider: MonitorProvider) -> list[Tool]:
    """``get_monitor_data`` over ``provider``."""

    def get_monitor_data(
        namespace: str, metric: str, dimensions: dict[str, str], start: str, end: str, period: int = 60,
        region: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        if period not in PERIODS:
            raise ToolError(f"period: {period} is not a Cloud Monitor period (one of {', '.join(map(str, PERIODS))})")
        lo, hi = parse_when(start), parse_when(end)
        if hi < lo:
            raise ToolError("end: before start")
        if (hi - lo) / timedelta(seconds=period) > MAX_POINTS:
            raise ToolError(f"start/end: more than {MAX_POINTS} points at period {period}; use a longer period")
        points = provider.monitor_data(namespace, metric, dimensions, period, lo, hi, region)
        values = [[t, str(v)] for t, v in points]
        return {
            "namespace": api_namespace(namespace),
            "metric": metric,
            "period": period,
            "resultType": "matrix",
            "result": [{"metric": dict(dimensions), "values": values}] if values else [],
        }

    return [
        Tool(
            TOOL,
            "Tencent Cloud Monitor data of one object's metric (GetMonitorData): the namespace, metric and "
            "dimensions a Cloud Monitor alarm names. Answers a Prometheus-style matrix.",
            MonitorData,
            get_monitor_data,
        )
    ]
