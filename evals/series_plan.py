"""The raw series behind a PromQL expression: what to write so Prometheus answers it with a given value.

A world query says "this expression measures that signal". A real Prometheus can only
answer it from raw series, so :func:`plan` works the expression backwards (parsed with
promql-parser) into **leaves**: raw series, each with a function from the expression's
value to the leaf's value at that moment. The forms it inverts, composed freely:

- a selector ``M{...}``: a gauge; ``rate``/``irate``/``increase`` of one: a counter; the
  ``max|min|avg|last_over_time`` of one: a gauge;
- ``sum|max|min|avg`` (``by``/``without``), ``topk|bottomk`` (they keep every label),
  ``clamp_min|max``, parentheses: one series carries the value;
- arithmetic with a number (``x * 100``, ``60 * x``, ``x - 1``), a comparison with one
  (``> 0.05``: Prometheus filters); a number may be written as arithmetic (``(25 / 100)``,
  ``4 * 60 * 60``);
- a ratio ``A / B``: when A is B narrowed by more matchers (``code=~"5.."``, ``grpc_code!="OK"``)
  behind a ``sum``, the share of one series split in two (value and 1 - value); else B is
  a base (a limit, a size, a pod capacity, a request rate) of a fixed value and A is value x
  base; ``A * B``, ``A - B``, ``A + B`` likewise (A = value / base, value + base, value - base),
  with ``on``/``ignoring``/``group_left (labels)`` (the right side carries the labels it copies).
  A side may itself be such a join (``(A * on (instance) group_left (node) info) / capacity``:
  the info side stays fixed, A carries the value). A base the world's own series already
  answer (an owner or info series such as ``kube_pod_owner``) is read from them, not written again;
- ``histogram_quantile(q, sum by (le) (rate(B_bucket[...])))``: buckets whose q-quantile
  interpolates to the value;
- the set operators, on the rule's **main branch** (the left side, the one agents read): for
  ``A and B`` the series of B are written so that B's condition always holds (``readonly == 0``
  a gauge at 0, ``count(...) < 3`` one series); a B that reads only A's series is left to them
  (openmetrics' check says whether it holds); for ``A unless B`` and ``A or B`` nothing of B
  is written (nothing mutes A, nothing is added to it).

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

from evals.promql_tree import HOLDS, SET_OPERATORS, main_branch, returns_bool, scalar, selector_names

REQUESTS_PER_S = 20.0  # the request rate a counter split in two (or a rate base) carries
CPU_LIMIT = 2.0
MEMORY_LIMIT = 1024.0**3
FILESYSTEM_SIZE = 100 * 1024.0**3
MAX_PODS = 110.0  # kubelet's default maxPods: a node's pod capacity in kube_node_status_capacity{resource="pods"}
_CANDIDATES = ("500", "200", "OK", "error", "true", "false", "1", "0", "default", "x")
_GOOD = ("200", "OK", "2xx", "SUCCESS", "success", "ok", "info", "0", "false", "x")
_MATCH_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}

Matcher = tuple[str, str, str]
"""A label matcher as (label, ``=``|``!=``|``=~``|``!~``, value)."""


class UnsupportedQuery(ValueError):
    """A world query whose raw series cannot be written faithfully."""


@dataclass(frozen=True)
class Leaf:
    """One raw series to write, and how its value follows the expression's value ``v``.

    A gauge's sample is ``fn(v)``; a counter grows by ``scale * dt * fn(v)`` a step (``fn``
    is then a per-second rate); histogram buckets make their ``quantile`` interpolate to ``fn(v)``.
    ``matchers`` are the selector's and ``sampled`` the labels whose values were made up to
    satisfy one: what a series of the world's own must match to stand in for the leaf.
    A ``fixed`` leaf does not follow ``v`` (a base, a gate, the info side of a join).
    """

    metric: str
    labels: tuple[tuple[str, str], ...]
    kind: Literal["gauge", "counter", "buckets"]
    fn: Callable[[float], float]
    scale: float = 1.0
    quantile: float = 0.0
    matchers: tuple[Matcher, ...] = ()
    sampled: frozenset[str] = frozenset()
    fixed: bool = False

    def then(self, outer: Callable[[float], float]) -> Leaf:
        """The same leaf fed by ``outer(v)`` instead of ``v`` (a fixed leaf stays as it is)."""
        if self.fixed:
            return self
        inner = self.fn
        return replace(self, fn=lambda v: inner(outer(v)))

    def pinned(self, value: float) -> Leaf:
        """The leaf fed ``value`` whatever the expression's value is (a base, a gate that holds)."""
        constant = self.fn(value)
        return replace(self, fn=lambda _v: constant, fixed=True)

    def answered_by(self, labels: dict[str, str]) -> bool:
        """Whether a series with ``labels`` (``__name__`` included) is one this leaf's selector reads."""
        if labels.get("__name__") != self.metric:
            return False
        if not all(_satisfies(labels.get(name, ""), op, value) for name, op, value in self.matchers):
            return False
        return all(labels.get(k) == v for k, v in self.labels if k not in self.sampled)


