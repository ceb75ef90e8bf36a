"""Charts of the operations stats for ``/ui/stats``: matplotlib (Agg) to SVG, inlined as data URIs.

An ``<img src="data:image/svg+xml;base64,...">`` cannot run script, needs no second request
(each would recompute the stats), and scales with the page.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from state.stats import OperationsStats

BLUE, GREEN, RED, GREY, ORANGE = "#4c72b0", "#55a868", "#c44e52", "#8c8c8c", "#dd8452"


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _daily(stats: OperationsStats, plt: Any) -> str:
    fig, ax = plt.subplots(figsize=(9, 3.2))
    days = [d.day[5:] for d in stats.days]
    ax.bar(days, [d.incidents for d in stats.days], color=BLUE, label="incidents")
    ax.bar(days, [d.escalated for d in stats.days], color=RED, label="escalated")
    ax.set_ylabel("incidents")
    rate = ax.twinx()
    rate.plot(days, [d.success_rate for d in stats.days], color=ORANGE, marker=".", label="ladder success rate")
    rate.set_ylim(0, 1.05)
    rate.set_ylabel("success rate")
    step = max(1, len(days) // 12)
    ax.set_xticks(range(0, len(days), step), days[::step], rotation=30, fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    rate.legend(loc="upper right", fontsize=8)
    ax.set_title("incidents per day, and how often the ladder's fix held")
    return _svg(fig)


def _rungs(stats: OperationsStats, plt: Any) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    names = [f"{r.rung} {r.operation}" for r in stats.rungs]
    ax.barh(names, [r.verified for r in stats.rungs], color=GREEN, label="verified fix")
    ax.barh(names, [r.failed for r in stats.rungs], left=[r.verified for r in stats.rungs], color=RED, label="failed")
    for i, row in enumerate(stats.rungs):
        if row.success_rate is not None:
            ax.annotate(f"{row.success_rate:.0%}", (row.verified + row.failed, i), xytext=(4, -3),
                        textcoords="offset points", fontsize=8)  # fmt: skip
    ax.invert_yaxis()
    ax.margins(x=0.15)  # room for the rate labels
    ax.legend(fontsize=8, loc="best")
    ax.set_title("per rung: verified outcomes")
    return _svg(fig)


def _patterns(stats: OperationsStats, plt: Any) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    rows = stats.patterns[:10]
    names = [p.pattern for p in rows]
    fixed = [p.fixed for p in rows]
    escalated = [p.escalated for p in rows]
    other = [p.incidents - p.fixed - p.escalated for p in rows]
    ax.barh(names, fixed, color=GREEN, label="fixed by the ladder")
    ax.barh(names, escalated, left=fixed, color=RED, label="escalated")
    ax.barh(names, other, left=[f + e for f, e in zip(fixed, escalated, strict=True)], color=GREY, label="other")
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("per failure pattern: how incidents ended")
    return _svg(fig)


def _escalations(stats: OperationsStats, plt: Any) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    rows = stats.escalations[:10]
    ax.barh([f"{e.reason} ({e.pattern})" for e in rows], [e.count for e in rows], color=RED)
    ax.invert_yaxis()
    ax.set_title("escalations and why")
    return _svg(fig)


def _budget(stats: OperationsStats, plt: Any) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    tiers = [b.tier for b in stats.budget]
    per = [b.budget / b.incidents if b.incidents else 0 for b in stats.budget]
    spent = [b.spent / b.incidents if b.incidents else 0 for b in stats.budget]
    xs = range(len(tiers))
    ax.bar([x - 0.2 for x in xs], per, width=0.4, color=GREY, label="budget per incident")
    ax.bar([x + 0.2 for x in xs], spent, width=0.4, color=BLUE, label="attempts spent per incident")
    ax.set_xticks(list(xs), tiers)
    ax.legend(fontsize=8)
    ax.set_title("budget spent against tier")
    return _svg(fig)


def render(stats: OperationsStats) -> dict[str, str]:
    """The page's charts (name → data URI); a chart with nothing to show is left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.fonttype": "none", "font.size": 9}):
        charts = {
            "daily": _daily(stats, plt) if stats.days else "",
            "rungs": _rungs(stats, plt) if stats.rungs else "",
            "patterns": _patterns(stats, plt) if stats.patterns else "",
            "escalations": _escalations(stats, plt) if stats.escalations else "",
            "budget": _budget(stats, plt) if stats.budget else "",
        }
    return {name: uri for name, uri in charts.items() if uri}
