"""The raw series behind a PromQL expression: what to write so Prometheus answers it with a given value.

A world query says "this expression measures that signal". A real Prometheus can only
answer it from raw series, so :func:`plan` works the expression backwards (parsed with
promql-parser) into **leaves**: raw series, each with a function from the expression's
value to the leaf's value at that moment. The forms it inverts, composed freely:

- a selector ``M{...}``: a gauge; ``rate``/``irate``/``increase`` of one: a counter; the
  ``max|min|avg|last_over_time`` of one: a gauge;
- ``sum|max|min|avg|topk|bottomk`` (``by``/``without``), ``clamp_min|max``, parentheses:
  one series carries the value;
- arithmetic with a number (``x * 100``, ``60 * x``, ``x - 1``), a comparison with one
  (``> 0.05``: Prometheus filters);
- a ratio ``A / B``: when A is B narrowed by more matchers (``code=~"5.."``, ``grpc_code!="OK"``)
  behind a ``sum``, the share of one series split in two (value and 1 - value); else B is
  a base (a limit, a size, a request rate) of a fixed value and A is value x base;
- ``histogram_quantile(q, sum by (le) (rate(B_bucket[...])))``: buckets whose q-quantile
  interpolates to the value.

Label values come from the expression's equality matchers, the answer's declared labels
(what an aggregation keeps) and, for a regex or negative matcher, a value satisfying it.
Anything else raises :class:`UnsupportedQuery` naming the part it cannot write: guessing
the series behind an arbitrary expression would test the guess, not the agent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import promql_parser as pq

REQUESTS_PER_S = 20.0  # the request rate a counter split in two (or a rate base) carries
CPU_LIMIT = 2.0
MEMORY_LIMIT = 1024.0**3
FILESYSTEM_SIZE = 100 * 1024.0**3
_CANDIDATES = ("500", "200", "OK", "error", "true", "false", "1", "0", "default", "x")
_GOOD = ("200", "OK", "2xx", "SUCCESS", "success", "ok", "info", "0", "false", "x")


class UnsupportedQuery(ValueError):
    """A world query whose raw series cannot be written faithfully."""


@dataclass(frozen=True)
class Leaf:
    """One raw series to write, and how its value follows the expression's value ``v``.

    A gauge's sample is ``fn(v)``; a counter grows by ``scale * dt * fn(v)`` a step (``fn``
    is then a per-second rate); histogram buckets make their ``quantile`` interpolate to ``fn(v)``.
    """

    metric: str
    labels: tuple[tuple[str, str], ...]
    kind: Literal["gauge", "counter", "buckets"]
    fn: Callable[[float], float]
    scale: float = 1.0
    quantile: float = 0.0

    def then(self, outer: Callable[[float], float]) -> Leaf:
        """The same leaf fed by ``outer(v)`` instead of ``v``."""
        inner = self.fn
        return replace(self, fn=lambda v: inner(outer(v)))


def plan(expr: str, declared: dict[str, str] | None = None) -> list[Leaf]:
    """The leaves whose series make Prometheus answer ``expr`` with the value fed to them."""
    try:
        tree = pq.parse(expr)
    except ValueError as exc:
        raise UnsupportedQuery(f"{expr!r} is not PromQL: {str(exc).splitlines()[0]}") from None
    return _plan(tree, dict(declared or {}))


def _plan(node: Any, need: dict[str, str]) -> list[Leaf]:
    kind = type(node).__name__
    if kind == "ParenExpr":
        return _plan(node.expr, need)
    if kind == "VectorSelector":
        return [_selector(node, need, "gauge")]
    if kind == "Call":
        return _call(node, need)
    if kind == "AggregateExpr":
        return _aggregate(node, need)
    if kind == "BinaryExpr":
        return _binary(node, need)
    raise UnsupportedQuery(f"no raw series known for {_text(node)!r}")


def _text(node: Any) -> str:
    return str(node.prettify()).replace("\n", " ") if hasattr(node, "prettify") else type(node).__name__


# --------------------------------------------------------------------------- selectors and label values


def _selector(node: Any, need: dict[str, str], kind: Literal["gauge", "counter", "buckets"]) -> Leaf:
    if type(node).__name__ != "VectorSelector" or not node.name:
        raise UnsupportedQuery(f"no raw series known for {_text(node)!r}")
    if node.offset is not None or node.at is not None:
        raise UnsupportedQuery(f"{node.name}: offset/@ modifiers are not written")
    labels = dict(need)
    matchers = [m for m in node.matchers.matchers if m.name != "__name__"]
    for m in matchers:
        if str(m.op) == "MatchOp.Equal":
            if labels.get(m.name, m.value) != m.value:
                raise UnsupportedQuery(f"{node.name}: {m.name}={m.value!r} contradicts the answer's {labels[m.name]!r}")
            labels[m.name] = m.value
    for m in matchers:
        if not _satisfies(labels.get(m.name, ""), m):
            labels[m.name] = _sample(m, node.name)
    labels = {k: v for k, v in labels.items() if v != ""}
    return Leaf(node.name, tuple(sorted(labels.items())), kind, lambda v: v)


def _satisfies(value: str, matcher: Any) -> bool:
    op = str(matcher.op)
    if op == "MatchOp.Equal":
        return value == matcher.value
    if op == "MatchOp.NotEqual":
        return value != matcher.value
    full = re.fullmatch(matcher.value, value) is not None
    return full if op == "MatchOp.Re" else not full


def _sample(matcher: Any, metric: str) -> str:
    """A label value satisfying a regex or negative matcher."""
    guess = re.sub(r"\.\*|\^|\$", "", matcher.value)
    guess = re.sub(r"\.\+", "x", guess)
    guess = re.sub(r"\\d|\.", "0", guess)
    guess = re.sub(r"\(([^|)]*)[^)]*\)", r"\1", guess)
    guess = re.sub(r"\[(.)[^\]]*\]", r"\1", guess)
    for value in (guess, *_CANDIDATES):
        if value and _satisfies(value, matcher):
            return value
    raise UnsupportedQuery(f"{metric}: no label value found for {matcher.name} {matcher.op} {matcher.value!r}")


def _violating(matchers: list[Any], metric: str) -> dict[str, str]:
    """Label values failing at least one of ``matchers`` (the rest of a series split in two)."""
    for value in _GOOD:
        if not all(_satisfies(value, m) for m in matchers):
            return {matchers[0].name: value} if len(matchers) == 1 else {m.name: value for m in matchers}
    raise UnsupportedQuery(f"{metric}: no label value outside {[m.value for m in matchers]}")


# --------------------------------------------------------------------------- functions and aggregations

_OVER_TIME = frozenset({"max_over_time", "min_over_time", "avg_over_time", "last_over_time"})
_RATES = frozenset({"rate", "irate", "increase"})


def _call(node: Any, need: dict[str, str]) -> list[Leaf]:
    name = node.func.name
    if name in _RATES or name in _OVER_TIME:
        matrix = node.args[0]
        if type(matrix).__name__ != "MatrixSelector":
            raise UnsupportedQuery(f"{name}() of {_text(matrix)!r} is not written")
        if name in _OVER_TIME:
            return [_selector(matrix.vector_selector, need, "gauge")]
        leaf = _selector(matrix.vector_selector, need, "counter")
        seconds = matrix.range.total_seconds()
        return [leaf.then(lambda v: v / seconds) if name == "increase" else leaf]
    if name in ("clamp_min", "clamp_max", "abs"):
        return _plan(node.args[0], need)
    if name == "histogram_quantile":
        return [_buckets(node, need)]
    raise UnsupportedQuery(f"{name}() is not written")


def _buckets(node: Any, need: dict[str, str]) -> Leaf:
    quantile = node.args[0]
    if type(quantile).__name__ != "NumberLiteral":
        raise UnsupportedQuery("histogram_quantile: the quantile must be a number")
    inner = node.args[1]
    need = {k: v for k, v in need.items() if k != "le"}
    while type(inner).__name__ in ("ParenExpr", "AggregateExpr"):
        if type(inner).__name__ == "AggregateExpr":
            if str(inner.op) != "sum":
                raise UnsupportedQuery(f"histogram_quantile over {inner.op}() is not written")
            need = _kept(inner, need)
        inner = inner.expr
    if type(inner).__name__ != "Call" or inner.func.name not in ("rate", "irate", "increase"):
        raise UnsupportedQuery("histogram_quantile: expected buckets under rate()")
    selector = inner.args[0].vector_selector
    if not str(selector.name).endswith("_bucket"):
        raise UnsupportedQuery(f"{selector.name}: histogram buckets end in _bucket")
    leaf = _selector(selector, need, "buckets")
    return replace(leaf, quantile=float(quantile.val))


def _aggregate(node: Any, need: dict[str, str]) -> list[Leaf]:
    op = str(node.op)
    if op not in ("sum", "max", "min", "avg", "topk", "bottomk"):
        raise UnsupportedQuery(f"{op}() is not written")
    return _plan(node.expr, _kept(node, need))


def _kept(aggregation: Any, need: dict[str, str]) -> dict[str, str]:
    """The answer's labels an aggregation lets through (those its inner series must carry)."""
    modifier = aggregation.modifier
    keep = list(modifier.labels) if modifier is not None else []
    without = modifier is not None and "without" in str(modifier.type).lower()
    return {k: v for k, v in need.items() if (k not in keep if without else k in keep)}