Provided = Callable[[Leaf], float | None]
"""The value the world's own series give a leaf's selector (None: they do not answer it)."""


def plan(expr: str, declared: dict[str, str] | None = None, provided: Provided | None = None) -> list[Leaf]:
    """The leaves whose series make Prometheus answer ``expr`` with the value fed to them.

    ``provided`` tells the value of the world's own series for a base (an owner or info
    series): those are read, not written again.
    """
    try:
        tree = pq.parse(expr)
    except ValueError as exc:
        raise UnsupportedQuery(f"{expr!r} is not PromQL: {str(exc).splitlines()[0]}") from None
    return _Planner(provided or (lambda _leaf: None)).plan(tree, dict(declared or {}))


def _text(node: Any) -> str:
    return str(node.prettify()).replace("\n", " ") if hasattr(node, "prettify") else type(node).__name__


# --------------------------------------------------------------------------- selectors and label values


def _selector(node: Any, need: dict[str, str], kind: Literal["gauge", "counter", "buckets"]) -> Leaf:
    if type(node).__name__ != "VectorSelector" or not node.name:
        raise UnsupportedQuery(f"no raw series known for {_text(node)!r}")
    if node.offset is not None or node.at is not None:
        raise UnsupportedQuery(f"{node.name}: offset/@ modifiers are not written")
    labels = dict(need)
    matchers = [(m.name, _MATCH_OPS[str(m.op)], m.value) for m in node.matchers.matchers if m.name != "__name__"]
    for name, op, value in matchers:
        if op == "=":
            if labels.get(name, value) != value:
                raise UnsupportedQuery(f"{node.name}: {name}={value!r} contradicts the answer's {labels[name]!r}")
            labels[name] = value
    sampled = set()
    for name, op, value in matchers:
        if not _satisfies(labels.get(name, ""), op, value):
            labels[name] = _sample(name, op, value, node.name)
            sampled.add(name)
    labels = {k: v for k, v in labels.items() if v != ""}
    return Leaf(
        node.name,
        tuple(sorted(labels.items())),
        kind,
        lambda v: v,
        matchers=tuple(matchers),
        sampled=frozenset(sampled),
    )


def _satisfies(value: str, op: str, pattern: str) -> bool:
    if op == "=":
        return value == pattern
    if op == "!=":
        return value != pattern
    full = re.fullmatch(pattern, value) is not None
    return full if op == "=~" else not full


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex (``Pending|Unknown`` → both)."""
    parts, depth, current = [], 0, ""
    for char in pattern:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if char == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _guess(pattern: str) -> str:
    guess = re.sub(r"\.\*|\^|\$", "", pattern)
    guess = re.sub(r"\.\+", "x", guess)
    guess = re.sub(r"\\d|\.", "0", guess)
    guess = re.sub(r"\(([^|)]*)[^)]*\)", r"\1", guess)
    return re.sub(r"\[(.)[^\]]*\]", r"\1", guess)


def _sample(name: str, op: str, pattern: str, metric: str) -> str:
    """A label value satisfying a regex or negative matcher."""
    guesses = [_guess(part) for part in _alternatives(pattern)] if op == "=~" else [_guess(pattern)]
    for value in (*guesses, *_CANDIDATES):
        if value and _satisfies(value, op, pattern):
            return value
    raise UnsupportedQuery(f"{metric}: no label value found for {name} {op} {pattern!r}")


def _violating(matchers: list[Matcher], metric: str) -> dict[str, str]:
    """Label values failing at least one of ``matchers`` (the rest of a series split in two)."""
    for value in _GOOD:
        if not all(_satisfies(value, op, pattern) for _, op, pattern in matchers):
            return {matchers[0][0]: value} if len(matchers) == 1 else {m[0]: value for m in matchers}
    raise UnsupportedQuery(f"{metric}: no label value outside {[m[2] for m in matchers]}")


def _kept(aggregation: Any, need: dict[str, str]) -> dict[str, str]:
    """The answer's labels an aggregation lets through (those its inner series must carry)."""
    modifier = aggregation.modifier
    keep = list(modifier.labels) if modifier is not None else []
    without = modifier is not None and "without" in str(modifier.type).lower()
    return {k: v for k, v in need.items() if (k not in keep if without else k in keep)}


