"""Python analyzer: walks the changed file's syntax tree (``ast``) at the PR's head.

Every rule reports the line where the bug is; the caller keeps only lines the PR added.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from tools.analyzers.base import CodeFinding

_BROAD = {"Exception", "BaseException"}
_OPENERS_EXACT = {
    "open",
    "io.open",
    "gzip.open",
    "bz2.open",
    "lzma.open",
    "codecs.open",
    "tarfile.open",
    "zipfile.ZipFile",
    "socket.socket",
    "socket.create_connection",
    "urlopen",
    "urllib.request.urlopen",
    "tempfile.NamedTemporaryFile",
    "os.fdopen",
}
_OPENER_SUFFIXES = (".connect", "create_connection", ".urlopen")
_HTTP_RECEIVERS = ("request", "session", "client", "http", "api")
_OPTIONAL_CALLS = {"re.match", "re.search", "re.fullmatch", "os.getenv", "os.environ.get", "shutil.which"}
_OPTIONAL_METHODS = {"match", "search", "fullmatch", "first", "one_or_none", "find_one", "get"}
_THREAD_IMPORTS = ("threading", "concurrent.futures", "multiprocessing.pool", "_thread")
_MUTATORS = {"append", "extend", "update", "pop", "insert", "remove", "clear", "setdefault", "add", "discard"}


def dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain, else ''."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _functions(tree: ast.Module) -> Iterator[ast.AST]:
    yield tree
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield node


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """Nodes of ``scope`` not inside a nested function or class."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))


def is_optional_call(node: ast.AST) -> bool:
    """Whether ``node`` is a call that can answer None (dict.get without default, re.match, ...)."""
    if not isinstance(node, ast.Call):
        return False
    name = dotted(node.func)
    if name in _OPTIONAL_CALLS:
        return len(node.args) <= (1 if name in {"os.getenv", "os.environ.get", "shutil.which"} else 3)
    if name == "next":
        return len(node.args) == 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value is None
    if name == "getattr":
        return len(node.args) == 3 and isinstance(node.args[2], ast.Constant) and node.args[2].value is None
    if not isinstance(node.func, ast.Attribute) or node.func.attr not in _OPTIONAL_METHODS:
        return False
    receiver = dotted(node.func.value).lower()
    if node.func.attr == "get":
        http = any(word in receiver for word in _HTTP_RECEIVERS)
        return not http and len(node.args) == 1 and not node.keywords
    if node.func.attr in {"match", "search", "fullmatch"}:
        return bool(receiver) and not receiver.startswith("self") and len(node.args) >= 1
    return True


# ----------------------------------------------------------------------------- null dereference


def _deref_target(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute | ast.Subscript) and isinstance(node.value, ast.Name):
        return node.value.id
    return None


def _test_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _guard_lines(scope: ast.AST, name: str) -> list[int]:
    """Lines where ``name`` is tested (if/while/assert/ternary/and-or/comparison/isinstance)."""
    lines = []
    for node in _own_nodes(scope):
        test: ast.AST | None = None
        if isinstance(node, ast.If | ast.While | ast.Assert | ast.IfExp):
            test = node.test
        elif isinstance(node, ast.BoolOp | ast.Compare) or (isinstance(node, ast.comprehension) and node.ifs):
            test = node
        if test is not None and name in _test_names(test):
            lines.append(node.lineno if hasattr(node, "lineno") else 0)
    return lines


def null_dereferences(tree: ast.Module, path: str) -> list[CodeFinding]:
    """A value that may be None (``d.get(k)``, ``re.match``) used without a check."""
    findings = []
    for scope in _functions(tree):
        nodes = list(_own_nodes(scope))
        for node in nodes:
            if not isinstance(node, ast.Attribute | ast.Subscript) or not isinstance(node.ctx, ast.Load):
                continue
            if isinstance(node.value, ast.Call) and is_optional_call(node.value):
                findings.append(_null(path, node.lineno, dotted(node.value.func) or "call", 0.8))
        for node in nodes:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                continue
            if not is_optional_call(node.value):
                continue
            name = node.targets[0].id
            derefs = sorted(
                n.lineno  # type: ignore[attr-defined]
                for n in nodes
                if _deref_target(n) == name and n.lineno > node.lineno and _is_load(n)  # type: ignore[attr-defined]
            )
            if not derefs:
                continue
            guards = [g for g in _guard_lines(scope, name) if node.lineno < g <= derefs[0]]
            if not guards and not _reassigned(nodes, name, node.lineno, derefs[0]):
                findings.append(_null(path, derefs[0], name, 0.75))
    return findings


