"""Path reasoning over a tree-sitter function: is a use of a maybe-null value guarded on every path to it.

A use is guarded when, on the way from it up to its function, it sits in the branch of an
``if``/``&&``/``||``/ternary whose condition proves the value non-null, or when an earlier
statement of an enclosing block leaves the function (return, throw, panic, os.Exit,
log.Fatal, kingpin.Fatalf, process.exit) whenever the value is null, or re-assigns it.
Go's ``v, err := f()`` convention is understood: ``err != nil`` being false proves ``v``.
"""

from __future__ import annotations

import re
from typing import Literal

from tree_sitter import Node

from tools.analyzers.syntax import Source, call_name, inside, unwrap

Fact = Literal["null", "nonnull"] | None
_ASSIGN = frozenset({"assignment_statement", "assignment_expression", "short_var_declaration", "variable_declarator"})
_NEGATE: dict[Fact, Fact] = {"null": "nonnull", "nonnull": "null", None: None}


def _op(src: Source, node: Node) -> str:
    operator = node.child_by_field_name("operator")
    if operator is not None:
        return src.text(operator)
    middle = [c for c in node.children if not c.is_named]
    return src.text(middle[0]) if middle else ""


def _is_null(src: Source, node: Node | None) -> bool:
    node = unwrap(node)
    return node is not None and (
        node.type in ("nil", "null", "null_literal", "undefined") or src.text(node) in src.dialect.null_literals
    )


def implies(src: Source, cond: Node | None, name: str, err: str = "") -> tuple[Fact, Fact]:  # noqa: C901
    """What ``cond`` being (true, false) says about ``name`` (``err`` is its Go error partner)."""
    cond = unwrap(cond)
    if cond is None:
        return None, None
    text = src.text(cond)
    if cond.type == "binary_expression":
        op = _op(src, cond)
        left, right = cond.child_by_field_name("left"), cond.child_by_field_name("right")
        if op in ("&&", "and"):
            lt, _ = implies(src, left, name, err)
            rt, _ = implies(src, right, name, err)
            return lt or rt, None
        if op in ("||", "or"):
            _, lf = implies(src, left, name, err)
            _, rf = implies(src, right, name, err)
            return None, lf or rf
        if op in ("!=", "!==", "==", "===") and left is not None and right is not None:
            other = right if _is_null(src, right) else left if _is_null(src, left) else None
            subject = src.text(left if other is right else right) if other is not None else ""
            positive: Fact = "nonnull" if op in ("!=", "!==") else "null"
            if subject == name:
                return positive, _NEGATE[positive]
            if subject.startswith(name + ".") and positive == "nonnull":
                return "nonnull", None  # x.f != nil proves x, its failure proves nothing
            if err and subject == err:
                return _NEGATE[positive], positive
        return None, None
    if cond.type in ("unary_expression", "not_operator") and src.text(cond).startswith("!"):
        inner = cond.child_by_field_name("argument") or cond.child_by_field_name("operand")
        when_true, when_false = implies(src, inner, name, err)
        return when_false, when_true
    if cond.type == "instanceof_expression" and src.text(cond.child_by_field_name("left")) == name:
        return "nonnull", None
    if text == name and src.dialect.name in ("javascript", "java"):
        return "nonnull", "null"
    if cond.type in src.dialect.calls:
        args = cond.child_by_field_name("arguments")
        if args is not None and [src.text(a) for a in args.named_children] == [name]:
            if call_name(src, cond).endswith(("nonNull", "isNotEmpty")):
                return "nonnull", "null"
            if call_name(src, cond).endswith(("isNull",)):
                return "null", "nonnull"
    return None, None


def statements(block: Node) -> list[Node]:
    """The statements of a block (Go nests them in a ``statement_list``)."""
    out = []
    for child in block.named_children:
        if child.type == "statement_list":
            out.extend(child.named_children)
        elif child.type != "comment":
            out.append(child)
    return out


