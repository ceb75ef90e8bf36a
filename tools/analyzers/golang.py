"""Go analyzer on the tree-sitter Go grammar: nil values, unreleased resources, dropped errors, races, logic."""

from __future__ import annotations

import re

from tree_sitter import Node

from tools.analyzers.base import CodeFinding
from tools.analyzers.dialects import GO
from tools.analyzers.flow import exits, guarded, statements
from tools.analyzers.logic import inverted_checks, off_by_one
from tools.analyzers.nullflow import bindings, checked_then_used, dereferenced_params, derefs
from tools.analyzers.resources import unreleased
from tools.analyzers.syntax import Source, call_name, enclosing, functions, own_nodes, walk

_OPENERS = re.compile(
    r"^(?:os\.(?:Open|OpenFile|Create|CreateTemp)|sql\.Open|net\.(?:Dial|DialTimeout|Listen)|"
    r"http\.(?:Get|Post|Head|PostForm)|\w*[cC]lient\.(?:Do|Get|Post|Head)|\w*[dD][bB]\.(?:Query|QueryContext|Conn)"
    r"|time\.NewTicker)$"
)
_CONTEXTS = re.compile(r"^context\.With(?:Cancel|Timeout|Deadline)(?:Cause)?$")
_ERROR_WRITERS = re.compile(r"(?:^http\.Error|[eE]rror|^writeError|Abort\w*)$")


def _acquire(src: Source, value: Node) -> str | None:
    if value.type != "call_expression":
        return None
    name = call_name(src, value)
    if _CONTEXTS.match(name):
        return "context"
    if name == "make" and "chan" in src.text(value.child_by_field_name("arguments")):
        return "channel"
    return "file/connection/response" if _OPENERS.match(name) else None


def _no_source(src: Source, value: Node) -> str | None:
    return None


def _returns_error(src: Source, function: Node) -> bool:
    result = function.child_by_field_name("result")
    return result is not None and re.search(r"\berror\b", src.text(result)) is not None


def error_branches(src: Source, path: str) -> list[CodeFinding]:
    """Empty ``if err != nil {}`` blocks and error branches that return a nil error."""
    findings = []
    for function in functions(src.root, GO):
        for node in own_nodes(function, GO):
            if node.type != "if_statement":
                continue
            cond = src.text(node.child_by_field_name("condition"))
            if not re.fullmatch(r"err\s*!=\s*nil", cond.strip()):
                continue
            body = node.child_by_field_name("consequence")
            stmts = statements(body) if body is not None else []
            if not stmts:
                findings.append(
                    CodeFinding(
                        path,
                        src.line(node),
                        "swallowed_error",
                        "`if err != nil {}` is empty: the error is dropped and execution continues with bad values.",
                        'Return or wrap the error (`return fmt.Errorf("...: %w", err)`).',
                        0.8,
                        "go-empty-err",
                    )
                )
                continue
            last = stmts[-1]
            if last.type == "return_statement" and _returns_error(src, function):
                values = [src.text(v) for v in (last.named_children[0].named_children if last.named_children else [])]
                if values and values[-1] == "nil" and not any("err" in src.text(s) for s in stmts):
                    findings.append(
                        CodeFinding(
                            path,
                            src.line(last),
                            "swallowed_error",
                            "The error branch returns a nil error: callers see success when the call failed.",
                            "Return the error (`return ..., err`) instead of nil.",
                            0.75,
                            "go-err-return-nil",
                        )
                    )
    return findings


def used_before_error_check(src: Source, path: str) -> list[CodeFinding]:
    """``v, err := f()`` followed by a dereference of ``v`` before ``err`` is looked at (or with ``err`` discarded)."""
    findings = []
    for function in functions(src.root, GO):
        for bound in bindings(src, function):
            if not bound.err:
                continue
            statement = enclosing(bound.value, frozenset({"short_var_declaration", "assignment_statement"}))
            block = statement.parent if statement is not None else None
            if statement is None or block is None:
                continue
            following = [s for s in block.named_children if s.start_byte > statement.start_byte]
            for stmt in following:
                if bound.err == "err" and re.search(r"\berr\b", src.text(stmt)):
                    break
                use = next((u for u in derefs(src, stmt, bound.name) if u.type != "call_expression"), None)
                if use is not None and not guarded(src, use, bound.name, since=statement.end_byte):
                    why = "its error is discarded (`_`)" if bound.err == "_" else "before `err` is checked"
                    findings.append(
                        CodeFinding(
                            path,
                            src.line(use),
                            "null_dereference",
                            f"`{bound.name}` is used {why}; it is nil/empty when the call fails (panic).",
                            f"Check `err` (return on failure) before using `{bound.name}`.",
                            0.8,
                            "go-used-before-err",
                        )
                    )
                    break
                if re.search(rf"(?<![\w.]){bound.name}\s*:?=(?!=)", src.text(stmt)):
                    break
    return findings