# --------------------------------------------------------------------------- binary operators

_COMPARISONS = frozenset({">", ">=", "<", "<=", "==", "!="})
_INVERSE: dict[str, Callable[[float, float, bool], float]] = {  # (value, number, number on the left) -> operand
    "*": lambda v, n, _left: v / n,
    "/": lambda v, n, left: n / v if left else v * n,
    "+": lambda v, n, _left: v - n,
    "-": lambda v, n, left: n - v if left else v + n,
}


def _binary(node: Any, need: dict[str, str]) -> list[Leaf]:
    op = str(node.op)
    lhs_number = type(node.lhs).__name__ == "NumberLiteral"
    rhs_number = type(node.rhs).__name__ == "NumberLiteral"
    if node.modifier is not None and node.modifier.return_bool:
        raise UnsupportedQuery(f"a {op} bool comparison is not written")
    if lhs_number or rhs_number:
        side, number = (node.rhs, float(node.lhs.val)) if lhs_number else (node.lhs, float(node.rhs.val))
        if op in _COMPARISONS:
            return _plan(side, need)  # the series carry the value; Prometheus filters it
        if op not in _INVERSE or (op in ("*", "/") and number == 0):
            raise UnsupportedQuery(f"{op} with a number is not written")
        invert = _INVERSE[op]

        def operand(v: float) -> float:
            return invert(v, number, lhs_number)

        return [leaf.then(operand) for leaf in _plan(side, need)]
    if op == "/":
        return _ratio(node, need)
    raise UnsupportedQuery(f"vector {op} vector is not written (only a ratio A / B is)")


