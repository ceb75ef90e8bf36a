"""JavaScript / TypeScript analyzer (patterns over cleaned lines)."""

from __future__ import annotations

import re

from tools.analyzers.base import CodeFinding
from tools.analyzers.patterns import (
    Rule,
    block,
    block_is_empty,
    deref_after,
    inverted_checks,
    run_checkers,
    scope_end,
    tested,
)

_NULLABLE = (
    r"(?:document|\w+)\.(?:querySelector|getElementById)\([^()]*\)|\w+\.find\((?:[^()]|\([^()]*\))*\)"
    r"|\w*[mM]ap\.get\([^()]*\)|\w*[cC]ache\.get\([^()]*\)|\w+\.(?:findOne|findByPk|findUnique)\((?:[^()]|\([^()]*\))*\)"
    r"|process\.env\.\w+|\w+\.getItem\([^()]*\)"
)
_CHAINED = re.compile(rf"(?P<expr>{_NULLABLE})\.(?=[A-Za-z_])")
_ASSIGN = re.compile(
    rf"^\s*(?:const|let|var)\s+(?P<name>\w+)(?:\s*:\s*[\w<>| \[\]]+)?\s*=\s*(?:await\s+)?(?:{_NULLABLE})\s*;?\s*$"
)
_OPEN = re.compile(
    r"^\s*(?:const|let|var)\s+(?P<name>\w+)(?:\s*:\s*[\w<>| ]+)?\s*=\s*(?:await\s+)?(?P<call>fs\.openSync"
    r"|fs\.promises\.open|fsp\.open|\w*[pP]ool\.connect|\w*[pP]ool\.getConnection|net\.createConnection"
    r"|\w+\.createConnection)\("
)
_CATCH = re.compile(r"\bcatch\s*(?:\(\s*\w*\s*(?::\s*\w+\s*)?\))?\s*\{")
_PROMISE_CATCH = re.compile(
    r"\.catch\(\s*(?:\(\s*\w*\s*\)|\w+)\s*=>\s*(?:\{\s*\}|null|undefined|\{\s*return\s*;?\s*\})\s*\)"
)
_FOREACH_ASYNC = re.compile(r"\.forEach\(\s*async\b")
_OFF_BY_ONE = re.compile(r"for\s*\(\s*(?:let|var)\s+(?P<v>\w+)\s*=\s*0\s*;\s*(?P=v)\s*<=\s*(?P<seq>[\w.]+)\.length\b")
_NAN = re.compile(r"[!=]==?\s*NaN\b|\bNaN\s*[!=]==?")
_ASSIGN_IN_IF = re.compile(r"\bif\s*\(\s*[\w.]+\s*=(?![=>])\s*[^=]")

NULL = Rule(
    "js-nullable-deref",
    "null_dereference",
    "`{name}` can be null/undefined (no match, missing element or key) and is dereferenced (TypeError).",
    "Check `{name}` first, or use optional chaining (`?.`) and handle the missing case.",
    0.75,
)
LEAK = Rule(
    "js-unreleased",
    "resource_leak",
    "`{name}` from `{call}` is never released/closed; the pool or file descriptors run out.",
    "Release it in a `finally` block (`{name}.release()` / `close()`).",
    0.8,
)
SWALLOW = Rule(
    "js-empty-catch",
    "swallowed_error",
    "The error is caught and dropped: failures turn into silent wrong results.",
    "Log and rethrow (or return an explicit error); never leave a catch empty.",
    0.8,
)
FOREACH = Rule(
    "js-foreach-async",
    "concurrency",
    "`forEach(async ...)` does not await its callbacks: they run concurrently, unordered, and their errors are lost.",
    "Use `for (const x of items) {{ await ... }}` or `await Promise.all(items.map(async ...))`.",
    0.75,
)
OFF_BY_ONE = Rule(
    "js-off-by-one",
    "logic_error",
    "The loop runs to `{seq}.length` inclusive and reads past the end (undefined).",
    "Use `<` instead of `<=`.",
    0.85,
)
NAN = Rule("js-nan", "logic_error", "Comparing with NaN is always false.", "Use `Number.isNaN(x)`.", 0.8)
ASSIGN_IN_IF = Rule(
    "js-assign-in-if",
    "logic_error",
    "The condition assigns instead of comparing, so it is always truthy/falsy.",
    "Use `===` to compare.",
    0.7,
)
INVERTED = Rule(
    "js-inverted-null",
    "logic_error",
    "The branch for a missing `{name}` dereferences `{name}` (inverted condition: TypeError).",
    "Invert the test or handle the missing `{name}` without touching it.",
    0.8,
)


