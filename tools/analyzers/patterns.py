"""Helpers for the pattern analyzers (Go, Java, JS/TS): cleaned lines and brace-delimited blocks.

Comments are blanked and string literals emptied (``"abc"`` → ``""``) so patterns match
code, not prose: an instruction hidden in a comment or string cannot match a rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tools.analyzers.base import Category, CodeFinding


def clean_lines(text: str) -> list[str]:
    """Lines of C-family ``text`` with comments removed and string contents emptied (line count kept)."""
    out: list[str] = []
    in_block = False
    for raw in text.splitlines():
        buf: list[str] = []
        i, quote = 0, ""
        while i < len(raw):
            ch, nxt = raw[i], raw[i + 1 : i + 2]
            if in_block:
                if ch == "*" and nxt == "/":
                    in_block = False
                    i += 1
            elif quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = ""
                    buf.append(ch)
            elif ch == "/" and nxt == "/":
                break
            elif ch == "/" and nxt == "*":
                in_block = True
                i += 1
            elif ch in "\"'`":
                quote = ch
                buf.append(ch)
            else:
                buf.append(ch)
            i += 1
        out.append("".join(buf).rstrip())
    return out


def block(lines: list[str], start: int) -> tuple[int, int]:
    """(first, last) line index of the ``{ ... }`` block opened on line ``start`` (inclusive)."""
    depth = 0
    opened = False
    for index in range(start, len(lines)):
        for ch in lines[index]:
            if ch == "{":
                depth += 1
                opened = True
            elif ch == "}":
                depth -= 1
                if opened and depth == 0:
                    return start, index
    return start, len(lines) - 1


def scope_end(lines: list[str], start: int) -> int:
    """Index of the line that closes the block enclosing line ``start``."""
    depth = 0
    for index in range(start, len(lines)):
        depth += lines[index].count("{") - lines[index].count("}")
        if depth < 0:
            return index
    return len(lines) - 1


def block_is_empty(lines: list[str], first: int, last: int) -> bool:
    """Whether the block between ``{`` on ``first`` and ``}`` on ``last`` holds no code."""
    if first == last:
        inner = lines[first][lines[first].find("{") + 1 : lines[first].rfind("}")]
        return not inner.strip()
    head = lines[first][lines[first].find("{") + 1 :]
    tail = lines[last][: lines[last].find("}")]
    middle = lines[first + 1 : last]
    return not head.strip() and not tail.strip() and all(not m.strip() for m in middle)


def tested(lines: list[str], first: int, last: int, name: str) -> bool:
    """Whether ``name`` appears in a condition (if/while/ternary/&&/||/assert/requireNonNull) in the range."""
    check = re.compile(
        rf"(\b(if|while|assert)\b.*\b{re.escape(name)}\b)|(\b{re.escape(name)}\b\s*(!==?|===?|\?\?|&&|\|\||\?))"
        rf"|((!==?|===?|&&|\|\||!)\s*{re.escape(name)}\b)|requireNonNull\(\s*{re.escape(name)}\b"
    )
    return any(check.search(lines[i]) for i in range(first, min(last, len(lines) - 1) + 1))


def deref_after(lines: list[str], first: int, last: int, name: str) -> int | None:
    """First line index in the range where ``name.`` (not ``name?.``) is used."""
    use = re.compile(rf"(?<![\w.?]){re.escape(name)}\.(?=[A-Za-z_])")
    for index in range(first, min(last, len(lines) - 1) + 1):
        if use.search(lines[index]):
            return index
    return None


@dataclass(frozen=True)
class Rule:
    """A pattern rule's metadata: what it says and how sure it is."""

    rule: str
    category: Category
    problem: str
    fix: str
    confidence: float

    def at(self, path: str, index: int, **names: str) -> CodeFinding:
        """A finding of this rule at 0-based line ``index``, with ``{name}`` filled in."""
        return CodeFinding(
            file=path,
            line=index + 1,
            category=self.category,
            problem=self.problem.format(**names),
            fix=self.fix.format(**names),
            confidence=self.confidence,
            rule=self.rule,
        )


Checker = Callable[[list[str], str], list[CodeFinding]]


def run_checkers(text: str, path: str, checkers: list[Checker]) -> list[CodeFinding]:
    """Run every checker over the cleaned lines of ``text``."""
    lines = clean_lines(text)
    findings: list[CodeFinding] = []
    for checker in checkers:
        findings.extend(checker(lines, path))
    return findings


def inverted_checks(lines: list[str], path: str, pattern: re.Pattern[str], rule: Rule) -> list[CodeFinding]:
    """``if x is missing { x.field }``: the branch for a missing value dereferences it."""
    findings = []
    for index, line in enumerate(lines):
        match = pattern.search(line)
        if not match or "{" not in line[match.end() - 1 :]:
            continue
        name = match.group("name")
        first, last = block(lines, index)
        assign = re.compile(rf"(?<![\w.]){re.escape(name)}\s*(:?=)(?!=)")
        for inner in range(first + 1, last + 1):
            if assign.search(lines[inner]):
                break
            if deref_after(lines, inner, inner, name) is not None:
                findings.append(rule.at(path, inner, name=name))
                break
    return findings
