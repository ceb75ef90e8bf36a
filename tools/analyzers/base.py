"""The finding model every analyzer returns, and the unified-diff reader that limits blame to added lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

Category = Literal["null_dereference", "resource_leak", "concurrency", "logic_error", "swallowed_error"]
CATEGORIES: tuple[Category, ...] = (
    "null_dereference",
    "resource_leak",
    "concurrency",
    "logic_error",
    "swallowed_error",
)
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class CodeFinding:
    """One suspected fatal bug on a line a change added."""

    file: str
    line: int
    category: Category
    problem: str
    fix: str
    confidence: float
    rule: str
    pr: int | None = None
    relevance: float = 0.0
    correlated: tuple[str, ...] = field(default=())
    anchor: int | None = None
    """The line that made the use unsafe (a new null test), blamed when the use itself did not change."""

    def with_pr(self, pr: int) -> CodeFinding:
        """The same finding attributed to PR ``pr``."""
        return replace(self, pr=pr)

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of ``alertpilot review`` (pr, file, line, category, problem, fix, confidence, ...)."""
        return {
            "pr": self.pr,
            "file": self.file,
            "line": self.line,
            "category": self.category,
            "problem": self.problem,
            "fix": self.fix,
            "confidence": round(self.confidence, 2),
            "rule": self.rule,
            "relevance": round(self.relevance, 2),
            "correlated": list(self.correlated),
        }


def added_lines(patch: str | None) -> dict[int, str]:
    """New-file line number → text of every line ``patch`` added (``+`` lines)."""
    lines: dict[int, str] = {}
    number = 0
    for raw in (patch or "").splitlines():
        match = _HUNK.match(raw)
        if match:
            number = int(match.group(1))
            continue
        if number == 0 or raw.startswith(("\\", "+++", "---")):
            continue
        if raw.startswith("+"):
            lines[number] = raw[1:]
            number += 1
        elif raw.startswith("-"):
            continue
        else:
            number += 1
    return lines


def head_from_patch(patch: str | None) -> str:
    """The new side of ``patch`` (context and added lines at their line numbers), blank elsewhere."""
    numbered: dict[int, str] = {}
    number = 0
    for raw in (patch or "").splitlines():
        match = _HUNK.match(raw)
        if match:
            number = int(match.group(1))
            continue
        if number == 0 or raw.startswith(("\\", "+++", "---", "-")):
            continue
        numbered[number] = raw[1:] if raw[:1] in ("+", " ") else raw
        number += 1
    if not numbered:
        return ""
    return "\n".join(numbered.get(n, "") for n in range(1, max(numbered) + 1)) + "\n"
