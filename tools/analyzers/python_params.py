"""Python: values that may be None reaching a function that dereferences its parameter without a check.

Maybe-None arguments are the ``None`` literal, a parameter that defaults to None, and an
argparse option that defaults to None (``default=None`` or no default, not required, not a
flag). The callee must be a function of the same file that dereferences the parameter
(attribute, subscript, call) and never tests it, so an explicit ``if p:`` makes it safe.
"""

from __future__ import annotations

import ast

from tools.analyzers.base import CodeFinding
from tools.analyzers.python import _test_names, dotted

_FLAG_ACTIONS = {"store_true", "store_false", "count", "append", "store_const", "help", "version"}


def _optional_options(tree: ast.Module) -> set[str]:
    """``dest`` names of argparse options whose value is None unless given."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and dotted(node.func).endswith(".add_argument") and node.args):
            continue
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        flags = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if not flags or not flags[0].startswith("-"):
            continue
        action = keywords.get("action")
        if isinstance(action, ast.Constant) and action.value in _FLAG_ACTIONS:
            continue
        required = keywords.get("required")
        if isinstance(required, ast.Constant) and required.value is True:
            continue
        default = keywords.get("default")
        if default is None or (isinstance(default, ast.Constant) and default.value is None):
            dest = keywords.get("dest")
            long = next((f for f in flags if f.startswith("--")), flags[0])
            names.add(str(dest.value) if isinstance(dest, ast.Constant) else long.lstrip("-").replace("-", "_"))
    return names


def _dereferenced_params(tree: ast.Module) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        params = [a.arg for a in func.args.posonlyargs + func.args.args]
        tested = set().union(
            *(_test_names(n.test) for n in ast.walk(func) if isinstance(n, ast.If | ast.IfExp | ast.While | ast.Assert))
        )
        tested |= {
            n.values[0].id for n in ast.walk(func) if isinstance(n, ast.BoolOp) and isinstance(n.values[0], ast.Name)
        }
        hit = set()
        for index, name in enumerate(params):
            if name in ("self", "cls") or name in tested:
                continue
            for node in ast.walk(func):
                value = node.value if isinstance(node, ast.Attribute | ast.Subscript) else None
                if isinstance(value, ast.Name) and value.id == name:
                    hit.add(index)
                    break
        if hit:
            out[func.name] = hit
    return out


def none_arguments(tree: ast.Module, path: str) -> list[CodeFinding]:
    """Calls that pass a maybe-None value to a same-file function dereferencing that parameter."""
    derefs = _dereferenced_params(tree)
    options = _optional_options(tree)
    findings = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.func.id not in derefs:
            continue
        for index, arg in enumerate(node.args):
            if index not in derefs[node.func.id]:
                continue
            why = ""
            if isinstance(arg, ast.Constant) and arg.value is None:
                why = "`None` is passed"
            elif isinstance(arg, ast.Attribute) and arg.attr in options and isinstance(arg.value, ast.Name):
                why = f"the option `--{arg.attr.replace('_', '-')}` is None when not given"
            if why:
                findings.append(
                    CodeFinding(
                        path,
                        node.lineno,
                        "null_dereference",
                        f"{why[0].upper() + why[1:]}, and `{node.func.id}` dereferences that argument without a "
                        "check (AttributeError: 'NoneType').",
                        f"Handle None before calling `{node.func.id}`, or make it accept None.",
                        0.75,
                        "py-none-argument",
                    )
                )
                break
    return findings


def split_unpacking(tree: ast.Module, path: str) -> list[CodeFinding]:
    """``a, b = s.split(sep, 1)`` raises ValueError when ``sep`` is missing, unless ``sep in s`` was checked."""
    findings = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple)):
            continue
        call = node.value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        if call.func.attr not in ("split", "rsplit") or len(call.args) != 2:
            continue
        limit, sep = call.args[1], call.args[0]
        if not (isinstance(limit, ast.Constant) and limit.value == len(node.targets[0].elts) - 1):
            continue
        subject = ast.unparse(call.func.value)
        checked = any(
            isinstance(n, ast.Compare)
            and isinstance(n.ops[0], ast.In | ast.NotIn)
            and ast.unparse(n.left) == ast.unparse(sep)
            and ast.unparse(n.comparators[0]) == subject
            for n in ast.walk(tree)
        )
        if not checked:
            findings.append(
                CodeFinding(
                    path,
                    node.lineno,
                    "logic_error",
                    f"Unpacking `{subject}.{call.func.attr}({ast.unparse(sep)}, {limit.value})` into "
                    f"{len(node.targets[0].elts)} names raises ValueError when the separator is missing.",
                    f"Check `{ast.unparse(sep)} in {subject}` first, or use `partition`/`rpartition`.",
                    0.6,
                    "py-split-unpack",
                )
            )
    return findings
