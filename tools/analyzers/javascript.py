"""JavaScript/TypeScript analyzer on the tree-sitter grammars: nulls, leaks, swallowed errors, async races, logic."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from tree_sitter import Node

from tools.analyzers.base import CodeFinding
from tools.analyzers.dialects import JAVASCRIPT
from tools.analyzers.flow import statements
from tools.analyzers.logic import inverted_checks, off_by_one
from tools.analyzers.nullflow import checked_then_used, dereferenced_params, nulled_members, unguarded_sources
from tools.analyzers.resources import unreleased
from tools.analyzers.syntax import Source, call_name, walk

_NULLABLE = re.compile(r"(?:^|\.)(?:find|querySelector|getElementById|closest|getItem|exec|match|getAttribute)$")
_ACQUIRE = re.compile(r"(?:^|\.)(?:connect|getConnection|acquire|open|createConnection|openSync)$")


def _maps(src: Source) -> set[str]:
    return {
        src.text(n.child_by_field_name("name"))
        for n in walk(src.root)
        if n.type == "variable_declarator" and src.text(n.child_by_field_name("value")).startswith("new Map")
    }


def _source(maps: set[str]):  # type: ignore[no-untyped-def]
    def is_source(src: Source, value: Node) -> str | None:
        if value.type == "await_expression" and value.named_children:
            value = value.named_children[0]
        if value.type != "call_expression":
            return None
        name = call_name(src, value)
        if _NULLABLE.search(name) or (name.endswith(".get") and name[: -len(".get")].removeprefix("this.") in maps):
            return name
        return None

    return is_source


def _acquire(src: Source, value: Node) -> str | None:
    if value.type == "await_expression" and value.named_children:
        value = value.named_children[0]
    if value.type != "call_expression":
        return None
    name = call_name(src, value)
    return "connection/handle" if _ACQUIRE.search(name) and "." in name else None


def swallowed(src: Source, path: str) -> list[CodeFinding]:
    """Empty ``catch {}`` blocks and ``.catch(() => {})`` handlers."""
    findings = []
    for node in walk(src.root):
        empty = False
        if node.type == "catch_clause":
            body = node.child_by_field_name("body")
            empty = body is not None and not statements(body)
        elif node.type == "call_expression" and call_name(src, node).endswith(".catch"):
            args = node.child_by_field_name("arguments")
            handler = args.named_children[0] if args is not None and args.named_children else None
            body = handler.child_by_field_name("body") if handler is not None else None
            empty = body is not None and body.type == "statement_block" and not statements(body)
        if empty:
            findings.append(
                CodeFinding(
                    path,
                    src.line(node),
                    "swallowed_error",
                    "The error is caught and dropped: the failure is invisible to callers and logs.",
                    "Log it with context or rethrow; let the caller see the failure.",
                    0.75,
                    "js-empty-catch",
                )
            )
    return findings


def async_races(src: Source, path: str) -> list[CodeFinding]:
    """``xs.forEach(async ...)`` writing an outer variable: nobody awaits the callbacks, the result is read early."""
    findings = []
    for node in walk(src.root):
        if node.type != "call_expression" or not call_name(src, node).endswith(".forEach"):
            continue
        args = node.child_by_field_name("arguments")
        callback = args.named_children[0] if args is not None and args.named_children else None
        if callback is None or not src.text(callback).startswith("async"):
            continue
        for inner in walk(callback):
            if inner.type in ("augmented_assignment_expression", "update_expression", "assignment_expression"):
                target = src.text(inner.named_children[0])
                if re.fullmatch(r"[A-Za-z_$][\w$]*", target) and f"let {target}" not in src.text(callback):
                    findings.append(
                        CodeFinding(
                            path,
                            src.line(node),
                            "concurrency",
                            f"`{target}` is written by async callbacks that `forEach` never awaits: it is read "
                            "before they finish.",
                            "Use `for ... of` with `await`, or `await Promise.all(xs.map(...))`.",
                            0.8,
                            "js-async-foreach",
                        )
                    )
                    break
    return findings


def nan_compare(src: Source, path: str) -> list[CodeFinding]:
    """``x === NaN`` is always false."""
    return [
        CodeFinding(
            path,
            src.line(n),
            "logic_error",
            "Comparing with `NaN` is always false.",
            "Use `Number.isNaN(x)`.",
            0.85,
            "js-nan-compare",
        )
        for n in walk(src.root)
        if n.type == "binary_expression"
        and any(src.text(c) == "NaN" for c in n.named_children)
        and any(c.type in ("==", "===", "!=", "!==") for c in n.children)
    ]


def analyze_javascript(text: str, path: str) -> list[CodeFinding]:
    """Every JavaScript/TypeScript rule over ``text``."""
    suffix = PurePosixPath(path).suffix.lower()
    language = {".ts": "typescript", ".tsx": "tsx"}.get(suffix, "javascript")
    src = Source(text, JAVASCRIPT, language)
    findings = unguarded_sources(src, path, _source(_maps(src)))
    findings += checked_then_used(src, path, dereferenced_params(src))
    findings += nulled_members(src, path)
    for rule in (swallowed, async_races, nan_compare, inverted_checks, off_by_one):
        findings.extend(rule(src, path))
    findings.extend(unreleased(src, path, _acquire))
    return findings
