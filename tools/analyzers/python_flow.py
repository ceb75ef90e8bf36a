"""Python analyzer, second half: concurrency (unlocked shared state) and logic errors."""

from __future__ import annotations

import ast
import textwrap

from tools.analyzers.base import CodeFinding
from tools.analyzers.python import (
    _MUTATORS,
    _THREAD_IMPORTS,
    _own_nodes,
    _test_names,
    dotted,
    null_dereferences,
    resource_leaks,
    swallowed_errors,
)
from tools.analyzers.python_params import none_arguments, split_unpacking

# ----------------------------------------------------------------------------- concurrency


def _imports_threads(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.startswith(_THREAD_IMPORTS) for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(_THREAD_IMPORTS):
            return True
    return False


def _thread_targets(tree: ast.Module) -> set[str]:
    """Functions handed to a Thread, an executor, or a pool."""
    targets: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = dotted(node.func)
        for keyword in node.keywords:
            if keyword.arg == "target":
                targets.add(dotted(keyword.value).split(".")[-1])
        if name.endswith((".submit", ".map", ".apply_async", "start_new_thread")) and node.args:
            targets.add(dotted(node.args[0]).split(".")[-1])
    return targets


def _locked_lines(scope: ast.AST) -> set[int]:
    """Lines inside ``with <something lock-like>:`` blocks of ``scope``."""
    lines: set[int] = set()
    for node in ast.walk(scope):
        if isinstance(node, ast.With | ast.AsyncWith):
            text = " ".join(ast.unparse(item.context_expr).lower() for item in node.items)
            if any(word in text for word in ("lock", "mutex", "semaphore", "condition", "rlock")):
                end = node.end_lineno or node.lineno
                lines.update(range(node.lineno, end + 1))
    return lines


def _mutations(scope: ast.AST, is_shared: object) -> list[tuple[int, str]]:
    """(line, name) of writes to shared names: ``x += 1``, ``x[k] = v``, ``x.append(v)``."""
    found = []
    for node in _own_nodes(scope):
        target: ast.AST | None = None
        if isinstance(node, ast.AugAssign):
            target = node.target
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            target = node.targets[0].value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS:
            target = node.func.value
        if isinstance(target, ast.Subscript):
            target = target.value
        name = dotted(target) if target is not None else ""
        if name and is_shared(name):  # type: ignore[operator]
            found.append((getattr(node, "lineno", 0), name))
    return found


def unlocked_shared_state(tree: ast.Module, path: str) -> list[CodeFinding]:
    """Globals or instance state written by thread code without holding a lock."""
    if not _imports_threads(tree):
        return []
    targets = _thread_targets(tree)
    module_names = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    findings: list[CodeFinding] = []
    for cls in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)] + [tree]:
        class_text = ast.unparse(cls).lower() if isinstance(cls, ast.ClassDef) else ""
        class_has_lock = "lock()" in class_text
        class_starts_threads = "thread(" in class_text or ".submit(" in class_text
        for func in [n for n in cls.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            if func.name == "__init__":
                continue
            declared = {g for n in ast.walk(func) if isinstance(n, ast.Global) for g in n.names}
            in_thread = func.name in targets
            locked = _locked_lines(func)

            def shared(
                name: str,
                declared: set[str] = declared,
                in_thread: bool = in_thread,
                owner_shares: bool = isinstance(cls, ast.ClassDef) and (class_has_lock or class_starts_threads),
            ) -> bool:
                if name.startswith("self."):
                    return owner_shares
                return in_thread and (name in declared or name in module_names)

            for line, name in _mutations(func, shared):
                if line not in locked:
                    findings.append(_race(path, line, name, 0.8 if in_thread or class_has_lock else 0.7))
    return findings


def _race(path: str, line: int, name: str, confidence: float) -> CodeFinding:
    return CodeFinding(
        file=path,
        line=line,
        category="concurrency",
        problem=f"`{name}` is shared between threads and written here without a lock (lost updates, corruption).",
        fix=f"Hold a `threading.Lock` around every access to `{name}`, or confine it to one thread/queue.",
        confidence=confidence,
        rule="py-unlocked-shared",
    )


# ----------------------------------------------------------------------------- logic errors


def _len_plus_one(node: ast.AST) -> str | None:
    """``len(x) + 1`` → 'x'."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = node.left, node.right
        one = isinstance(right, ast.Constant) and right.value == 1
        if one and isinstance(left, ast.Call) and dotted(left.func) == "len" and left.args:
            return ast.unparse(left.args[0])
    return None


def _indexes(body: list[ast.stmt], seq: str, var: str) -> bool:
    for stmt in body:
        for node in ast.walk(stmt):
            index = isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice)
            if index and ast.unparse(node.value) == seq and var in _test_names(node.slice):  # type: ignore[attr-defined]
                return True
    return False


def _off_by_one(node: ast.AST) -> tuple[str, str] | None:
    """(sequence, reason) when a loop walks one past the end of a sequence it indexes."""
    if isinstance(node, ast.For) and isinstance(node.iter, ast.Call) and dotted(node.iter.func) == "range":
        args = node.iter.args
        stop = args[0] if len(args) == 1 else (args[1] if len(args) > 1 else None)
        start_zero = len(args) == 1 or (isinstance(args[0], ast.Constant) and args[0].value == 0)
        seq = _len_plus_one(stop) if stop is not None else None
        if seq and start_zero and isinstance(node.target, ast.Name) and _indexes(node.body, seq, node.target.id):
            return seq, f"`range(len({seq}) + 1)` indexes `{seq}` one past its end"
    if isinstance(node, ast.While) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1:
        right = node.test.comparators[0]
        if isinstance(node.test.ops[0], ast.LtE) and isinstance(right, ast.Call) and dotted(right.func) == "len":
            seq, var = ast.unparse(right.args[0]), ast.unparse(node.test.left)
            if _indexes(node.body, seq, var):
                return seq, f"`{var} <= len({seq})` indexes `{seq}` one past its end"
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Call) and dotted(node.slice.func) == "len":
        seq = ast.unparse(node.value)
        if node.slice.args and ast.unparse(node.slice.args[0]) == seq:
            return seq, f"`{seq}[len({seq})]` is always out of range"
    return None


def _none_test(test: ast.AST) -> str | None:
    """``x is None`` / ``not x`` / ``x == None`` → 'x'."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Name):
        return test.operand.id
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Is | ast.Eq):
        right = test.comparators[0]
        if isinstance(right, ast.Constant) and right.value is None and isinstance(test.left, ast.Name):
            return test.left.id
    return None