def exits(src: Source, node: Node | None) -> bool:
    """``node`` never falls through: it returns, throws, panics or exits on every path."""
    if node is None:
        return False
    kind = node.type
    if kind in src.dialect.exits:
        return True
    if kind in src.dialect.blocks or kind in ("else_clause", "statement_list"):
        body = statements(node)
        return bool(body) and exits(src, body[-1])
    if kind == "expression_statement" and node.named_child_count:
        return exits(src, node.named_children[0])
    if kind in src.dialect.calls:
        name = call_name(src, node)
        return name.endswith(src.dialect.exit_calls) or name.split(".")[-1] in src.dialect.exit_calls
    if kind == src.dialect.if_type:
        other = node.child_by_field_name("alternative")
        return other is not None and exits(src, node.child_by_field_name("consequence")) and exits(src, other)
    return False


def assigns(src: Source, node: Node, name: str) -> bool:
    """``node`` is an assignment whose target is ``name``."""
    if node.type == "expression_statement" and node.named_child_count:
        node = node.named_children[0]
    if node.type not in _ASSIGN:
        return False
    left = node.child_by_field_name("left") or node.child_by_field_name("name")
    if left is None:
        return False
    return name in [src.text(t) for t in (left.named_children if left.type == "expression_list" else [left])]


def _earlier_exit(src: Source, block: Node, child: Node, name: str, err: str, since: int) -> bool:
    for stmt in statements(block):
        if stmt.start_byte >= child.start_byte:
            break
        if stmt.start_byte < since:
            continue
        if assigns(src, stmt, name):
            return True
        if stmt.type == src.dialect.if_type:
            when_true, when_false = implies(src, stmt.child_by_field_name("condition"), name, err)
            if when_true == "null" and exits(src, stmt.child_by_field_name("consequence")):
                return True
            if when_false == "null" and exits(src, stmt.child_by_field_name("alternative")):
                return True
        asserted = stmt.type == "assert_statement" or "requireNonNull" in src.text(stmt)
        if asserted and stmt.type in ("assert_statement", "expression_statement") and name in src.text(stmt):
            return True
    return False


def guarded(src: Source, use: Node, name: str, err: str = "", since: int = 0) -> bool:
    """Every path to ``use`` proves ``name`` non-null (checks after byte ``since`` count)."""
    child, node = use, use.parent
    while node is not None:
        kind = node.type
        if kind == src.dialect.if_type or kind in ("ternary_expression", "conditional_expression"):
            cond = node.child_by_field_name("condition")
            when_true, when_false = implies(src, cond, name, err)
            if inside(child, node.child_by_field_name("consequence")) and when_true == "nonnull":
                return True
            if inside(child, node.child_by_field_name("alternative")) and when_false == "nonnull":
                return True
        elif kind == "binary_expression" and inside(child, node.child_by_field_name("right")):
            op = _op(src, node)
            when_true, when_false = implies(src, node.child_by_field_name("left"), name, err)
            if (op in ("&&", "and") and when_true == "nonnull") or (op in ("||", "or") and when_false == "nonnull"):
                return True
        elif (kind in src.dialect.blocks or kind == "statement_list") and _earlier_exit(
            src, node, child, name, err, since
        ):
            return True
        if kind in src.dialect.functions:
            return False
        child, node = node, node.parent
    return False


def checked_anywhere(src: Source, scope: Node, name: str) -> bool:
    """``scope`` compares ``name`` itself with null somewhere (so its author knows it may be null)."""
    n = re.escape(name)
    pattern = (
        rf"(?<![\w.]){n}\s*[!=]==?\s*(?:null|nil|undefined)\b|\b(?:null|nil|undefined)\s*[!=]==?\s*{n}(?![\w.])"
        rf"|!\s*{n}(?![\w.(\[])|\(\s*{n}\s*\)\s*[?&|)]|Objects\.(?:isNull|nonNull|requireNonNull)\(\s*{n}\s*\)"
        rf"|(?<![\w.]){n}\s*\?\?|(?<![\w.]){n}\?\."
    )
    return re.search(pattern, src.text(scope)) is not None
