"""What shipped in a release: the shared models, the source protocol and the review tools.

Two sources answer the same questions: :mod:`tools.github` (the GitHub REST API through
PyGithub) and :mod:`tools.gitlocal` (tags of a local clone). The tools keep the names
and argument names of github-mcp-server (``get_release_by_tag``, ``get_latest_release``,
``pull_request_read``, ``get_file_contents``) so either server can be plugged in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, Field

from tools.registry import Tool, ToolError

if TYPE_CHECKING:
    from state.config import Settings

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


def split_repo(repo: str) -> tuple[str, str]:
    """``OWNER/NAME`` → (owner, name); raises :class:`ToolError` naming the field."""
    parts = repo.strip().split("/")
    if len(parts) != 2 or not all(parts):
        raise ToolError(f"repo: expected OWNER/NAME, got {repo!r}")
    return parts[0], parts[1]


class SourceRouter:
    """Picks the source for a repository: a local clone when configured, else the API."""

    def __init__(self, api: Callable[[], ReleaseSource] | None, clones: dict[str, ReleaseSource] | None = None):
        self._api_factory = api
        self._api: ReleaseSource | None = None
        self._clones = {k.lower(): v for k, v in (clones or {}).items()}

    def for_repo(self, repo: str) -> ReleaseSource:
        """The source that answers for ``repo``."""
        local = self._clones.get(repo.lower())
        if local is not None:
            return local
        if self._api_factory is None:
            raise ToolError(f"repo: no source for {repo} (configure github.url or github.clones)")
        if self._api is None:
            self._api = self._api_factory()
        return self._api


def router_from_settings(settings: Settings, clones: dict[str, Path] | None = None) -> SourceRouter:
    """Sources from config: ``github.clones`` (plus ``clones``) read locally, the rest via ``github.url``."""
    from tools.github import github_source_factory
    from tools.gitlocal import LocalGitSource

    paths = {**settings.github.clones, **(clones or {})}
    local: dict[str, ReleaseSource] = {repo: LocalGitSource(path, repo) for repo, path in paths.items()}
    return SourceRouter(github_source_factory(settings.github.url, settings.github.token_env, settings.secret), local)


# ----------------------------------------------------------------------------- tools


class ReleaseByTagArgs(BaseModel):
    """Arguments of ``get_release_by_tag``."""

    owner: str
    repo: str
    tag: str


class LatestReleaseArgs(BaseModel):
    """Arguments of ``get_latest_release``."""

    owner: str
    repo: str


class PullRequestReadArgs(BaseModel):
    """Arguments of ``pull_request_read`` (github-mcp-server's names)."""

    method: Literal["get", "get_files", "get_diff"]
    owner: str
    repo: str
    pullNumber: int = Field(ge=1)  # noqa: N815 - github-mcp-server's argument name


class FileContentsArgs(BaseModel):
    """Arguments of ``get_file_contents``."""

    owner: str
    repo: str
    path: str
    ref: str


def release_tools(router: SourceRouter) -> list[Tool]:
    """The read-only review tools over ``router``."""

    def by_tag(owner: str, repo: str, tag: str) -> dict[str, Any]:
        return router.for_repo(f"{owner}/{repo}").release(f"{owner}/{repo}", tag).model_dump()

    def latest(owner: str, repo: str) -> dict[str, Any]:
        return router.for_repo(f"{owner}/{repo}").release(f"{owner}/{repo}", None).model_dump()

    def pull_request_read(method: str, owner: str, repo: str, pullNumber: int) -> Any:  # noqa: N803
        full = f"{owner}/{repo}"
        source = router.for_repo(full)
        if method == "get":
            return source.pull(full, pullNumber).model_dump()
        if method == "get_files":
            return [f.model_dump() for f in source.pull_files(full, pullNumber)]
        return source.pull_diff(full, pullNumber)

    def contents(owner: str, repo: str, path: str, ref: str) -> str:
        return router.for_repo(f"{owner}/{repo}").file_at(f"{owner}/{repo}", path, ref)

    return [
        Tool(
            "get_release_by_tag",
            "A release by tag with the pull requests it shipped (from its notes, else comparing the previous tag).",
            ReleaseByTagArgs,
            by_tag,
        ),
        Tool("get_latest_release", "The latest release and the pull requests it shipped.", LatestReleaseArgs, latest),
        Tool(
            "pull_request_read",
            "Read a pull request: method get (metadata), get_files (files with patches), get_diff (unified diff).",
            PullRequestReadArgs,
            pull_request_read,
        ),
        Tool("get_file_contents", "Text of a file at a ref (commit sha, branch or tag).", FileContentsArgs, contents),
    ]
