"""Small, pure helpers over PromQL text (no evaluation: Prometheus does that)."""

from __future__ import annotations

import re

_COMPARISON = re.compile(
    r"^(?P<lhs>.+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?:bool\s+)?(?P<rhs>[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?)\s*$",
    re.S,
)


def normalize(expr: str) -> str:
    """Whitespace-insensitive form of ``expr`` for matching."""
    return re.sub(r"\s+", "", expr)


def split_comparison(expr: str) -> tuple[str, str | None, float | None]:
    """Split ``lhs > 0.05`` into ``(lhs, ">", 0.05)``; no comparison gives ``(expr, None, None)``.

    Only a trailing comparison against a scalar at the outermost level counts, which is
    how alerting rules are written.
    """
    match = _COMPARISON.match(expr.strip())
    if not match:
        return expr.strip(), None, None
    lhs = match["lhs"].strip()
    if lhs.count("(") != lhs.count(")"):
        return expr.strip(), None, None
    return lhs, match["op"], float(match["rhs"])


def with_labels(metric: str, labels: dict[str, str]) -> str:
    """``metric{k="v",...}`` with labels sorted, values escaped."""
    if not labels:
        return metric
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{body}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
