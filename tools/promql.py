"""Small, pure helpers over PromQL text (no evaluation: Prometheus does that)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

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


_SET_OPERATORS = frozenset({"and", "or", "unless"})
_COMPARISONS = frozenset({">", ">=", "<", "<=", "==", "!="})


def alert_condition(expr: str) -> tuple[str | None, float | None]:
    """The comparison an alerting expression fires on: ``(op, threshold)`` on its main branch.

    ``X > 0 unless on (pod) Y == 1`` fires on ``X > 0`` (the ``unless`` side only mutes it), so the
    main branch is followed through set operators' left side; ``5 < X`` is ``X > 5``. Falls back
    to the trailing comparison when the expression does not parse.
    """
    import promql_parser

    node: Any
    try:
        node = promql_parser.parse(expr)
    except ValueError:
        _, op, threshold = split_comparison(expr)
        return op, threshold
    while True:
        kind = type(node).__name__
        if kind == "ParenExpr":
            node = node.expr
        elif kind == "BinaryExpr" and str(node.op) in _SET_OPERATORS:
            node = node.lhs
        else:
            break
    if type(node).__name__ != "BinaryExpr" or str(node.op) not in _COMPARISONS:
        return None, None
    if node.modifier is not None and node.modifier.return_bool:
        return None, None
    op = str(node.op)
    if type(node.rhs).__name__ == "NumberLiteral":
        return op, float(node.rhs.val)
    if type(node.lhs).__name__ == "NumberLiteral":
        flipped = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}[op]
        return flipped, float(node.lhs.val)
    return op, None  # vector against vector: it fires while the comparison answers anything


def value_expression(expr: str) -> str | None:
    """What an alerting expression compares, as PromQL: ``X * 100`` of ``X * 100 > 80 and Y > 0``.

    The left side of the comparison on the expression's main branch (through set operators'
    left side); None when there is no such comparison or it does not parse. Unlike the trailing
    :func:`split_comparison`, it answers while healthy too, so a value can be followed down.
    """
    import promql_parser

    node: Any
    try:
        node = promql_parser.parse(expr)
    except ValueError:
        return None
    while True:
        kind = type(node).__name__
        if kind == "ParenExpr":
            node = node.expr
        elif kind == "BinaryExpr" and str(node.op) in _SET_OPERATORS:
            node = node.lhs
        else:
            break
    if type(node).__name__ != "BinaryExpr" or str(node.op) not in _COMPARISONS:
        return None
    if type(node.rhs).__name__ == "NumberLiteral":
        return str(node.lhs)
    if type(node.lhs).__name__ == "NumberLiteral":
        return str(node.rhs)
    return None


_RANGE = re.compile(r"\[(\d+(?:\.\d+)?)(ms|s|m|h|d|w)(?::[^\]]*)?\]")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def range_window_s(expr: str) -> float:
    """The longest range an expression reads (``rate(x[5m])`` → 300; subqueries ``[1h:5m]`` → 3600; none → 0)."""
    return max((float(n) * _UNIT_S[unit] for n, unit in _RANGE.findall(expr)), default=0.0)


def with_labels(metric: str, labels: dict[str, str]) -> str:
    """``metric{k="v",...}`` with labels sorted, values escaped."""
    if not labels:
        return metric
    body = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{body}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


MAX_POINTS = 2000  # per series in one range query (Prometheus refuses more than 11,000)


def range_step(start: datetime, end: datetime, floor_s: int = 60) -> str:
    """The step of a range query over [start, end]: ``floor_s``, coarser when that would exceed MAX_POINTS."""
    span = max((end - start).total_seconds(), 0.0)
    return f"{max(floor_s, math.ceil(span / MAX_POINTS))}s"
