"""The review tools over release sources, and the router that picks a source per repository.

The sources (:mod:`tools.github`, :mod:`tools.gitlocal`) speak
:class:`tools.release_source.ReleaseSource`; tools/catalog.py builds the router from
config (``release_router``). The tools keep the names
and argument names of github-mcp-server (``get_release_by_tag``, ``get_latest_release``,
``pull_request_read``, ``get_file_contents``) so either server can be plugged in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from tools.registry import Tool, ToolError
from tools.release_source import ReleaseSource


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