def _is_load(node: ast.AST) -> bool:
    return isinstance(getattr(node, "ctx", None), ast.Load) or isinstance(node, ast.Subscript)


def _reassigned(nodes: list[ast.AST], name: str, after: int, before: int) -> bool:
    for node in nodes:
        if (
            isinstance(node, ast.Name)
            and node.id == name
            and isinstance(node.ctx, ast.Store)
            and after < node.lineno <= before
        ):
            return True
    return False


def _null(path: str, line: int, what: str, confidence: float) -> CodeFinding:
    return CodeFinding(
        file=path,
        line=line,
        category="null_dereference",
        problem=f"`{what}` can be None here and is dereferenced without a check (AttributeError/TypeError).",
        fix=f"Check `{what}` for None first (or pass a default) and handle the missing case.",
        confidence=confidence,
        rule="py-optional-deref",
    )


# ----------------------------------------------------------------------------- resource leak


def _is_opener(call: ast.AST) -> bool:
    if not isinstance(call, ast.Call):
        return False
    name = dotted(call.func)
    if name in _OPENERS_EXACT:
        return True
    return bool(name) and name.endswith(_OPENER_SUFFIXES) and not name.startswith("self.")


def _released(nodes: list[ast.AST], name: str) -> bool:
    """Closed, used as a context manager, returned/yielded, or handed to an owner."""
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if isinstance(receiver, ast.Name) and receiver.id == name and node.func.attr in {"close", "release"}:
                return True
            if node.func.attr in {"append", "add", "enter_context", "push", "callback"} and any(
                isinstance(a, ast.Name) and a.id == name for a in node.args
            ):
                return True
        closing = isinstance(node, ast.Call) and dotted(node.func).endswith("closing")
        if closing and any(isinstance(a, ast.Name) and a.id == name for a in node.args):  # type: ignore[attr-defined]
            return True
        if isinstance(node, ast.withitem) and name in _test_names(node.context_expr):
            return True
        if isinstance(node, ast.Return | ast.Yield) and node.value is not None and name in _test_names(node.value):
            return True
        stored = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Attribute | ast.Subscript) for t in node.targets
        )
        if stored and name in _test_names(node.value):  # type: ignore[attr-defined]
            return True
    return False


def resource_leaks(tree: ast.Module, path: str) -> list[CodeFinding]:
    """A file, socket, connection or response opened into a name and never closed."""
    findings = []
    for scope in _functions(tree):
        nodes = list(_own_nodes(scope))
        for node in nodes:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                continue
            if not _is_opener(node.value) or scope is tree:
                continue
            name = node.targets[0].id
            if not _released(nodes, name):
                opener = dotted(node.value.func)  # type: ignore[attr-defined]
                findings.append(
                    CodeFinding(
                        file=path,
                        line=node.lineno,
                        category="resource_leak",
                        problem=f"`{name}` from `{opener}()` is never closed; every call leaks a handle.",
                        fix=f"Open it in a `with` block (`with {opener}(...) as {name}:`) or close it in `finally`.",
                        confidence=0.8,
                        rule="py-unclosed",
                    )
                )
    return findings


# ----------------------------------------------------------------------------- swallowed error


def _broad(handler: ast.ExceptHandler) -> bool:
    kind = handler.type
    if kind is None:
        return True
    names = kind.elts if isinstance(kind, ast.Tuple) else [kind]
    return any(dotted(n) in _BROAD for n in names)


def _silent(body: list[ast.stmt]) -> bool:
    for stmt in body:
        if isinstance(stmt, ast.Pass | ast.Continue):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, ast.Return) and (stmt.value is None or isinstance(stmt.value, ast.Constant)):
            continue
        return False
    return True


def swallowed_errors(tree: ast.Module, path: str) -> list[CodeFinding]:
    """``except:`` / ``except Exception:`` whose body drops the error without a trace."""
    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and _broad(node) and _silent(node.body):
            findings.append(
                CodeFinding(
                    file=path,
                    line=node.lineno,
                    category="swallowed_error",
                    problem="A broad `except` discards the error: failures become silent wrong results.",
                    fix="Catch the specific exception you expect, and log or re-raise anything else.",
                    confidence=0.75,
                    rule="py-swallow",
                )
            )
    return findings
