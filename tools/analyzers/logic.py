"""Logic errors shared by Go, Java and JavaScript/TypeScript: inverted null checks and off-by-one loops."""

from __future__ import annotations

import re

from tree_sitter import Node

from tools.analyzers.base import CodeFinding
from tools.analyzers.flow import implies
from tools.analyzers.nullflow import _names_in, derefs
from tools.analyzers.syntax import Source, functions, own_nodes, walk

_LENGTH = re.compile(r"^(?P<v>\w+)\s*<=\s*(?:len\((?P<go>[\w.]+)\)|(?P<js>[\w.]+)\.(?:length|size\(\)))$")


def inverted_checks(src: Source, path: str) -> list[CodeFinding]:
    """The branch taken when a value is null dereferences it."""
    findings = []
    for function in functions(src.root, src.dialect):
        for node in own_nodes(function, src.dialect):
            if node.type != src.dialect.if_type:
                continue
            cond, body = node.child_by_field_name("condition"), node.child_by_field_name("consequence")
            for name_node in _names_in(src, cond):
                name = src.text(name_node)
                when_true, _ = implies(src, cond, name)
                if when_true != "null" or body is None or _reassigns(src, body, name):
                    continue
                uses = [u for u in derefs(src, function, name) if body.start_byte <= u.start_byte < body.end_byte]
                if uses:
                    findings.append(
                        CodeFinding(
                            path,
                            src.line(uses[0]),
                            "logic_error",
                            f"The branch taken when `{name}` is null/nil dereferences `{name}` (inverted condition).",
                            f"Invert the test or handle the missing `{name}` without touching it.",
                            0.8,
                            f"{src.dialect.name}-inverted-null",
                        )
                    )
                    break
    return findings


def _reassigns(src: Source, body: Node, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}\s*:?=(?!=)", src.text(body)) is not None


def off_by_one(src: Source, path: str) -> list[CodeFinding]:
    """``for i := 0; i <= len(xs); i++ { xs[i] }`` and its Java/JS forms."""
    findings = []
    for node in walk(src.root):
        if node.type != "for_statement":
            continue
        cond = node.child_by_field_name("condition")
        if cond is None:
            clause = next((c for c in node.named_children if c.type == "for_clause"), None)
            cond = clause.child_by_field_name("condition") if clause is not None else None
        match = _LENGTH.match(src.text(cond).strip().strip(";").strip()) if cond is not None else None
        if not match:
            continue
        seq, var = match.group("go") or match.group("js"), match.group("v")
        body = node.child_by_field_name("body")
        if body is not None and re.search(rf"\b{re.escape(seq)}\[{var}\]", src.text(body)):
            findings.append(
                CodeFinding(
                    path,
                    src.line(node),
                    "logic_error",
                    f"The loop runs while `{var} <=` the length of `{seq}`; `{seq}[{var}]` reads one past the end.",
                    "Use `<` instead of `<=`.",
                    0.85,
                    f"{src.dialect.name}-off-by-one",
                )
            )
    return findings
