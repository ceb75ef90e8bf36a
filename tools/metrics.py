"""Metrics providers and the metrics tools (named as prometheus-mcp-server names them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from tools.registry import Tool, ToolError
from tools.world import World


class MetricsProvider(Protocol):
    """A source of PromQL answers."""

    def instant(self, query: str, at: datetime | None = None) -> list[dict[str, Any]]:
        """Instant vector for ``query``."""
        ...

    def range(self, query: str, start: datetime, end: datetime, step_s: float) -> list[dict[str, Any]]:
        """Range matrix for ``query``."""
        ...

    def metric_names(self) -> list[str]:
        """Every metric name the source knows."""
        ...

    def metadata(self, metric: str | None = None) -> list[dict[str, Any]]:
        """Metric metadata (type, help, unit)."""
        ...

    def targets(self, state: str | None = None) -> dict[str, Any]:
        """Scrape targets."""
        ...


class PrometheusMetrics:
    """A real Prometheus HTTP API: queries over one pooled urllib3 connection, the rest through prometheus-api-client.

    Instant and range queries are the hot path (every diagnosis, every verify, every MCP
    ``execute_query``): a direct keep-alive GET with orjson decoding costs a fraction of
    a requests session's per-call work (environment proxy lookups, hooks, adapters).
    """

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        import urllib3
        from prometheus_api_client import PrometheusConnect  # heavy: imported on use

        self.url = url
        self.timeout_s = timeout_s
        self._client = PrometheusConnect(url=url, disable_ssl=True, retry=None)
        self._pool = urllib3.PoolManager(maxsize=4, retries=False, timeout=urllib3.Timeout(total=timeout_s))

    def _query(self, what: str, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """GET ``/api/v1/<path>`` and return ``data.result``; ToolError naming what went wrong."""
        import orjson
        import urllib3

        try:
            answer = self._pool.request("GET", f"{self.url.rstrip('/')}/api/v1/{path}", fields=params)
        except urllib3.exceptions.HTTPError as exc:
            raise ToolError(f"Prometheus at {self.url} is unreachable: {type(exc).__name__}") from None
        try:
            body = orjson.loads(answer.data)
        except orjson.JSONDecodeError:
            body = {}
        if answer.status != 200 or body.get("status") != "success":
            reason = body.get("error") or answer.data[:200].decode(errors="replace")
            raise ToolError(f"Prometheus at {self.url} rejected {what}: HTTP {answer.status}: {reason}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def _run(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import requests
        from prometheus_api_client import PrometheusApiClientException

        try:
            return fn(*args, **kwargs)
        except PrometheusApiClientException as exc:
            raise ToolError(f"Prometheus at {self.url} rejected {what}: {exc}") from None
        except requests.RequestException as exc:
            raise ToolError(f"Prometheus at {self.url} is unreachable: {type(exc).__name__}") from None

    def instant(self, query: str, at: datetime | None = None) -> list[dict[str, Any]]:
        """Instant vector for ``query``."""
        params = {"query": query, **({"time": str(at.timestamp())} if at else {})}
        return self._query(query, "query", params)

    def range(self, query: str, start: datetime, end: datetime, step_s: float) -> list[dict[str, Any]]:
        """Range matrix for ``query``."""
        # whole seconds, as prometheus-api-client sent them: the same evaluation timestamps as before
        params = {"query": query, "start": str(round(start.timestamp())), "end": str(round(end.timestamp())),
                  "step": f"{max(step_s, 1):g}s"}  # fmt: skip
        return self._query(query, "query_range", params)

    def metric_names(self) -> list[str]:
        """Every metric name Prometheus knows."""
        names: list[str] = self._run("label values", self._client.all_metrics)
        return names

    def metadata(self, metric: str | None = None) -> list[dict[str, Any]]:
        """Type, help and unit of ``metric`` (or of every metric)."""
        result: list[dict[str, Any]] = self._run("metadata", self._client.get_metric_metadata, metric=metric)
        return result

    def targets(self, state: str | None = None) -> dict[str, Any]:
        """Scrape targets (active and dropped) with their health."""
        result: dict[str, Any] = self._run("targets", self._client.get_targets, state=state)
        return result


class WorldMetrics:
    """Answers from a scenario world (demo, evals)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def instant(self, query: str, at: datetime | None = None) -> list[dict[str, Any]]:
        """Instant vector for ``query`` at the world's current state."""
        return self.world.instant(query)

    def range(self, query: str, start: datetime, end: datetime, step_s: float) -> list[dict[str, Any]]:
        """Range matrix for ``query`` over the world's history."""
        return self.world.range(query, start, end, step_s)

    def metric_names(self) -> list[str]:
        """Metric names of the world's series and of the selectors in the queries it declares."""
        from tools.world_promql import metric_names

        return metric_names(self.world)

    def metadata(self, metric: str | None = None) -> list[dict[str, Any]]:
        """The world's metrics as gauges."""
        names = [metric] if metric else self.metric_names()
        return [{"metric_name": n, "type": "gauge", "help": "scenario world signal", "unit": ""} for n in names]

    def targets(self, state: str | None = None) -> dict[str, Any]:
        """One healthy pseudo-target for the world's service."""
        target = {"labels": {"job": self.world.spec.service}, "health": "up", "scrapeUrl": "world://"}
        return {"activeTargets": [target], "droppedTargets": []}


