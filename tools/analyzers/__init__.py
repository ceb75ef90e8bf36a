"""Deterministic code analyzers: find fatal-bug patterns on the lines a change added.

``analyze_file`` picks the analyzer by file extension, runs it over the file at the PR's
head (or, without it, the new side of the patch) and keeps only findings on added lines.
Nothing here reads the PR's prose: a title, body or comment cannot steer a finding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import PurePosixPath

from tools.analyzers.base import CATEGORIES, Category, CodeFinding, added_lines, head_from_patch
from tools.analyzers.golang import analyze_go
from tools.analyzers.java import analyze_java
from tools.analyzers.javascript import analyze_javascript
from tools.analyzers.python_flow import analyze_python

__all__ = ["CATEGORIES", "Category", "CodeFinding", "analyze_file", "language_of", "added_lines"]

Analyzer = Callable[[str, str], list[CodeFinding]]
_BY_SUFFIX: dict[str, tuple[str, Analyzer]] = {
    ".py": ("python", analyze_python),
    ".go": ("go", analyze_go),
    ".java": ("java", analyze_java),
    ".js": ("javascript", analyze_javascript),
    ".jsx": ("javascript", analyze_javascript),
    ".mjs": ("javascript", analyze_javascript),
    ".cjs": ("javascript", analyze_javascript),
    ".ts": ("typescript", analyze_javascript),
    ".tsx": ("typescript", analyze_javascript),
}
_TEST_MARKERS = ("/test/", "/tests/", "_test.go", ".test.", ".spec.", "/__tests__/", "test_")
PARTIAL_PATCH_FACTOR = 0.7


def language_of(path: str) -> str | None:
    """The analyzer language for ``path``, or None when no analyzer reads it."""
    entry = _BY_SUFFIX.get(PurePosixPath(path).suffix.lower())
    return entry[0] if entry else None


def is_test_file(path: str) -> bool:
    """Test code is not shipped: findings there do not explain an incident."""
    lowered = "/" + path.lower()
    return any(marker in lowered for marker in _TEST_MARKERS)


def analyze_file(
    path: str, patch: str | None, head: str | None = None, patch_complete: bool = True
) -> list[CodeFinding]:
    """Findings on the lines ``patch`` added to ``path``, one per line and category, best first.

    ``head`` is the whole file at the PR's head; without it the analyzer reads the new
    side of the patch. Without a patch (GitHub left it out) every line of ``head`` counts
    as changed, at lower confidence; a cut patch (``patch_complete=False``) blames its own
    added lines and, at lower confidence, every line after the last hunk it shows.
    """
    entry = _BY_SUFFIX.get(PurePosixPath(path).suffix.lower())
    if entry is None or is_test_file(path):
        return []
    source = head if head is not None else head_from_patch(patch)
    if not source:
        return []
    raw = entry[1](source, path)
    if patch:
        changed = set(added_lines(patch))
        kept = [f for f in raw if f.line in changed]
        kept += [replace(f, line=f.anchor) for f in raw if f.line not in changed and f.anchor in changed]
    else:
        kept = [CodeFinding(**{**f.__dict__, "confidence": round(f.confidence * PARTIAL_PATCH_FACTOR, 2)}) for f in raw]
    unique: dict[tuple[int, str], CodeFinding] = {}
    for finding in kept:
        key = (finding.line, finding.category)
        if key not in unique or finding.confidence > unique[key].confidence:
            unique[key] = finding
    return sorted(unique.values(), key=lambda f: (-f.confidence, f.line, f.category))
