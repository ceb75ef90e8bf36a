"""What a release source answers: releases, pull requests, files, and the source protocol.

Two sources speak it: :mod:`tools.github` (the GitHub REST API through PyGithub) and
:mod:`tools.gitlocal` (tags of a local clone). The PR-number rules for release notes and
commit messages live here too, so both sources read them alike.
"""

from __future__ import annotations

import re
from typing import Literal, Protocol

from pydantic import BaseModel, Field

PullsFrom = Literal["body", "compare", "none"]

# "#123" (not inside a word or URL fragment), ".../pull/123", "Merge pull request #123".
_PR_REFS = (
    re.compile(r"/pulls?/(\d+)\b"),
    re.compile(r"(?<![\w/&])#(\d+)\b"),
)
_COMMIT_PR = (
    re.compile(r"^Merge pull request #(\d+)\b"),
    re.compile(r"\(#(\d+)\)\s*$", re.MULTILINE),
)


def pr_numbers_from_text(text: str | None) -> list[int]:
    """PR numbers a release body names (``#123``, ``.../pull/123``), in order of first mention."""
    hits = sorted(
        (match.start(), int(match.group(1))) for pattern in _PR_REFS for match in pattern.finditer(text or "")
    )
    return list(dict.fromkeys(number for _, number in hits))


def pr_number_from_commit(message: str) -> int | None:
    """The PR a commit message says it merged (merge commit or squash ``(#123)`` suffix)."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    for pattern in _COMMIT_PR:
        match = pattern.search(first)
        if match:
            return int(match.group(1))
    return None


class ReleaseInfo(BaseModel):
    """A release (or a tag treated as one) and the pull requests it shipped."""

    repo: str
    tag: str
    name: str = ""
    body: str = ""
    url: str = ""
    published_at: str | None = None
    previous_tag: str | None = None
    pulls: list[int] = Field(default_factory=list)
    pulls_from: PullsFrom = "none"


class PullInfo(BaseModel):
    """Metadata of one pull request."""

    number: int
    title: str = ""
    body: str = ""
    author: str = ""
    url: str = ""
    state: str = ""
    merged_at: str | None = None
    base_sha: str = ""
    head_sha: str = ""
    changed_files: int = 0


class PullFile(BaseModel):
    """One file a pull request changed; ``patch`` is the unified diff of that file."""

    filename: str
    status: str = "modified"
    additions: int = 0
    deletions: int = 0
    patch: str | None = None
    patch_complete: bool = Field(default=True, description="False when GitHub left the patch out or cut it.")
    content: str | None = Field(default=None, description="File at the head sha, fetched when the patch is cut.")


class ReleaseSource(Protocol):
    """Something that can say what a release of ``repo`` shipped."""

    def release(self, repo: str, tag: str | None) -> ReleaseInfo:
        """The release tagged ``tag`` (latest when None), with its PR numbers."""
        ...

    def pull(self, repo: str, number: int) -> PullInfo:
        """Metadata of PR ``number``."""
        ...

    def pull_files(self, repo: str, number: int) -> list[PullFile]:
        """Every file PR ``number`` changed, with patches."""
        ...

    def pull_diff(self, repo: str, number: int) -> str:
        """The PR's whole unified diff."""
        ...

    def file_at(self, repo: str, path: str, ref: str) -> str:
        """Text of ``path`` at ``ref``."""
        ...


def hunks_complete(patch: str) -> bool:
    """Whether every hunk of ``patch`` has as many lines as its header declares (GitHub cuts long patches)."""
    header = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
    old_left = new_left = 0
    for line in patch.splitlines():
        match = header.match(line)
        if match:
            if old_left > 0 or new_left > 0:
                return False
            old_left = int(match.group(1) or 1)
            new_left = int(match.group(2) or 1)
            continue
        if line.startswith("\\"):
            continue
        if line.startswith("+"):
            new_left -= 1
        elif line.startswith("-"):
            old_left -= 1
        else:
            old_left -= 1
            new_left -= 1
    return old_left <= 0 and new_left <= 0