def _side_need(node: Any, need: dict[str, str]) -> dict[str, str]:
    """The answer's labels the right side of a binary operation must carry.

    Those it matches on (``on``/``ignoring``), and those ``group_left (...)`` copies from it into the answer.
    """
    matching = node.modifier.matching if node.modifier is not None else None
    if matching is None:
        return need
    names = set(matching.labels)
    if str(matching.type).endswith("Include"):
        names |= set(node.modifier.group_labels or [])
        return {k: v for k, v in need.items() if k in names}
    return {k: v for k, v in need.items() if k not in names}


def _identity(leaf: Leaf) -> bool:
    """Whether a leaf's value is the expression's own (no arithmetic in between)."""
    return all(abs(leaf.fn(x) - x) < 1e-9 for x in (1.0, 7.5))


# --------------------------------------------------------------------------- the planner

_OVER_TIME = frozenset({"max_over_time", "min_over_time", "avg_over_time", "last_over_time"})
_RATES = frozenset({"rate", "irate", "increase"})
_INVERSE: dict[str, Callable[[float, float, bool], float]] = {  # (value, number, number on the left) -> operand
    "*": lambda v, n, _left: v / n,
    "/": lambda v, n, left: n / v if left else v * n,
    "+": lambda v, n, _left: v - n,
    "-": lambda v, n, left: n - v if left else v + n,
}
_WITH_BASE: dict[str, Callable[[float, float], float]] = {  # (value, base) -> the left side's value
    "/": lambda v, b: v * b,
    "*": lambda v, b: v / b,
    "-": lambda v, b: v + b,
    "+": lambda v, b: v - b,
}


