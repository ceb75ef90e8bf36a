"""An alerting expression's shape: its main branch, its numbers, its parts (promql-parser trees).

Agents read an alerting rule on its **main branch** (tools/promql.py): the comparison it
fires on, followed through the left side of ``and``/``or``/``unless``. The prometheus world
writes and checks a rule's series the same way (evals/series_plan.py, evals/openmetrics.py).
Unlike the agents' helpers these fold a threshold written as arithmetic (``> (25 / 100)``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

SET_OPERATORS = frozenset({"and", "or", "unless"})
HOLDS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}


@dataclass(frozen=True)
class MainBranch:
    """What an alerting expression's value is and when it fires, as agents read it.

    ``value`` is the expression the signal measures: the vector side of the comparison on the
    main branch (through the left side of set operators); ``op``/``threshold`` that comparison
    (None: it fires while ``value`` answers); ``secondary`` the set operations met on the way
    down (their right sides mute or gate it).
    """

    value: Any
    op: str | None = None
    threshold: float | None = None
    secondary: tuple[Any, ...] = ()


def main_branch(tree: Any) -> MainBranch:
    """The main branch of a parsed expression (see :class:`MainBranch`)."""
    node, secondary = tree, []
    while True:
        kind = type(node).__name__
        if kind == "ParenExpr":
            node = node.expr
        elif kind == "BinaryExpr" and str(node.op) in SET_OPERATORS:
            secondary.append(node)
            node = node.lhs
        else:
            break
    if type(node).__name__ == "BinaryExpr" and str(node.op) in HOLDS and not returns_bool(node):
        left, right = scalar(node.lhs), scalar(node.rhs)
        if right is not None and left is None:
            return MainBranch(node.lhs, str(node.op), right, tuple(secondary))
        if left is not None and right is None:
            return MainBranch(node.rhs, _FLIPPED[str(node.op)], left, tuple(secondary))
    return MainBranch(node, None, None, tuple(secondary))


def scalar(node: Any) -> float | None:
    """The value of a sub-expression made of numbers only (``(25 / 100)``, ``4 * 60 * 60``), else None."""
    kind = type(node).__name__
    if kind == "NumberLiteral":
        return float(node.val)
    if kind == "ParenExpr":
        return scalar(node.expr)
    if kind == "UnaryExpr":
        inner = scalar(node.expr)
        return None if inner is None else -inner
    if kind == "BinaryExpr" and str(node.op) in _ARITHMETIC and not returns_bool(node):
        left, right = scalar(node.lhs), scalar(node.rhs)
        if left is None or right is None or (str(node.op) in ("/", "%") and right == 0):
            return None
        return float(_ARITHMETIC[str(node.op)](left, right))
    return None


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
    "^": operator.pow,
}


def walk(node: Any) -> Iterator[Any]:
    """Every node of a parsed expression, ``node`` first."""
    stack = [node]
    while stack:
        item = stack.pop()
        yield item
        for attr in ("expr", "lhs", "rhs", "vector_selector", "param"):
            child = getattr(item, attr, None)
            if child is not None and not isinstance(child, str | int | float):
                stack.append(child)
        stack.extend(getattr(item, "args", None) or [])


def selector_names(node: Any) -> set[str]:
    """The metric names a parsed expression selects."""
    return {item.name for item in walk(node) if type(item).__name__ == "VectorSelector" and item.name}


def returns_bool(node: Any) -> bool:
    """Whether a binary operation carries ``bool`` (a comparison that answers 0/1 instead of filtering)."""
    return node.modifier is not None and bool(node.modifier.return_bool)


def text_of(node: Any) -> str:
    """A parsed (sub-)expression as one line of PromQL."""
    return re.sub(r"\s+", " ", str(node)).strip()
