"""A small GitHub REST API server for tests (the documented wire format, enough for PyGithub).

Serves ``/api/v3/repos/{owner}/{repo}`` and below: releases (by tag, latest, list), pulls,
pull files (paged with ``Link`` headers), compare, a commit's pulls and contents. Every
``url`` field points back to this server. Unknown things answer 404 ``Not Found``; a
repository listed in ``rate_limited`` answers 403 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

PAGE_SIZE = 2  # small on purpose, so pull files span several pages


@dataclass
class Pull:
    number: int
    title: str
    body: str
    head_sha: str
    base_sha: str = "b" * 40
    author: str = "dev"
    files: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeRepo:
    full_name: str
    releases: list[dict[str, Any]] = field(default_factory=list)  # newest first: tag_name, name, body
    pulls: dict[int, Pull] = field(default_factory=dict)
    compares: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "base...head" → [{sha, message}]
    commit_pulls: dict[str, list[int]] = field(default_factory=dict)
    contents: dict[tuple[str, str], str] = field(default_factory=dict)  # (path, ref) → text


class FakeGitHub:
    """Run with ``with FakeGitHub(repos) as gh: gh.api_url``."""

    def __init__(self, repos: list[FakeRepo], rate_limited: tuple[str, ...] = (), retry_after: int = 42):
        self.repos = {r.full_name: r for r in repos}
        self.rate_limited = set(rate_limited)
        self.retry_after = retry_after
        self.requests: list[str] = []
        self.auth_headers: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.api_url = f"{self.base}/api/v3"

    def __enter__(self) -> FakeGitHub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
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

    def _api(self, repo: FakeRepo, suffix: str = "") -> str:
        return f"{self.api_url}/repos/{repo.full_name}{suffix}"

    # ------------------------------------------------------------------ resources

    def _repo(self, repo: FakeRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
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

    def _release_json(self, repo: FakeRepo, index: int, release: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": 100 + index,
            "tag_name": release["tag_name"],
            "name": release.get("name", release["tag_name"]),
            "body": release.get("body", ""),
            "draft": False,
            "prerelease": False,
            "published_at": f"2026-11-{20 - index:02d}T10:00:00Z",
            "url": self._api(repo, f"/releases/{100 + index}"),
            "html_url": f"{self.base}/{repo.full_name}/releases/tag/{release['tag_name']}",
        }

    def _releases(self, repo: FakeRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        items = [self._release_json(repo, i, r) for i, r in enumerate(repo.releases)]
        if not rest:
            return 200, items, {}
        if rest == ["latest"] and items:
            return 200, items[0], {}
        if len(rest) == 2 and rest[0] == "tags":
            found = [r for r in items if r["tag_name"] == rest[1]]
            if found:
                return 200, found[0], {}
        return self._missing()

    def _pulls(self, repo: FakeRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if not rest or not rest[0].isdigit() or int(rest[0]) not in repo.pulls:
            return self._missing()
        pull = repo.pulls[int(rest[0])]
        if len(rest) == 1:
            return 200, self._pull_json(repo, pull), {}
        if rest[1:] == ["files"]:
            return self._paged(self._api(repo, f"/pulls/{pull.number}/files"), pull.files, query)
        return self._missing()

    def _pull_json(self, repo: FakeRepo, pull: Pull) -> dict[str, Any]:
        return {
            "id": 1000 + pull.number,
            "number": pull.number,
            "title": pull.title,
            "body": pull.body,
            "state": "closed",
            "merged": True,
            "merged_at": "2026-11-19T09:00:00Z",
            "user": {"login": pull.author},
            "url": self._api(repo, f"/pulls/{pull.number}"),
            "html_url": f"{self.base}/{repo.full_name}/pull/{pull.number}",
            "changed_files": len(pull.files),
            "head": {"sha": pull.head_sha, "ref": f"feature-{pull.number}"},
            "base": {"sha": pull.base_sha, "ref": "main"},
        }

    def _paged(self, url: str, items: list[Any], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        page = int(query.get("page", "1"))
        last = max(1, -(-len(items) // PAGE_SIZE))
        chunk = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        links = []
        if page < last:
            links.append(f'<{url}?page={page + 1}&per_page={PAGE_SIZE}>; rel="next"')
            links.append(f'<{url}?page={last}&per_page={PAGE_SIZE}>; rel="last"')
        if page > 1:
            links.append(f'<{url}?page=1&per_page={PAGE_SIZE}>; rel="first"')
        return 200, chunk, ({"Link": ", ".join(links)} if links else {})

    def _compare(self, repo: FakeRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
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

    def _commits(self, repo: FakeRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if len(rest) == 2 and rest[1] == "pulls":
            numbers = repo.commit_pulls.get(rest[0], [])
            return 200, [self._pull_json(repo, repo.pulls[n]) for n in numbers if n in repo.pulls], {}
        return self._missing()

    def _contents(self, repo: FakeRepo, rest: list[str], query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
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
