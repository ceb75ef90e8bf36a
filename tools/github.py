"""GitHub (or GitHub Enterprise) as a release source, through PyGithub.

Every PyGithub failure becomes a :class:`~tools.registry.ToolError` with one actionable
line: 404 names what was missing, a rate limit says when to retry (``Retry-After`` or
``X-RateLimit-Reset``), bad credentials name the token's environment variable.
PyGithub's own retry loop is off so a rate limit surfaces at once instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tools.analyzers import language_of
from tools.registry import ToolError
from tools.release_source import (
    PullFile,
    PullInfo,
    ReleaseInfo,
    hunks_complete,
    pr_number_from_commit,
    pr_numbers_from_text,
)

if TYPE_CHECKING:
    from github.Repository import Repository

MAX_COMPARE_COMMITS = 250
MAX_FILES = 300


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def describe_github_error(exc: Exception, what: str, token_env: str = "GITHUB_TOKEN") -> str:
    """One line saying what went wrong talking to GitHub, and what to do about it."""
    from github import GithubException, RateLimitExceededException

    if not isinstance(exc, GithubException):
        return f"github: cannot reach the API while reading {what}: {exc}"
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    status = exc.status
    message = (exc.data or {}).get("message", "") if isinstance(exc.data, dict) else str(exc.data or "")
    if status == 404:
        return f"github: {what} not found (404)"
    if status == 401:
        return f"github: bad credentials (401) reading {what}; check the token in ${token_env}"
    if status in (403, 429) and (
        isinstance(exc, RateLimitExceededException)
        or "retry-after" in headers
        or headers.get("x-ratelimit-remaining") == "0"
    ):
        if "retry-after" in headers:
            wait = f"retry after {headers['retry-after']}s"
        elif "x-ratelimit-reset" in headers:
            wait = f"retry after {max(0, int(headers['x-ratelimit-reset']) - int(time.time()))}s"
        else:
            wait = "retry later"
        return f"github: rate limited ({status}) reading {what}; {wait}"
    return f"github: HTTP {status} reading {what}: {message or 'no message'}"


class GitHubSource:
    """Release source over the GitHub REST API (``url`` may be GitHub Enterprise or a local server)."""

    def __init__(self, url: str, token: str | None, token_env: str = "GITHUB_TOKEN", timeout_s: float = 15.0):
        from github import Auth, Github

        self._token_env = token_env
        self._gh = Github(
            base_url=url.rstrip("/"),
            auth=Auth.Token(token) if token else None,
            timeout=int(timeout_s),
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            per_page=100,
        )
        self._repos: dict[str, Repository] = {}

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from github import GithubException
        from requests import RequestException

        try:
            yield
        except (GithubException, RequestException) as exc:
            raise ToolError(describe_github_error(exc, what, self._token_env)) from None

    def _repo(self, repo: str) -> Repository:
        if repo not in self._repos:
            with self._errors(f"repository {repo}"):
                self._repos[repo] = self._gh.get_repo(repo)
        return self._repos[repo]

    def release(self, repo: str, tag: str | None) -> ReleaseInfo:
        """The release tagged ``tag`` (latest when None), with PR numbers from its body, else compare."""
        gh_repo = self._repo(repo)
        with self._errors(f"release {tag} of {repo}" if tag else f"the latest release of {repo}"):
            release = gh_repo.get_release(tag) if tag else gh_repo.get_latest_release()
            info = ReleaseInfo(
                repo=repo,
                tag=release.tag_name,
                name=release.name or "",
                body=release.body or "",
                url=release.html_url or "",
                published_at=_iso(release.published_at),
            )
        info.previous_tag = self._previous_tag(gh_repo, info.tag)
        info.pulls = pr_numbers_from_text(info.body)
        if info.pulls:
            info.pulls_from = "body"
        elif info.previous_tag:
            info.pulls = self._compare_pulls(gh_repo, info.previous_tag, info.tag)
            info.pulls_from = "compare" if info.pulls else "none"
        return info

    def _previous_tag(self, gh_repo: Repository, tag: str) -> str | None:
        """The release published just before ``tag`` (releases list newest first)."""
        with self._errors(f"releases of {gh_repo.full_name}"):
            seen = False
            for index, release in enumerate(gh_repo.get_releases()):
                if seen and not release.draft:
                    return str(release.tag_name)
                seen = seen or release.tag_name == tag
                if index > 200:
                    break
        return None

    def _compare_pulls(self, gh_repo: Repository, base: str, head: str) -> list[int]:
        """PRs of the commits between two tags: from merge messages, else the commit's associated PRs."""
        numbers: list[int] = []
        with self._errors(f"compare {base}...{head} of {gh_repo.full_name}"):
            comparison = gh_repo.compare(base, head)
            for index, commit in enumerate(comparison.commits):
                if index >= MAX_COMPARE_COMMITS:
                    break
                number = pr_number_from_commit(commit.commit.message or "")
                found = [number] if number else [p.number for p in commit.get_pulls()]
                numbers.extend(n for n in found if n not in numbers)
        return numbers

    def pull(self, repo: str, number: int) -> PullInfo:
        """Metadata of PR ``number``."""
        gh_repo = self._repo(repo)
        with self._errors(f"pull request #{number} of {repo}"):
            pr = gh_repo.get_pull(number)
            return PullInfo(
                number=pr.number,
                title=pr.title or "",
                body=pr.body or "",
                author=pr.user.login if pr.user else "",
                url=pr.html_url or "",
                state=pr.state or "",
                merged_at=_iso(pr.merged_at),
                base_sha=pr.base.sha,
                head_sha=pr.head.sha,
                changed_files=pr.changed_files or 0,
            )

    def pull_files(self, repo: str, number: int) -> list[PullFile]:
        """Every file of PR ``number`` (all pages); a missing or cut patch brings the file at head."""
        head = self.pull(repo, number).head_sha
        files: list[PullFile] = []
        with self._errors(f"files of pull request #{number} of {repo}"):
            for index, item in enumerate(self._repo(repo).get_pull(number).get_files()):
                if index >= MAX_FILES:
                    break
                patch = item.patch
                complete = patch is not None and hunks_complete(patch)
                files.append(
                    PullFile(
                        filename=item.filename,
                        status=item.status,
                        additions=item.additions,
                        deletions=item.deletions,
                        patch=patch,
                        patch_complete=complete,
                    )
                )
        for pull_file in files:
            if not pull_file.patch_complete and pull_file.status != "removed" and language_of(pull_file.filename):
                try:
                    pull_file.content = self.file_at(repo, pull_file.filename, head)
                except ToolError:
                    pull_file.content = None  # the patch we have is still reviewed
        return files

    def pull_diff(self, repo: str, number: int) -> str:
        """The PR's unified diff, assembled from its file patches."""
        parts = []
        for item in self.pull_files(repo, number):
            parts.append(
                f"diff --git a/{item.filename} b/{item.filename}\n--- a/{item.filename}\n+++ b/{item.filename}"
            )
            parts.append(item.patch or "(patch not available)")
        return "\n".join(parts) + "\n"

    def file_at(self, repo: str, path: str, ref: str) -> str:
        """Text of ``path`` at ``ref``."""
        with self._errors(f"{path}@{ref[:12]} of {repo}"):
            content = self._repo(repo).get_contents(path, ref=ref)
            if isinstance(content, list):
                raise ToolError(f"github: {path} is a directory in {repo}")
            return content.decoded_content.decode("utf-8", errors="replace")


def github_source_factory(url: str, token_env: str, secret: Callable[[str], str | None]) -> Callable[[], GitHubSource]:
    """A lazy factory (nothing connects until the first review call)."""
    return lambda: GitHubSource(url, secret(token_env), token_env)