def _ratio(node: Any, need: dict[str, str]) -> list[Leaf]:
    split = _subset_ratio(node, need)
    if split is not None:
        return split
    den = _plan(node.rhs, need)
    num = _plan(node.lhs, need)
    if len(den) != 1 or len(num) != 1:
        raise UnsupportedQuery("a ratio of more than one series a side is not written")
    base = _base(den[0])
    _check_matching(node, num[0], den[0])
    return [num[0].then(lambda v: v * base), den[0].then(lambda _v: base)]


def _base(leaf: Leaf) -> float:
    """The denominator's fixed value: a limit, a size or a rate, by what the series is."""
    labels = dict(leaf.labels)
    name = leaf.metric
    if leaf.kind == "counter":
        return CPU_LIMIT if "cpu" in name else REQUESTS_PER_S
    if labels.get("resource") == "memory" or "memory" in name:
        return MEMORY_LIMIT
    if "filesystem" in name or name.endswith("_bytes"):
        return FILESYSTEM_SIZE
    return CPU_LIMIT if "cpu" in name or labels.get("resource") == "cpu" else 1.0


def _result_labels(node: Any, leaf: Leaf) -> dict[str, str] | None:
    """The labels a side's answer carries (None: whatever the leaf has, no aggregation above it)."""
    while type(node).__name__ in ("ParenExpr", "BinaryExpr"):
        if type(node).__name__ == "ParenExpr":
            node = node.expr
        else:  # arithmetic with a number: the vector side carries the labels
            node = node.rhs if type(node.lhs).__name__ == "NumberLiteral" else node.lhs
    if type(node).__name__ != "AggregateExpr":
        return None
    labels = dict(leaf.labels)
    keep = list(node.modifier.labels) if node.modifier is not None else []
    if node.modifier is not None and "without" in str(node.modifier.type).lower():
        return {k: v for k, v in labels.items() if k not in keep}
    return {k: v for k, v in labels.items() if k in keep}