def nullable_derefs(lines: list[str], path: str) -> list[CodeFinding]:
    """``arr.find(...).x``, ``querySelector(...).x``, ``map.get(k).x`` and the same through a variable."""
    findings = []
    for index, line in enumerate(lines):
        chain = _CHAINED.search(line)
        if chain:
            findings.append(NULL.at(path, index, name=chain.group("expr").split("(")[0]))
            continue
        assign = _ASSIGN.match(line)
        if not assign:
            continue
        name = assign.group("name")
        use = deref_after(lines, index + 1, scope_end(lines, index), name)
        if use is not None and not tested(lines, index + 1, use, name):
            findings.append(NULL.at(path, use, name=name))
    return findings


def leaks(lines: list[str], path: str) -> list[CodeFinding]:
    """Pool clients and file handles taken and never given back."""
    findings = []
    for index, line in enumerate(lines):
        match = _OPEN.match(line)
        if not match:
            continue
        name = match.group("name")
        rest = "\n".join(lines[index + 1 : scope_end(lines, index) + 1])
        released = rf"\b{name}\.(?:release|close|end|destroy)\(|closeSync\(\s*{name}\b|\breturn\s+{name}\b(?!\.)"
        if not re.search(released, rest):
            findings.append(LEAK.at(path, index, name=name, call=match.group("call")))
    return findings


def swallowed(lines: list[str], path: str) -> list[CodeFinding]:
    """Empty ``catch`` blocks and ``.catch(() => {})``."""
    findings = []
    for index, line in enumerate(lines):
        if _PROMISE_CATCH.search(line):
            findings.append(SWALLOW.at(path, index))
            continue
        match = _CATCH.search(line)
        if not match:
            continue
        trimmed = lines[index][match.end() - 1 :]
        first, last = block([trimmed, *lines[index + 1 :]], 0)
        if block_is_empty([trimmed, *lines[index + 1 :]], first, last):
            findings.append(SWALLOW.at(path, index))
    return findings


def logic(lines: list[str], path: str) -> list[CodeFinding]:
    """Off-by-one loops, NaN comparisons, assignment in conditions, async forEach, inverted null checks."""
    findings = []
    for index, line in enumerate(lines):
        match = _OFF_BY_ONE.search(line)
        if match:
            findings.append(OFF_BY_ONE.at(path, index, seq=match.group("seq")))
        if _NAN.search(line):
            findings.append(NAN.at(path, index))
        if _ASSIGN_IN_IF.search(line):
            findings.append(ASSIGN_IN_IF.at(path, index))
        if _FOREACH_ASYNC.search(line):
            findings.append(FOREACH.at(path, index))
    for alt in (
        re.compile(r"\bif\s*\(\s*!\s*(?P<name>\w+)\s*\)\s*\{"),
        re.compile(r"\bif\s*\(\s*(?P<name>\w+)\s*===?\s*(?:null|undefined)\s*\)\s*\{"),
    ):
        findings.extend(inverted_checks(lines, path, alt, INVERTED))
    return findings


def analyze_javascript(text: str, path: str) -> list[CodeFinding]:
    """Every JS/TS rule over ``text``."""
    return run_checkers(text, path, [nullable_derefs, leaks, swallowed, logic])