class _Planner:
    """Works a parsed expression backwards into leaves (see the module docstring)."""

    def __init__(self, provided: Provided) -> None:
        self.provided = provided

    def plan(self, node: Any, need: dict[str, str]) -> list[Leaf]:
        """The leaves of ``node`` whose answer carries the labels ``need``."""
        kind = type(node).__name__
        if kind == "ParenExpr":
            return self.plan(node.expr, need)
        if kind == "VectorSelector":
            return [_selector(node, need, "gauge")]
        if kind == "Call":
            return self._call(node, need)
        if kind == "AggregateExpr":
            return self._aggregate(node, need)
        if kind == "BinaryExpr":
            return self._binary(node, need)
        raise UnsupportedQuery(f"no raw series known for {_text(node)!r}")

    def _call(self, node: Any, need: dict[str, str]) -> list[Leaf]:
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
            return self.plan(node.args[0], need)
        if name == "histogram_quantile":
            return [_buckets(node, need)]
        raise UnsupportedQuery(f"{name}() is not written")

    def _aggregate(self, node: Any, need: dict[str, str]) -> list[Leaf]:
        op = str(node.op)
        if op in ("topk", "bottomk"):
            return self.plan(node.expr, need)  # they pick series, keeping every label
        if op == "group":
            return self._holding(node.expr, _kept(node, need), [])  # 1 while its inner answers
        if op not in ("sum", "max", "min", "avg"):
            raise UnsupportedQuery(f"{op}() is not written")
        return self.plan(node.expr, _kept(node, need))

    def _binary(self, node: Any, need: dict[str, str]) -> list[Leaf]:
        op = str(node.op)
        if op in SET_OPERATORS:
            return self._set(node, need)
        if returns_bool(node):
            raise UnsupportedQuery(f"a {op} bool comparison is not written")
        left, right = scalar(node.lhs), scalar(node.rhs)
        if left is not None and right is not None:
            raise UnsupportedQuery(f"{_text(node)!r} is a number: no series answer it")
        if left is not None or right is not None:
            return self._with_number(node, need, op, left, right)
        if op in HOLDS:
            raise UnsupportedQuery(f"vector {op} vector is not written (a comparison with a number is)")
        if op not in _WITH_BASE:
            raise UnsupportedQuery(f"vector {op} vector is not written")
        return self._with_base(node, need, op)

    def _with_number(
        self, node: Any, need: dict[str, str], op: str, left: float | None, right: float | None
    ) -> list[Leaf]:
        side, number, number_left = (node.rhs, left, True) if left is not None else (node.lhs, right, False)
        assert number is not None
        if op in HOLDS:
            return self.plan(side, need)  # the series carry the value; Prometheus filters it
        if op not in _INVERSE or (op in ("*", "/") and number == 0):
            raise UnsupportedQuery(f"{op} with a number is not written")
        invert = _INVERSE[op]
        return [leaf.then(lambda v: invert(v, number, number_left)) for leaf in self.plan(side, need)]

    def _with_base(self, node: Any, need: dict[str, str], op: str) -> list[Leaf]:
        """``A op B`` with B a base of fixed value: A's series carry the value, B's the base."""
        if op == "/":
            split = _subset_ratio(node, need)
            if split is not None:
                return split
        if node.modifier is not None and str(node.modifier.card).endswith("OneToMany"):
            raise UnsupportedQuery(f"vector {op} group_right vector is not written")
        num = self.plan(node.lhs, need)
        den = self.plan(node.rhs, _side_need(node, need))
        carrying = [leaf for leaf in num if not leaf.fixed]  # the left side may hold a join's fixed info side
        if len(den) != 1 or den[0].fixed or len(carrying) != 1:
            raise UnsupportedQuery(f"vector {op} vector of more than one series a side is not written")
        given = self.provided(den[0]) if den[0].kind == "gauge" and _identity(den[0]) else None
        base = _base_value(den[0]) if given is None else given
        if op == "*" and base == 0:
            raise UnsupportedQuery(f"{den[0].metric} is 0: nothing times it gives the value")
        invert = _WITH_BASE[op]
        carried = [leaf.then(lambda v: invert(v, base)) for leaf in num]
        if given is not None:
            return carried  # the world's own series are the base
        _check_matching(node, carrying[0], den[0], need)
        return [*carried, den[0].pinned(base)]

    def _set(self, node: Any, need: dict[str, str]) -> list[Leaf]:
        main = self.plan(node.lhs, need)
        if str(node.op) != "and":
            return main  # unless / or: nothing of the other side is written (nothing mutes it, nothing is added)
        return main + self._condition(node.rhs, _side_need(node, need), main)

    def _condition(self, node: Any, need: dict[str, str], main: list[Leaf]) -> list[Leaf]:
        """Leaves that make ``node`` (the right side of ``and``) hold at all times, beside the main branch's."""
        written = {(leaf.metric, leaf.labels) for leaf in main}
        try:
            leaves = self._holding(node, need, main)
        except UnsupportedQuery:
            if selector_names(node) <= {leaf.metric for leaf in main}:
                return []  # it reads only the main branch's series: they decide whether it holds
            raise
        return [leaf for leaf in leaves if (leaf.metric, leaf.labels) not in written]

    def _holding(self, node: Any, need: dict[str, str], main: list[Leaf]) -> list[Leaf]:
        """Leaves at constant values for which ``node`` answers (its comparison holds, its gates too)."""
        branch = main_branch(node)
        value = branch.value
        while type(value).__name__ == "ParenExpr":
            value = value.expr
        if type(value).__name__ == "AggregateExpr" and str(value.op) in ("count", "group"):
            if branch.op is not None and not HOLDS[branch.op](1.0, branch.threshold or 0.0):
                raise UnsupportedQuery(f"{value.op}() {branch.op} {branch.threshold:g} is not written (one series is)")
            held = self._holding(value.expr, _kept(value, need), main)  # one series: a count of 1
        else:
            target = 1.0 if branch.op is None else _satisfying(branch.op, branch.threshold)
            held = [leaf.pinned(target) for leaf in self.plan(value, need)]
        for inner in branch.secondary:  # set operators inside the condition: its gates hold too
            if str(inner.op) == "and":
                held += self._condition(inner.rhs, _side_need(inner, need), main + held)
        return held


def _satisfying(op: str, threshold: float | None) -> float:
    """A value for which ``value op threshold`` holds (the threshold itself, 1 or 0 when they do)."""
    n = 0.0 if threshold is None else threshold
    return next(v for v in (n, 1.0, 0.0, n + 1, n - 1) if HOLDS[op](v, n))


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


# --------------------------------------------------------------------------- ratios and bases