def _check_matching(node: Any, num: Leaf, den: Leaf) -> None:
    """UnsupportedQuery when the two sides' series would not match one to one (Prometheus would answer nothing)."""
    left = _result_labels(node.lhs, num)
    right = _result_labels(node.rhs, den)
    left = dict(num.labels) if left is None else left
    right = dict(den.labels) if right is None else right
    matching = node.modifier.matching if node.modifier is not None else None
    names = list(matching.labels) if matching is not None else []
    if matching is not None and str(matching.type).endswith("Include"):
        left, right = ({k: v for k, v in side.items() if k in names} for side in (left, right))
    else:
        left, right = ({k: v for k, v in side.items() if k not in names} for side in (left, right))
    if left != right:
        raise UnsupportedQuery(f"the two sides of the ratio would not match: {left} vs {right}")


def _chain(node: Any, need: dict[str, str]) -> tuple[list[str], Any, dict[str, str]] | None:
    """A side made of sum/rate/parentheses over one selector, else None.

    Returns (the operations from the top down, the selector, the labels the selector's series must carry).
    """
    ops: list[str] = []
    while True:
        kind = type(node).__name__
        if kind == "ParenExpr":
            node = node.expr
        elif kind == "AggregateExpr" and str(node.op) == "sum":
            keep = sorted(node.modifier.labels) if node.modifier is not None else []
            without = node.modifier is not None and "without" in str(node.modifier.type).lower()
            ops.append(f"sum {'without' if without else 'by'} {keep}")
            need = _kept(node, need)
            node = node.expr
        elif kind == "Call" and node.func.name in _RATES and type(node.args[0]).__name__ == "MatrixSelector":
            ops.append(f"{node.func.name} {node.args[0].range}")
            node = node.args[0].vector_selector
        elif kind == "VectorSelector":
            return ops, node, need
        else:
            return None


def _subset_ratio(node: Any, need: dict[str, str]) -> list[Leaf] | None:
    """A / B where A is B narrowed by more matchers behind a sum: one series split into value and 1 - value."""
    num, den = _chain(node.lhs, need), _chain(node.rhs, need)
    if num is None or den is None or num[0] != den[0] or num[1].name != den[1].name or not num[0]:
        return None
    need = num[2]
    if not num[0][0].startswith("sum"):
        return None
    key = lambda m: (m.name, str(m.op), m.value)  # noqa: E731 - a sort/compare key
    narrowed = {key(m) for m in num[1].matchers.matchers}
    base = {key(m) for m in den[1].matchers.matchers}
    if not base < narrowed:
        return None
    extra = [m for m in num[1].matchers.matchers if key(m) not in base]
    if any(m.name in need for m in extra):
        raise UnsupportedQuery(f"{num[1].name}: the answer keeps {[m.name for m in extra]}, which split the ratio")
    counter = any(op.split()[0] in _RATES for op in num[0])
    kind: Literal["gauge", "counter"] = "counter" if counter else "gauge"
    bad = _selector(num[1], need, kind)
    good_labels = dict(_selector(den[1], need, kind).labels) | _violating(extra, num[1].name)
    good = Leaf(bad.metric, tuple(sorted(good_labels.items())), kind, lambda v: v)
    scale = REQUESTS_PER_S if counter else 1.0
    if kind == "counter":
        return [replace(bad, scale=scale), replace(good, fn=lambda v: 1 - v, scale=scale)]
    return [bad.then(lambda v: v * scale), replace(good, fn=lambda v: (1 - v) * scale)]