def unchecked_assertions(src: Source, path: str) -> list[CodeFinding]:
    """Single-value type assertions on context values (absent → panic) or on values then compared with nil."""
    findings = []
    for node in walk(src.root):
        if node.type != "type_assertion_expression":
            continue
        holder = node.parent.parent if node.parent is not None else None
        left = holder.child_by_field_name("left") if holder is not None else None
        if left is not None and left.named_child_count > 1:
            continue  # v, ok := x.(T)
        operand = src.text(node.child_by_field_name("operand"))
        target = src.text(left.named_children[0]) if left is not None and left.named_children else ""
        scope = enclosing(node, GO.functions)
        nil_checked = bool(target) and scope is not None and re.search(rf"\b{target}\s*==\s*nil", src.text(scope))
        if ".Value(" in operand or nil_checked:
            findings.append(
                CodeFinding(
                    path,
                    src.line(node),
                    "null_dereference",
                    f"`{src.text(node)}` panics when the value is absent or of another type.",
                    "Use the two-value form `v, ok := x.(T)` and handle `!ok`.",
                    0.75,
                    "go-unchecked-assertion",
                )
            )
    return findings


def _imports(src: Source) -> set[str]:
    names = set()
    for spec in walk(src.root):
        if spec.type == "import_spec":
            alias = spec.child_by_field_name("name")
            target = src.text(spec.child_by_field_name("path")).strip('"`')
            names.add(src.text(alias) if alias is not None else target.rsplit("/", 1)[-1])
    return names


def pointer_fields(src: Source, path: str) -> list[CodeFinding]:
    """``*x.Field`` (optional pointer fields of decoded structs) dereferenced with no nil check in the function."""
    findings = []
    packages = _imports(src)
    for node in walk(src.root):
        if node.type != "unary_expression" or not node.children or node.children[0].type != "*":
            continue
        operand = node.child_by_field_name("operand")
        if operand is None or operand.type != "selector_expression":
            continue
        if src.text(operand.child_by_field_name("operand")) in packages:
            continue
        name = src.text(operand)
        scope = enclosing(node, GO.functions)
        if scope is not None and not re.search(rf"{re.escape(name)}\s*[!=]=\s*nil", src.text(scope)):
            findings.append(
                CodeFinding(
                    path,
                    src.line(node),
                    "null_dereference",
                    f"`*{name}` dereferences an optional pointer field that nothing checks for nil.",
                    f"Check `{name} != nil` first.",
                    0.6,
                    "go-nil-pointer-field",
                )
            )
    return findings


def goroutine_races(src: Source, path: str) -> list[CodeFinding]:
    """Writes inside ``go func(){...}`` to variables of the enclosing function, without a lock or atomic."""
    findings = []
    for node in walk(src.root):
        if node.type != "go_statement":
            continue
        literal = next((n for n in walk(node) if n.type == "func_literal"), None)
        if literal is None or re.search(r"\.(?:R?Lock)\(\)|atomic\.", src.text(literal)):
            continue
        params = src.text(literal.child_by_field_name("parameters"))
        local = {b.name for b in bindings(src, literal)} | set(re.findall(r"(\w+)\s+[\w.*\[\]]+", params))
        for inner in own_nodes(literal, GO):
            if inner.type not in ("assignment_statement", "inc_statement", "dec_statement"):
                continue
            left = inner.child_by_field_name("left") or inner.named_children[0]
            base = re.match(r"[A-Za-z_]\w*", src.text(left))
            name = base.group(0) if base else ""
            if name and name not in local | {"_", "err"} and src.text(left).split("[")[0].split(".")[0] == name:
                findings.append(
                    CodeFinding(
                        path,
                        src.line(inner),
                        "concurrency",
                        f"The goroutine writes `{name}`, shared with other goroutines, without synchronization.",
                        f"Guard `{name}` with a `sync.Mutex`, use `sync/atomic`, or send results on a channel.",
                        0.8,
                        "go-goroutine-race",
                    )
                )
                break
    return findings


def error_response_falls_through(src: Source, path: str) -> list[CodeFinding]:
    """An ``if`` that writes an error response (``http.Error(w, ...)``, ``h.handleError(w, ...)``) and carries on."""
    findings = []
    for function in functions(src.root, GO):
        params = src.text(function.child_by_field_name("parameters"))
        writer = re.search(r"(\w+)\s+http\.ResponseWriter", params)
        if writer is None:
            continue
        for node in own_nodes(function, GO):
            if node.type != "if_statement" or node.child_by_field_name("alternative") is not None:
                continue
            body = node.child_by_field_name("consequence")
            stmts = statements(body) if body is not None else []
            call = stmts[-1].named_children[0] if stmts and stmts[-1].type == "expression_statement" else None
            if call is None or call.type != "call_expression" or exits(src, body):
                continue
            args = call.child_by_field_name("arguments")
            first = src.text(args.named_children[0]) if args is not None and args.named_children else ""
            if _ERROR_WRITERS.search(call_name(src, call)) and first == writer.group(1) and _has_next(node):
                findings.append(
                    CodeFinding(
                        path,
                        src.line(call),
                        "logic_error",
                        "The error response is written but the handler does not return: it goes on to serve "
                        "the request anyway.",
                        "Add `return` after writing the error.",
                        0.75,
                        "go-error-response-falls-through",
                    )
                )
    return findings


def _has_next(node: Node) -> bool:
    sibling = node.next_named_sibling
    return sibling is not None and sibling.type != "comment"


def analyze_go(text: str, path: str) -> list[CodeFinding]:
    """Every Go rule over ``text``."""
    src = Source(text, GO, "go")
    findings = checked_then_used(src, path, dereferenced_params(src))
    for rule in (
        error_branches,
        used_before_error_check,
        unchecked_assertions,
        pointer_fields,
        goroutine_races,
        error_response_falls_through,
        inverted_checks,
        off_by_one,
    ):
        findings.extend(rule(src, path))
    findings.extend(unreleased(src, path, _acquire))
    return findings