def _base(leaf: Leaf) -> float:
    """The base's fixed value: a limit, a size or a rate, by what the series is."""
    labels = dict(leaf.labels)
    name = leaf.metric
    if leaf.kind == "counter":
        return CPU_LIMIT if "cpu" in name else REQUESTS_PER_S
    if labels.get("resource") == "memory" or "memory" in name:
        return MEMORY_LIMIT
    if "filesystem" in name or name.endswith("_bytes"):
        return FILESYSTEM_SIZE
    if labels.get("resource") == "pods":
        return MAX_PODS
    return CPU_LIMIT if "cpu" in name or labels.get("resource") == "cpu" else 1.0


def _base_value(leaf: Leaf) -> float:
    """The base side's value: :func:`_base` in the side's own units (``increase(x[5m])`` is 300 x the rate)."""
    per_unit = leaf.fn(1.0)
    linear = abs(leaf.fn(0.0)) < 1e-12 and per_unit > 0
    return _base(leaf) / per_unit if linear else _base(leaf)


def _result_labels(node: Any, leaf: Leaf, need: dict[str, str]) -> dict[str, str]:
    """The labels a side's answer carries: its carrying leaf's, as aggregations and matchings above it leave them."""
    kind = type(node).__name__
    if kind == "ParenExpr":
        return _result_labels(node.expr, leaf, need)
    if kind == "AggregateExpr":
        inner = _result_labels(node.expr, leaf, need)
        return inner if str(node.op) in ("topk", "bottomk") else _kept(node, inner)
    if kind == "BinaryExpr":  # with a number the vector side carries the labels; else the left side
        if scalar(node.lhs) is not None:
            return _result_labels(node.rhs, leaf, need)
        inner = _result_labels(node.lhs, leaf, need)
        if scalar(node.rhs) is not None or str(node.op) in SET_OPERATORS or node.modifier is None:
            return inner
        return _matched(inner, node.modifier, need)
    return dict(leaf.labels)


def _matched(labels: dict[str, str], modifier: Any, need: dict[str, str]) -> dict[str, str]:
    """The labels of a vector-vector answer (one-to-one ``on`` keeps, ``ignoring`` drops; ``group_left`` adds)."""
    if not str(modifier.card).endswith("OneToOne"):
        return labels | {k: need[k] for k in modifier.group_labels or [] if k in need}
    matching = modifier.matching
    if matching is None:
        return labels
    on = str(matching.type).endswith("Include")
    return {k: v for k, v in labels.items() if (k in matching.labels) == on}


def _check_matching(node: Any, num: Leaf, den: Leaf, need: dict[str, str]) -> None:
    """UnsupportedQuery when the two sides' series would not match (Prometheus would answer nothing)."""
    left = _result_labels(node.lhs, num, need)
    right = _result_labels(node.rhs, den, _side_need(node, need))
    matching = node.modifier.matching if node.modifier is not None else None
    names = list(matching.labels) if matching is not None else []
    if matching is not None and str(matching.type).endswith("Include"):
        left, right = ({k: v for k, v in side.items() if k in names} for side in (left, right))
    else:
        left, right = ({k: v for k, v in side.items() if k not in names} for side in (left, right))
    if left != right:
        what = "ratio" if str(node.op) == "/" else f"{node.op} operation"
        raise UnsupportedQuery(f"the two sides of the {what} would not match: {left} vs {right}")


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
    extra = [(m.name, _MATCH_OPS[str(m.op)], m.value) for m in num[1].matchers.matchers if key(m) not in base]
    if any(name in need for name, _, _ in extra):
        raise UnsupportedQuery(f"{num[1].name}: the answer keeps {[m[0] for m in extra]}, which split the ratio")
    counter = any(op.split()[0] in _RATES for op in num[0])
    kind: Literal["gauge", "counter"] = "counter" if counter else "gauge"
    bad = _selector(num[1], need, kind)
    good_labels = dict(_selector(den[1], need, kind).labels) | _violating(extra, num[1].name)
    good = Leaf(bad.metric, tuple(sorted(good_labels.items())), kind, lambda v: v)
    scale = REQUESTS_PER_S if counter else 1.0
    if kind == "counter":
        return [replace(bad, scale=scale), replace(good, fn=lambda v: 1 - v, scale=scale)]
    return [bad.then(lambda v: v * scale), replace(good, fn=lambda v: (1 - v) * scale)]
