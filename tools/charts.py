"""Charts: an incident's key metric, and the overview of a briefing's day.

The key series is the alert's own signal: the ``execute_range_query`` call whose query
a metric finding names (the diagnosis compares that series with its baseline). The
overview puts the day's incidents on one row per service at the hour they opened,
coloured by how they ended, above the actions taken, marked by what verification said;
an empty day still gets its chart (it says so). Charts are PNG bytes (matplotlib, Agg
backend, no display needed) for emails and web pages. Chinese labels need a CJK font
(fonts-noto-cjk or fonts-wqy-microhei); without one the labels are English.
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


# ---------------------------------------------------------------------- the day's overview

OUTCOME_STYLE = {  # outcome -> (colour, marker)
    "resolved": ("#2e7d32", "o"), "escalated": ("#c62828", "s"), "awaiting_approval": ("#ef6c00", "D"),
    "open": ("#1565c0", "o"), "failed": ("#616161", "X"),
}  # fmt: skip
VERDICT_STYLE = {
    "verified": ("#2e7d32", "o"), "not_verified": ("#c62828", "x"), "undone": ("#6a1b9a", "v"),
    "unverified": ("#9e9e9e", "^"), "failed": ("#616161", "X"),
}  # fmt: skip
WORDS = {
    "en": {"hour": "hour of the day (local)", "incidents": "incidents", "actions": "actions", "none": "no incidents",
           "no_actions": "no actions taken", "awaiting_approval": "awaiting approval", "not_verified": "not verified"},
    "zh": {"hour": "当日时刻（本地）", "incidents": "事件", "actions": "处置", "none": "当日无事件",
           "no_actions": "当日无处置", "resolved": "已解决", "escalated": "转人工", "awaiting_approval": "待批准",
           "open": "处理中", "failed": "失败", "verified": "验证通过", "not_verified": "未通过", "undone": "已撤销",
           "unverified": "无法验证"},
}  # fmt: skip
MAX_ROWS = 10


@dataclass(frozen=True)
class DayIncident:
    """An incident on the overview: its service, the local hour it opened (0-24) and how it ended."""

    service: str
    hour: float
    outcome: str


@dataclass(frozen=True)
class DayAction:
    """An action on the overview: the service, the local hour, the operation and its verification."""

    service: str
    hour: float
    action: str
    verdict: str


def _cjk_font() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    wanted = ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "SimHei")
    return next((n for n in wanted if n in names), None)


def _rows(names: list[str]) -> list[str]:
    """Row labels, busiest first; past MAX_ROWS the rest share one "other" row."""
    from collections import Counter

    ranked = [n for n, _ in Counter(names).most_common()]
    return ranked if len(ranked) <= MAX_ROWS else [*ranked[: MAX_ROWS - 1], "other"]


def _row_of(name: str, rows: list[str]) -> int:
    return rows.index(name) if name in rows else len(rows) - 1


def overview_png(day: str, incidents: list[DayIncident], actions: list[DayAction], language: str = "en") -> bytes:
    """The day at a glance: incidents per service by hour coloured by outcome, and the actions by verification."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    font = _cjk_font() if language == "zh" else None
    words = WORDS["zh" if font else "en"]
    label = lambda key: words.get(key, key.replace("_", " "))  # noqa: E731 - a lookup, not a function worth a name
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(9, 5.2), dpi=100, sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    try:
        if font:
            plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
        _panel(top, [(i.service, i.hour, i.outcome) for i in incidents], OUTCOME_STYLE, label, label("none"))
        top.set_title(f"{day} · {len(incidents)} {label('incidents')} · {len(actions)} {label('actions')}", fontsize=10)
        top.set_ylabel(label("incidents"))
        acted = [(f"{a.service}: {a.action}", a.hour, a.verdict) for a in actions]
        _panel(bottom, acted, VERDICT_STYLE, label, label("no_actions"))
        bottom.set_ylabel(label("actions"))
        bottom.set_xlim(0, 24)
        bottom.set_xticks(range(0, 25, 3))
        bottom.set_xlabel(label("hour"))
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
        if font:
            plt.rcParams["font.sans-serif"] = matplotlib.rcParamsDefault["font.sans-serif"]


def _panel(axes: Any, points: list[tuple[str, float, str]], styles: dict[str, tuple[str, str]], label: Any,
           empty: str) -> None:  # fmt: skip
    """One row per name, a marker per point at its hour, styled (and counted in the legend) by its kind."""
    rows = _rows([name for name, _h, _k in points])
    axes.grid(axis="x", alpha=0.3)
    if not points:
        axes.set_yticks([])
        axes.text(0.5, 0.5, empty, transform=axes.transAxes, ha="center", va="center", color="#757575")
        return
    for kind, (colour, marker) in styles.items():
        chosen = [(h, _row_of(n, rows)) for n, h, k in points if k == kind]
        if chosen:
            axes.scatter([h for h, _r in chosen], [r for _h, r in chosen], c=colour, marker=marker, s=46,
                         alpha=0.85, label=f"{label(kind)} ({len(chosen)})", zorder=3)  # fmt: skip
    axes.set_yticks(range(len(rows)))
    axes.set_yticklabels([r[:24] for r in rows], fontsize=8)
    axes.set_ylim(-0.7, len(rows) - 0.3)
    axes.invert_yaxis()
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
