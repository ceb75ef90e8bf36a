"""Charts of an incident's key metric, drawn from the range queries its agents recorded.

The key series is the alert's own signal: the ``execute_range_query`` call whose query
a metric finding names (the diagnosis compares that series with its baseline). Charts
are PNG bytes (matplotlib, Agg backend, no display needed) for emails and web pages.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Series:
    """One metric series: the query that produced it and its points."""

    query: str
    label: str
    points: list[tuple[datetime, float]]


def _points(values: list[list[Any]]) -> list[tuple[datetime, float]]:
    points = []
    for stamp, value in values:
        try:
            points.append((datetime.fromtimestamp(float(stamp), tz=UTC), float(value)))
        except (TypeError, ValueError):
            continue
    return points


def _label(metric: dict[str, Any]) -> str:
    name = metric.get("__name__", "")
    labels = ",".join(f"{k}={v}" for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{labels}}}" if labels else (name or "value")


def key_series(tool_calls: list[dict[str, Any]], findings: list[dict[str, Any]]) -> list[Series]:
    """The incident's key metric series from its recorded range queries.

    Prefers queries named by metric findings (the alert's signal); falls back to the
    first successful range query with numeric points.
    """
    wanted = [f.get("query") for f in findings if f.get("kind") == "metric" and f.get("query")]
    ranges = [c for c in tool_calls if c.get("tool") == "execute_range_query" and c.get("status") == "success"]
    chosen = [c for c in ranges if c.get("args", {}).get("query") in wanted] or ranges[:1]
    series: list[Series] = []
    for call in chosen[:1]:
        result = call.get("result") or {}
        matrix = result.get("result", []) if isinstance(result, dict) else []
        for entry in matrix[:5]:
            points = _points(entry.get("values") or [])
            if points:
                series.append(Series(call["args"]["query"], _label(entry.get("metric") or {}), points))
    return series


def render_png(title: str, series: list[Series], *, marker: datetime | None = None) -> bytes:
    """A PNG line chart of ``series`` (a vertical line at ``marker``, e.g. the alert start)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import dates as mdates
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 3.2), dpi=100)
    try:
        for item in series:
            stamps = mdates.date2num([p[0] for p in item.points])
            axes.plot(stamps, [p[1] for p in item.points], label=item.label[:80], linewidth=1.6)
        if marker is not None:
            axes.axvline(float(mdates.date2num(marker)), color="tab:red", linestyle="--", linewidth=1, label="alert")
        axes.set_title(title[:90], fontsize=10)
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
        axes.set_xlabel("UTC")
        axes.grid(alpha=0.3)
        if series:
            axes.legend(fontsize=7, loc="upper left")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)


def incident_chart(doc: dict[str, Any], tool_calls: list[dict[str, Any]]) -> bytes | None:
    """The PNG of an incident's key metric, or None when it recorded no usable range query."""
    series = key_series(tool_calls, doc.get("findings") or [])
    if not series:
        return None
    alert = doc.get("alert") or {}
    starts = alert.get("starts_at")
    marker = datetime.fromisoformat(starts) if isinstance(starts, str) else None
    return render_png(f"{doc.get('id')} · {alert.get('name')} · {alert.get('service') or ''}", series, marker=marker)
