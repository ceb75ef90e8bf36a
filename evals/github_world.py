"""The eval world's GitHub: a small GitHub REST API server on 127.0.0.1 (the documented wire format).

Serves ``/api/v3/repos/{owner}/{repo}`` and below: releases (by tag, latest, list), pulls,
pull files (paged with ``Link`` headers), compare, a commit's pulls and contents. Every
``url`` field points back to this server. Unknown things answer 404 ``Not Found``; a
repository listed in ``rate_limited`` answers 403 with ``Retry-After``.

The live eval world serves a case's ``github/*.json`` fixtures with it (:func:`load_repos`)
so PyGithub, exactly as alertpilot runs it, never leaves the machine; the integration tests
drive the same server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

DEFAULT_PER_PAGE = 30  # GitHub's default page size; ``per_page`` may ask for up to 100


@dataclass
class Pull:
    """One pull request: metadata and its files (GitHub's ``files`` items: filename, status, patch, ...)."""

    number: int
    title: str
    body: str
    head_sha: str
    base_sha: str = "b" * 40
    author: str = "dev"
    files: list[dict[str, Any]] = field(default_factory=list)
    merged_at: str = "2026-11-19T09:00:00Z"


@dataclass
class GitHubRepo:
    """One repository the server answers for."""

    full_name: str
    releases: list[dict[str, Any]] = field(default_factory=list)  # newest first: tag_name, name, body
    pulls: dict[int, Pull] = field(default_factory=dict)
    compares: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "base...head" → [{sha, message}]
    commit_pulls: dict[str, list[int]] = field(default_factory=dict)
    contents: dict[tuple[str, str], str] = field(default_factory=dict)  # (path, ref) → text


class GitHubServer:
    """Run with ``with GitHubServer(repos) as gh: gh.api_url``."""

    def __init__(
        self,
        repos: list[GitHubRepo],
        rate_limited: tuple[str, ...] = (),
        retry_after: int = 42,
        page_size: int | None = None,
    ):
        self.page_size = page_size  # None = honour ``per_page`` like GitHub; a small one forces paging
        self.repos = {r.full_name: r for r in repos}
        self.rate_limited = set(rate_limited)
        self.retry_after = retry_after
        self.requests: list[str] = []
        self.auth_headers: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.api_url = f"{self.base}/api/v3"

    def __enter__(self) -> GitHubServer:
        """Start serving (a daemon thread)."""
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ routing

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake.requests.append(self.path)
                fake.auth_headers.append(self.headers.get("Authorization", ""))
                status, body, headers = fake.route(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def route(self, raw: str) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body, extra headers) for a GET of ``raw``."""
        url = urlparse(raw)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = [unquote(p) for p in url.path.removeprefix("/api/v3").strip("/").split("/")]
        if len(parts) < 3 or parts[0] != "repos":
            return self._missing()
        full = f"{parts[1]}/{parts[2]}"
        if full in self.rate_limited:
            return (
                403,
                {"message": "API rate limit exceeded for 127.0.0.1.", "documentation_url": "https://docs.github.com"},
                {"Retry-After": str(self.retry_after), "X-RateLimit-Remaining": "0"},
            )
        repo = self.repos.get(full)
        if repo is None:
            return self._missing()
        rest = parts[3:]
        handler = {
            "": self._repo,
            "releases": self._releases,
            "pulls": self._pulls,
            "compare": self._compare,
            "commits": self._commits,
            "contents": self._contents,
        }.get(rest[0] if rest else "")
        return handler(repo, rest[1:], query) if handler else self._missing()

    @staticmethod
    def _missing() -> tuple[int, Any, dict[str, str]]:
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}

    def _api(self, repo: GitHubRepo, suffix: str = "") -> str:
        return f"{self.api_url}/repos/{repo.full_name}{suffix}"

    # ------------------------------------------------------------------ resources

    def _repo(self, repo: GitHubRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        owner, name = repo.full_name.split("/")
        return (
            200,
            {
                "id": 1,
                "name": name,
                "full_name": repo.full_name,
                "owner": {"login": owner, "url": f"{self.api_url}/users/{owner}"},
                "url": self._api(repo),
                "html_url": f"{self.base}/{repo.full_name}",
                "default_branch": "main",
            },
            {},
        )

    def _release_json(self, repo: GitHubRepo, index: int, release: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": 100 + index,
            "tag_name": release["tag_name"],
            "name": release.get("name", release["tag_name"]),
            "body": release.get("body", ""),
            "draft": False,
            "prerelease": False,
            "created_at": release.get("created_at")
            or release.get("published_at")
            or f"2026-11-{20 - index:02d}T10:00:00Z",
            "published_at": release.get("published_at")
            or release.get("created_at")
            or f"2026-11-{20 - index:02d}T10:00:00Z",
            "url": self._api(repo, f"/releases/{100 + index}"),
            "html_url": f"{self.base}/{repo.full_name}/releases/tag/{release['tag_name']}",
        }

    def _releases(self, repo: GitHubRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        items = [self._release_json(repo, i, r) for i, r in enumerate(repo.releases)]
        if not rest:
            return self._paged(self._api(repo, "/releases"), items, query)
        if rest == ["latest"] and items:
            return 200, items[0], {}
        if len(rest) == 2 and rest[0] == "tags":
            found = [r for r in items if r["tag_name"] == rest[1]]
            if found:
                return 200, found[0], {}
        return self._missing()

    def _pulls(self, repo: GitHubRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if not rest or not rest[0].isdigit() or int(rest[0]) not in repo.pulls:
            return self._missing()
        pull = repo.pulls[int(rest[0])]
        if len(rest) == 1:
            return 200, self._pull_json(repo, pull), {}
        if rest[1:] == ["files"]:
            return self._paged(self._api(repo, f"/pulls/{pull.number}/files"), pull.files, query)
        return self._missing()

    def _pull_json(self, repo: GitHubRepo, pull: Pull) -> dict[str, Any]:
        return {
            "id": 1000 + pull.number,
            "number": pull.number,
            "title": pull.title,
            "body": pull.body,
            "state": "closed",
            "merged": True,
            "merged_at": pull.merged_at,
            "user": {"login": pull.author},
            "url": self._api(repo, f"/pulls/{pull.number}"),
            "html_url": f"{self.base}/{repo.full_name}/pull/{pull.number}",
            "changed_files": len(pull.files),
            "head": {"sha": pull.head_sha, "ref": f"feature-{pull.number}"},
            "base": {"sha": pull.base_sha, "ref": "main"},
        }

    def _paged(self, url: str, items: list[Any], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        page = int(query.get("page", "1"))
        size = self.page_size or max(1, min(100, int(query.get("per_page", DEFAULT_PER_PAGE))))
        last = max(1, -(-len(items) // size))
        chunk = items[(page - 1) * size : page * size]
        links = []
        if page < last:
            links.append(f'<{url}?page={page + 1}&per_page={size}>; rel="next"')
            links.append(f'<{url}?page={last}&per_page={size}>; rel="last"')
        if page > 1:
            links.append(f'<{url}?page=1&per_page={size}>; rel="first"')
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _compare(self, repo: GitHubRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        commits = repo.compares.get("/".join(rest))
        if commits is None:
            return self._missing()
        body = {
            "url": self._api(repo, f"/compare/{'/'.join(rest)}"),
            "html_url": f"{self.base}/{repo.full_name}/compare/{'/'.join(rest)}",
            "status": "ahead",
            "ahead_by": len(commits),
            "behind_by": 0,
            "total_commits": len(commits),
            "commits": [
                {
                    "sha": c["sha"],
                    "url": self._api(repo, f"/commits/{c['sha']}"),
                    "commit": {"message": c["message"], "url": self._api(repo, f"/git/commits/{c['sha']}")},
                }
                for c in commits
            ],
            "files": [],
        }
        return 200, body, {}

    def _commits(self, repo: GitHubRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if len(rest) == 2 and rest[1] == "pulls":
            numbers = repo.commit_pulls.get(rest[0], [])
            return 200, [self._pull_json(repo, repo.pulls[n]) for n in numbers if n in repo.pulls], {}
        return self._missing()

    def _contents(self, repo: GitHubRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        path = "/".join(rest)
        text = repo.contents.get((path, query.get("ref", "")))
        if text is None:
            return self._missing()
        return (
            200,
            {
                "type": "file",
                "encoding": "base64",
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "sha": "c" * 40,
                "size": len(text),
                "content": base64.b64encode(text.encode()).decode(),
                "url": self._api(repo, f"/contents/{path}?ref={query.get('ref', '')}"),
            },
            {},
        )


# ---------------------------------------------------------------------- case fixtures


def load_repos(directory: Path) -> list[GitHubRepo]:
    """The repositories of a case's ``github/`` directory: one ``*.json`` fixture per repository.

    Raises :class:`~evals.case.CaseError` naming the file and the field when a fixture is unusable.
    """
    from evals.case import CaseError

    repos = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CaseError(f"{path}: {exc}") from None
        try:
            repos.append(repo_from_fixture(data))
        except (KeyError, TypeError, ValueError) as exc:
            raise CaseError(f"{path}: {exc}") from None
    return repos


def repo_from_fixture(data: dict[str, Any]) -> GitHubRepo:
    """A repository from its fixture (format in evals/README.md).

    ``releases`` are sorted newest first by ``published_at`` (or ``created_at``) when every
    one carries a date, else taken newest first as listed. ``pulls[].files[]`` are GitHub's
    pull-file items; ``additions``/``deletions``/``changes`` are counted from the patch when absent.
    """
    if not isinstance(data, dict) or not isinstance(data.get("repo"), str) or data["repo"].count("/") != 1:
        raise ValueError("repo: expected OWNER/NAME")
    full_name = data["repo"]
    releases = [dict(r) for r in data.get("releases", [])]
    for index, release in enumerate(releases):
        if not isinstance(release.get("tag_name"), str):
            raise ValueError(f"releases.{index}.tag_name: expected a string")
    dates = [r.get("published_at") or r.get("created_at") for r in releases]
    if releases and all(dates):
        releases.sort(key=lambda r: str(r.get("published_at") or r.get("created_at")), reverse=True)
    pulls = {}
    for index, item in enumerate(data.get("pulls", [])):
        if not isinstance(item.get("number"), int):
            raise ValueError(f"pulls.{index}.number: expected an integer")
        number = item["number"]
        pulls[number] = Pull(
            number=number,
            title=item.get("title", f"PR {number}"),
            body=item.get("body", ""),
            head_sha=item.get("head_sha") or hashlib.sha1(f"{full_name}#{number}".encode()).hexdigest(),
            base_sha=item.get("base_sha", "b" * 40),
            author=item.get("author", "dev"),
            merged_at=item.get("merged_at", "2026-11-19T09:00:00Z"),
            files=[_file_item(f, f"pulls.{index}.files.{i}") for i, f in enumerate(item.get("files", []))],
        )
    contents = {(c["path"], c["ref"]): c["text"] for c in data.get("contents", [])}
    return GitHubRepo(
        full_name,
        releases=releases,
        pulls=pulls,
        compares=dict(data.get("compares", {})),
        commit_pulls=dict(data.get("commit_pulls", {})),
        contents=contents,
    )


def _file_item(item: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(item.get("filename"), str):
        raise ValueError(f"{where}.filename: expected a string")
    out = {"status": "modified", **item}
    lines = (item.get("patch") or "").splitlines()
    out.setdefault("additions", sum(1 for line in lines if line.startswith("+") and not line.startswith("+++")))
    out.setdefault("deletions", sum(1 for line in lines if line.startswith("-") and not line.startswith("---")))
    out.setdefault("changes", out["additions"] + out["deletions"])
    return out


@contextmanager
def serve_fixtures(directory: Path | None) -> Iterator[GitHubServer]:
    """A GitHub API on 127.0.0.1 (a free port) serving ``directory``'s fixtures; none = every repo 404s."""
    repos = load_repos(directory) if directory is not None and directory.is_dir() else []
    with GitHubServer(repos) as server:
        yield server
