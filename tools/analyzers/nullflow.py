"""Null dereferences found by data flow inside a function (Go, Java, JavaScript/TypeScript).

Three ways a value is known to be maybe-null: it comes from a source that returns null
on a miss (a map lookup, ``find``, ``querySelector``, ``getenv``; per language in
:mod:`tools.analyzers.sources`); the function itself tests it against null and then goes on
without leaving or re-assigning it; or it is the ``null`` literal. A dereference of such a
value that no check guards on every path is a finding, and so is passing it to a function
of the same file that dereferences that parameter without a check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tree_sitter import Node

from tools.analyzers.base import CodeFinding
from tools.analyzers.flow import assigns, checked_anywhere, exits, guarded, implies, statements
from tools.analyzers.syntax import Source, call_name, functions, inside, own_nodes, unwrap, walk

IsSource = Callable[[Source, Node], str | None]


@dataclass(frozen=True)
class Binding:
    """``name`` bound to ``value`` by the statement starting at byte ``at``."""

    name: str
    value: Node
    at: int
    err: str = ""


def bindings(src: Source, function: Node) -> list[Binding]:
    """Every single-name binding in ``function`` (declarations, assignments, Go ``v, err :=``)."""
    found = []
    for node in own_nodes(function, src.dialect):
        if node.type in ("variable_declarator", "assignment_expression"):
            left = node.child_by_field_name("name") or node.child_by_field_name("left")
            value = node.child_by_field_name("value") or node.child_by_field_name("right")
            if left is not None and value is not None and left.type in ("identifier", "member_expression"):
                found.append(Binding(src.text(left), unwrap(value) or value, node.start_byte))
        elif node.type in ("short_var_declaration", "assignment_statement"):
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is None or right is None:
                continue
            names = [src.text(n) for n in left.named_children]
            values = right.named_children
            err = names[-1] if len(names) > 1 and names[-1] in ("err", "_") else ""
            if len(values) == 1 and names:
                found.append(Binding(names[0], values[0], node.start_byte, err))
    return found


def derefs(src: Source, function: Node, name: str, after: int = 0) -> list[Node]:
    """Dereferences of ``name`` in ``function`` (not nested functions) after byte ``after``."""
    out = []
    for node in own_nodes(function, src.dialect):
        target = src.dialect.member(node)
        if target is not None and node.start_byte > after and src.text(target) == name:
            out.append(node)
    return out


def _finding(
    src: Source, path: str, node: Node, problem: str, fix: str, confidence: float, rule: str, anchor: int | None = None
) -> CodeFinding:
    return CodeFinding(path, src.line(node), "null_dereference", problem, fix, confidence, rule, anchor=anchor)


def returning_null(src: Source) -> set[str]:
    """Names of the file's functions that ``return null`` (or undefined) on some path."""
    names = set()
    for function in functions(src.root, src.dialect):
        name = src.text(function.child_by_field_name("name"))
        for node in own_nodes(function, src.dialect):
            if node.type == "return_statement" and src.text(node).rstrip(";").split()[-1:] in (["null"], ["undefined"]):
                names.add(name)
                break
    return names


def _with_local(is_source: IsSource, local: set[str]) -> IsSource:
    def source(src: Source, value: Node) -> str | None:
        found = is_source(src, value)
        if found is None and value.type in src.dialect.calls:
            callee = call_name(src, value)
            if callee.removeprefix("this.") in local:
                return f"{callee}() (it returns null on some path)"
        return found

    return source


def unguarded_sources(src: Source, path: str, is_source: IsSource) -> list[CodeFinding]:
    """Values from maybe-null sources dereferenced without a check on every path."""
    findings = []
    if src.dialect.name != "go":
        is_source = _with_local(is_source, returning_null(src) - {""})
    for function in functions(src.root, src.dialect):
        for bound in bindings(src, function):
            origin = is_source(src, bound.value)
            if origin is None:
                continue
            for use in derefs(src, function, bound.name, bound.value.end_byte):
                if not guarded(src, use, bound.name, since=bound.value.end_byte):
                    findings.append(
                        _finding(
                            src,
                            path,
                            use,
                            f"`{bound.name}` comes from `{origin}`, which returns null/nil when nothing matches, and "
                            "is dereferenced here without a check.",
                            f"Check `{bound.name}` before using it (or use a default / Optional).",
                            0.8,
                            f"{src.dialect.name}-unchecked-source",
                        )
                    )
                    break
        for node in own_nodes(function, src.dialect):
            target = unwrap(src.dialect.member(node))
            origin = is_source(src, target) if target is not None else None
            if origin is not None and target is not None and target.type in src.dialect.calls:
                findings.append(
                    _finding(
                        src,
                        path,
                        node,
                        f"The result of `{origin}` is dereferenced directly; it is null/nil when nothing matches.",
                        "Keep the result in a variable and handle the missing case.",
                        0.8,
                        f"{src.dialect.name}-unchecked-source",
                    )
                )
    return findings


def _null_tests(src: Source, function: Node) -> list[tuple[Node, str, str]]:
    """(if statement, name, err partner) for ifs that test a name for null and fall through on the null path."""
    partners = {b.name: b.err for b in bindings(src, function) if b.err == "err"}
    tests = []
    for node in own_nodes(function, src.dialect):
        if node.type != src.dialect.if_type or node.child_by_field_name("alternative") is not None:
            continue
        cond = node.child_by_field_name("condition")
        body = node.child_by_field_name("consequence")
        candidates = [(src.text(n), "") for n in _names_in(src, cond)]
        candidates += [(v, "err") for v, e in partners.items() if "err" in src.text(cond)]
        for name, err in candidates:
            when_true, when_false = implies(src, cond, name, err)
            if "null" not in (when_true, when_false) or (when_true == "null" and exits(src, body)):
                continue
            if when_true == "null" and any(assigns(src, s, name) for s in _all_statements(body)):
                continue
            tests.append((node, name, err))
    return tests


