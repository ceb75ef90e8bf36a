"""Rank review findings by how well they match the incident: service, stack frames, error signatures.

The incident's text (alert annotations, log lines, diagnosis) is parsed for stack frames
(Python, Java, Go, JS) and for error signatures that point at a bug category (a
``NullPointerException`` points at ``null_dereference``, ``too many open files`` at
``resource_leak``). A finding's relevance is its confidence plus the matches it has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from tools.analyzers.base import Category, CodeFinding

_FRAMES = (
    re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>[\w<>]+)'),
    re.compile(r"at [\w.$]*?\.(?P<func>[\w$<>]+)\((?P<file>[\w$]+\.(?:java|kt)):(?P<line>\d+)\)"),
    re.compile(
        r"(?:at (?:async )?(?:[\w.]+\.)?(?P<func>[\w$]+) \()?(?P<file>[\w./@-]+\.(?:[cm]?js|tsx?|jsx)):(?P<line>\d+)"
    ),
    re.compile(r"(?:\.(?P<func>\w+)\([^)]*\)\s+)?(?P<file>[\w./-]+\.go):(?P<line>\d+)"),
)
SIGNATURES: dict[Category, re.Pattern[str]] = {
    "null_dereference": re.compile(
        r"NoneType|NullPointerException|nil pointer|null pointer|Cannot read propert|undefined is not|"
        r"is not an object|KeyError|AttributeError",
        re.IGNORECASE,
    ),
    "resource_leak": re.compile(
        r"too many open files|EMFILE|pool exhausted|remaining connection slots|QueuePool limit|"
        r"timeout acquiring|connection leak|file descriptors|ResourceWarning|out of memory|OOMKilled",
        re.IGNORECASE,
    ),
    "concurrency": re.compile(
        r"concurrent map|data race|race condition|ConcurrentModificationException|deadlock|"
        r"dictionary changed size|lost update",
        re.IGNORECASE,
    ),
    "logic_error": re.compile(
        r"IndexError|index out of range|IndexOutOfBounds|out of bounds|NaN|wrong result|negative",
        re.IGNORECASE,
    ),
    "swallowed_error": re.compile(r"silently|no error logged|returned success|missing data|empty result", re.I),
}
_FUNC_DEFS = re.compile(
    r"^\s*(?:async\s+)?def\s+(?P<py>\w+)|^\s*func\s*(?:\([^)]*\)\s*)?(?P<go>\w+)\s*\("
    r"|^\s*(?:export\s+)?(?:async\s+)?function\s*\*?\s*(?P<js>\w+)"
    r"|^\s*(?:public|private|protected|static|final|synchronized|\s)+[\w<>\[\],.? ]+\s+(?P<java>\w+)\s*\([^;]*\{"
)


@dataclass(frozen=True)
class Frame:
    """One stack frame named by the incident."""

    file: str
    line: int
    function: str = ""


@dataclass(frozen=True)
class IncidentContext:
    """What the incident says about where it broke."""

    service: str | None = None
    frames: tuple[Frame, ...] = ()
    categories: tuple[Category, ...] = ()
    signatures: tuple[str, ...] = ()

    @classmethod
    def from_texts(cls, service: str | None, texts: list[str]) -> IncidentContext:
        """Parse stack frames and error signatures out of free incident text."""
        frames: list[Frame] = []
        categories: list[Category] = []
        signatures: list[str] = []
        for text in texts:
            for pattern in _FRAMES:
                for match in pattern.finditer(text):
                    frame = Frame(match.group("file"), int(match.group("line")), match.group("func") or "")
                    if frame not in frames:
                        frames.append(frame)
            for category, pattern in SIGNATURES.items():
                hit = pattern.search(text)
                if hit:
                    if category not in categories:
                        categories.append(category)
                    signatures.append(hit.group(0))
        return cls(service, tuple(frames), tuple(categories), tuple(dict.fromkeys(signatures)))


def enclosing_function(text: str, line: int) -> str:
    """Name of the function/method whose definition precedes ``line`` in ``text`` (best effort)."""
    lines = text.splitlines()
    for index in range(min(line, len(lines)) - 1, -1, -1):
        match = _FUNC_DEFS.match(lines[index])
        if match:
            return next(v for v in match.groupdict().values() if v)
    return ""


def _same_file(frame_file: str, path: str) -> bool:
    frame = PurePosixPath(frame_file.replace("\\", "/"))
    changed = PurePosixPath(path)
    if frame.name != changed.name:
        return False
    return path.endswith(str(frame)) or str(frame).endswith(path) or len(frame.parts) == 1


def score(finding: CodeFinding, context: IncidentContext, function: str = "") -> CodeFinding:
    """The finding with ``relevance`` and the reasons (``correlated``) it matches the incident."""
    reasons: list[str] = []
    relevance = finding.confidence
    for frame in context.frames:
        if _same_file(frame.file, finding.file):
            relevance += 0.3
            reasons.append(f"stack frame {frame.file}:{frame.line}")
            if abs(frame.line - finding.line) <= 3:
                relevance += 0.2
            elif frame.function and frame.function == function:
                relevance += 0.15
                reasons.append(f"function {function}")
            break
    else:
        named = [f for f in context.frames if f.function and f.function == function]
        if named:
            relevance += 0.15
            reasons.append(f"function {function}")
    if finding.category in context.categories:
        relevance += 0.2
        reasons.append(f"error signature ({finding.category})")
    if context.service and context.service.lower() in finding.file.lower():
        relevance += 0.05
        reasons.append(f"service {context.service}")
    return replace(finding, relevance=round(relevance, 3), correlated=tuple(reasons))


def rank(findings: list[CodeFinding], context: IncidentContext, heads: dict[str, str]) -> list[CodeFinding]:
    """Findings scored against the incident, most relevant first (stable for ties)."""
    scored = [score(f, context, enclosing_function(heads.get(f.file, ""), f.line)) for f in findings]
    return sorted(scored, key=lambda f: (-f.relevance, -f.confidence, f.pr or 0, f.file, f.line))