def _inverted_none_check(node: ast.AST) -> tuple[int, str] | None:
    """``if x is None: x.attr`` — the branch for a missing value uses it."""
    if not isinstance(node, ast.If):
        return None
    name = _none_test(node.test)
    if name is None:
        return None
    for stmt in node.body:
        for inner in ast.walk(stmt):
            if isinstance(inner, ast.Name) and inner.id == name and isinstance(inner.ctx, ast.Store):
                return None
            if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name) and inner.value.id == name:
                return inner.lineno, name
    return None


def logic_errors(tree: ast.Module, path: str) -> list[CodeFinding]:
    """Off-by-one loops and indexes, inverted None checks, identity tests against literals."""
    findings = []
    for node in ast.walk(tree):
        off = _off_by_one(node)
        if off:
            findings.append(
                _logic(path, getattr(node, "lineno", 0), off[1], "Stop at `len(...)` (or index with `- 1`).", 0.8)
            )
        inverted = _inverted_none_check(node)
        if inverted:
            line, name = inverted
            findings.append(
                _logic(
                    path,
                    line,
                    f"the branch taken when `{name}` is missing dereferences `{name}` (inverted condition)",
                    f"Invert the test (`if {name} is not None:`) or handle the missing `{name}` without using it.",
                    0.8,
                )
            )
        if isinstance(node, ast.Compare) and any(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
            literal = [c for c in node.comparators if isinstance(c, ast.Constant) and isinstance(c.value, str | int)]
            if literal and not isinstance(literal[0].value, bool):
                findings.append(_logic(path, node.lineno, "`is` compares identity, not value", "Use `==` / `!=`.", 0.7))
    return findings


def _logic(path: str, line: int, problem: str, fix: str, confidence: float) -> CodeFinding:
    return CodeFinding(
        file=path,
        line=line,
        category="logic_error",
        problem=problem[0].upper() + problem[1:] + ".",
        fix=fix,
        confidence=confidence,
        rule="py-logic",
    )


def analyze_python(source: str, path: str) -> list[CodeFinding]:
    """Every Python rule over ``source``; a file that does not parse yields nothing.

    ``source`` may be the new side of a patch (the file at head could not be read): a hunk
    from inside a function is indented, so it is parsed once more dedented (lines keep
    their numbers).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        try:
            tree = ast.parse(textwrap.dedent(source))
        except (SyntaxError, ValueError):
            return []
    findings: list[CodeFinding] = []
    for rule in (
        null_dereferences,
        resource_leaks,
        swallowed_errors,
        unlocked_shared_state,
        logic_errors,
        none_arguments,
        split_unpacking,
    ):
        findings.extend(rule(tree, path))
    return findings
