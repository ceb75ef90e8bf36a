"""Resources not released on every path (Go, Java, JavaScript/TypeScript).

Files, responses, connections, contexts without cancel, channels goroutines wait on.

An acquisition bound to a name must be released (``Close``/``close``/``release``/``end``,
``cancel()``, ``close(ch)``, ``Unlock``) on every path out of the function: a deferred or
``finally`` release covers them all; otherwise a ``return`` between the acquisition and the
release leaks it on that path. A resource that escapes (returned, stored in a field or a
struct, handed to another call) is the receiver's to release and is not judged here. The
early return of the acquisition's own error check is not a leak: there is nothing to release.
"""

from __future__ import annotations

from collections.abc import Callable

from tree_sitter import Node

from tools.analyzers.base import CodeFinding
from tools.analyzers.nullflow import Binding, bindings
from tools.analyzers.syntax import Source, call_name, enclosing, functions, inside, own_nodes, walk

Acquire = Callable[[Source, Node], str | None]
_RELEASES = ("Close", "close", "release", "end", "destroy", "disconnect", "shutdown", "Stop", "cancel")
_DEFERRED = frozenset({"defer_statement", "finally_clause"})


def _release_calls(src: Source, function: Node, name: str) -> list[Node]:
    out = []
    for node in walk(function):
        if node.type not in src.dialect.calls:
            continue
        callee = call_name(src, node)
        args = node.child_by_field_name("arguments")
        arg_texts = [src.text(a) for a in args.named_children] if args is not None else []
        owned = callee in (f"{name}.{r}" for r in _RELEASES) or callee in (f"{name}.Body.Close", f"{name}.body.close")
        if owned or (callee in ("close", "cancel", "Close") and name in arg_texts) or callee == name:
            out.append(node)
    return out


def _escapes(src: Source, function: Node, name: str, after: int) -> bool:
    """Returned, stored away, or handed to another call/closure that becomes responsible for it."""
    for node in own_nodes(function, src.dialect):
        if node.start_byte <= after:
            continue
        text = src.text(node)
        if node.type == "return_statement" and _mentions(text, name):
            return True
        if node.type in ("keyed_element", "pair", "literal_element") and _mentions(text, name):
            return True
        if node.type in ("assignment_statement", "assignment_expression"):
            right = node.child_by_field_name("right")
            left = src.text(node.child_by_field_name("left"))
            if right is not None and _mentions(src.text(right), name) and ("." in left or "[" in left):
                return True
        if node.type in ("argument_list", "arguments") and name in [src.text(a) for a in node.named_children]:
            call = node.parent
            callee = call_name(src, call) if call is not None else ""
            if callee in ("append", "add", "push", "put", "set") or callee.endswith((".add", ".push", ".put", ".set")):
                return True  # stored in a collection that outlives the call
    return False


def _mentions(text: str, name: str) -> bool:
    import re

    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.(\[])", text) is not None


def _leaving(src: Source, function: Node, start: int, end: int, err: str, name: str) -> Node | None:
    """A return between ``start`` and ``end`` that is not the acquisition's own error exit."""
    for node in own_nodes(function, src.dialect):
        if not (start < node.start_byte < end) or node.type not in ("return_statement", "throw_statement"):
            continue
        guard = enclosing(node, frozenset({src.dialect.if_type}))
        cond = src.text(guard.child_by_field_name("condition")) if guard is not None else ""
        if (
            guard is not None
            and guard.start_byte > start
            and ((err and err in cond) or f"{name} == nil" in cond or f"{name} == null" in cond)
        ):
            continue
        return node
    return None


def _judge(src: Source, path: str, function: Node, bound: Binding, kind: str, name: str) -> CodeFinding | None:
    if name in ("_", "") or _escapes(src, function, name, bound.value.end_byte):
        return None
    releases = [r for r in _release_calls(src, function, name) if r.start_byte > bound.at]
    fix = {
        "context": f"Call `defer {name}()` right after creating the context.",
        "channel": f"`defer close({name})` so the goroutines reading it exit on every path.",
    }.get(kind, f"Release `{name}` on every path (`defer {name}.Close()`, try-with-resources, or finally).")
    line = Source.line(bound.value)
    if not releases:
        problem = {
            "context": f"The cancel function `{name}` is never called: the context and its timer/goroutine leak.",
        }.get(kind, f"`{name}` ({kind}) is never released; each call leaks it (descriptor, connection, goroutine).")
        return CodeFinding(path, line, "resource_leak", problem, fix, 0.8, f"{src.dialect.name}-unreleased")
    if any(enclosing(r, _DEFERRED) is not None and inside(r, function) for r in releases):
        return None
    exit_node = _leaving(src, function, bound.value.end_byte, releases[0].start_byte, bound.err, name)
    if exit_node is None:
        return None
    return CodeFinding(
        path,
        line,
        "resource_leak",
        f"`{name}` ({kind}) is released only on the normal path: the return at line {Source.line(exit_node)} "
        "leaves without releasing it.",
        fix,
        0.75,
        f"{src.dialect.name}-unreleased-path",
    )


def unreleased(src: Source, path: str, acquire: Acquire) -> list[CodeFinding]:
    """Every acquisition in the file that some path leaves unreleased."""
    findings = []
    for function in functions(src.root, src.dialect):
        for bound in bindings(src, function):
            kind = acquire(src, bound.value)
            if kind is None:
                continue
            name = _cancel_name(src, bound) if kind == "context" else bound.name
            if kind == "context" and name == "_":
                findings.append(
                    CodeFinding(
                        path,
                        Source.line(bound.value),
                        "resource_leak",
                        "The context's cancel function is discarded (`_`): the context and its timer leak.",
                        "Keep the cancel function and `defer cancel()`.",
                        0.85,
                        "go-discarded-cancel",
                    )
                )
                continue
            if kind == "channel" and not _ranged_by_goroutine(src, function, name):
                continue
            found = _judge(src, path, function, bound, kind, name)
            if found is not None:
                findings.append(found)
    return findings


def _cancel_name(src: Source, bound: Binding) -> str:
    statement = bound.value.parent.parent if bound.value.parent is not None else None
    left = statement.child_by_field_name("left") if statement is not None else None
    names = [src.text(n) for n in left.named_children] if left is not None else []
    return names[1] if len(names) > 1 else ""


def _ranged_by_goroutine(src: Source, function: Node, name: str) -> bool:
    return any(node.type == "go_statement" and f"range {name}" in src.text(node) for node in walk(function))