class ExecuteQuery(BaseModel):
    """Arguments of ``execute_query``."""

    query: str = Field(min_length=1, description="PromQL expression.")
    time: str | None = Field(default=None, description="RFC 3339 or Unix time; default now.")


class ExecuteRangeQuery(BaseModel):
    """Arguments of ``execute_range_query``."""

    query: str = Field(min_length=1, description="PromQL expression.")
    start: str = Field(description="RFC 3339 or Unix time.")
    end: str = Field(description="RFC 3339 or Unix time.")
    step: str = Field(default="60s", description="Resolution, e.g. 15s, 1m.")


class NoArgs(BaseModel):
    """No arguments."""


class MetricMetadata(BaseModel):
    """Arguments of ``get_metric_metadata``."""

    metric: str | None = Field(default=None, description="Metric name; omit for every metric.")


class GetTargets(BaseModel):
    """Arguments of ``get_targets``."""

    state: Literal["active", "dropped", "any"] | None = Field(default=None, description="Filter by target state.")


def parse_when(value: str) -> datetime:
    """RFC 3339 or Unix seconds into aware UTC."""
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ToolError(f"not a timestamp: {value!r} (use RFC 3339 or Unix seconds)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_step(step: str) -> float:
    """``15s``, ``1m``, ``1h`` or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = step.strip().lower()
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise ToolError(f"not a step: {step!r} (e.g. 15s, 1m)") from None


def metrics_tools(provider: MetricsProvider) -> list[Tool]:
    """The read-only metrics tools over ``provider``."""

    def execute_query(query: str, time: str | None = None) -> dict[str, Any]:
        at = parse_when(time) if time else None
        return {"resultType": "vector", "result": provider.instant(query, at)}

    def execute_range_query(query: str, start: str, end: str, step: str = "60s") -> dict[str, Any]:
        result = provider.range(query, parse_when(start), parse_when(end), parse_step(step))
        return {"resultType": "matrix", "result": result}

    def list_metrics() -> list[str]:
        return provider.metric_names()

    def get_metric_metadata(metric: str | None = None) -> list[dict[str, Any]]:
        return provider.metadata(metric)

    def get_targets(state: str | None = None) -> dict[str, Any]:
        return provider.targets(state)

    return [
        Tool("execute_query", "Run an instant PromQL query.", ExecuteQuery, execute_query),
        Tool(
            "execute_range_query",
            "Run a PromQL range query.",
            ExecuteRangeQuery,
            execute_range_query,
        ),
        Tool("list_metrics", "List metric names.", NoArgs, list_metrics),
        Tool("get_metric_metadata", "Type, help and unit of a metric.", MetricMetadata, get_metric_metadata),
        Tool("get_targets", "Scrape targets and their health.", GetTargets, get_targets),
    ]