def _names_in(src: Source, cond: Node | None) -> list[Node]:
    if cond is None:
        return []
    stack, out = [cond], []
    while stack:
        node = stack.pop()
        if node.type in ("identifier", "selector_expression", "field_access", "member_expression"):
            out.append(node)
            continue
        stack.extend(node.named_children)
    return out


def _all_statements(block: Node | None) -> list[Node]:
    if block is None:
        return []
    stack, out = [block], []
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.named_children)
    return out


def checked_then_used(src: Source, path: str, deref_params: dict[str, set[int]]) -> list[CodeFinding]:
    """A value the function tests for null, then uses unguarded after the test on the null path."""
    findings = []
    for function in functions(src.root, src.dialect):
        for test, name, err in _null_tests(src, function):
            uses = [
                u for u in derefs(src, function, name, test.end_byte) if not guarded(src, u, name, err, test.end_byte)
            ]
            uses = [u for u in uses if not _reassigned_between(src, function, name, test.end_byte, u.start_byte)]
            what = "its error is not returned on" if err else "it is tested for null above"
            if uses:
                findings.append(
                    _finding(
                        src,
                        path,
                        uses[0],
                        f"`{name}` is dereferenced here although {what}, and that path does not leave: "
                        "it is nil/null when the check fails.",
                        f"Return (or use a default) in the branch where `{name}` is missing, before this use.",
                        0.75,
                        f"{src.dialect.name}-checked-then-used",
                        src.line(test),
                    )
                )
                continue
            findings.extend(_passed_on(src, path, function, name, err, test, deref_params))
    return findings


def _reassigned_between(src: Source, function: Node, name: str, start: int, end: int) -> bool:
    return any(start <= n.start_byte < end and assigns(src, n, name) for n in own_nodes(function, src.dialect))


def _passed_on(
    src: Source, path: str, function: Node, name: str, err: str, test: Node, deref_params: dict[str, set[int]]
) -> list[CodeFinding]:
    after, anchor = test.end_byte, src.line(test)
    for node in own_nodes(function, src.dialect):
        if node.start_byte <= after or node.type not in src.dialect.calls:
            continue
        callee = call_name(src, node).split(".")[-1]
        args = node.child_by_field_name("arguments")
        if callee not in deref_params or args is None:
            continue
        for index, arg in enumerate(args.named_children):
            if src.text(arg) == name and index in deref_params[callee] and not guarded(src, node, name, err, after):
                return [
                    _finding(
                        src,
                        path,
                        node,
                        f"`{name}` may be null here (it is tested for null above without leaving), and "
                        f"`{callee}` dereferences that argument without a check.",
                        f"Handle the null `{name}` before the call, or make `{callee}` accept null.",
                        0.7,
                        f"{src.dialect.name}-null-argument",
                        anchor,
                    )
                ]
    return []


def dereferenced_params(src: Source) -> dict[str, set[int]]:
    """Function name → indexes of parameters it dereferences without ever checking them for null."""
    out: dict[str, set[int]] = {}
    for function in functions(src.root, src.dialect):
        name = src.text(function.child_by_field_name("name"))
        params = function.child_by_field_name("parameters")
        if not name or params is None:
            continue
        names = [_param_name(src, p) for p in params.named_children]
        hit = {
            i for i, p in enumerate(names) if p and derefs(src, function, p) and not checked_anywhere(src, function, p)
        }
        if hit:
            out[name] = hit
    return out


def _param_name(src: Source, param: Node) -> str:
    for field in ("pattern", "name"):
        child = param.child_by_field_name(field)
        if child is not None:
            return src.text(child)
    return src.text(param) if param.type == "identifier" else ""


def statements_after(block: Node, node: Node) -> list[Node]:
    """Statements of ``block`` that start after ``node``."""
    return [s for s in statements(block) if s.start_byte > node.start_byte and not inside(node, s)]


def nulled_members(src: Source, path: str) -> list[CodeFinding]:
    """``a.b.m()`` where the file sets ``a.b = null`` elsewhere and tests it, but this function does not."""
    nulled: set[str] = set()
    for node in walk(src.root):
        if node.type == "assignment_expression" and src.text(node.child_by_field_name("right")) in (
            "null",
            "undefined",
        ):
            left = node.child_by_field_name("left")
            if left is not None and left.type in ("member_expression", "field_access"):
                nulled.add(src.text(left).split(".", 1)[-1])
    findings = []
    for function in functions(src.root, src.dialect):
        for node in own_nodes(function, src.dialect):
            target = src.dialect.member(node)
            if target is None or target.type not in ("member_expression", "field_access"):
                continue
            member = src.text(target)
            if member.split(".", 1)[-1] not in nulled or checked_anywhere(src, function, member):
                continue
            if not checked_anywhere(src, src.root, member) or guarded(src, node, member):
                continue
            findings.append(
                _finding(
                    src,
                    path,
                    node,
                    f"`{member}` is set to null elsewhere in this file (and checked there), but dereferenced here "
                    "without a check.",
                    f"Check `{member}` before using it here too.",
                    0.6,
                    f"{src.dialect.name}-nulled-member",
                )
            )
            break
    return findings
