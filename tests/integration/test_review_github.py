"""The release review through PyGithub against a local server speaking GitHub's REST wire format."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agents.review_core import review_release
from evals.github_world import GitHubRepo, GitHubServer, Pull
from tests.conftest import ROOT, run_cli
from tools.analyzers.correlate import IncidentContext
from tools.github import GitHubSource
from tools.registry import ToolRegistry, ToolSession
from tools.release import SourceRouter, release_tools

pytestmark = pytest.mark.integration
CORPUS = ROOT / "evals" / "review_corpus"
HEAD = "a" * 40


def _case(name: str) -> tuple[str, str]:
    diff = (CORPUS / name / "change.diff").read_text()
    return diff[diff.find("\n@@") + 1 :], (CORPUS / name / "head.txt").read_text()


def _file(name: str, patch: str | None, status: str = "modified") -> dict[str, object]:
    return {"filename": name, "status": status, "additions": 3, "deletions": 1, "changes": 4, "patch": patch}


def shop() -> GitHubRepo:
    py_patch, py_head = _case("py-null-regex")
    go_patch, go_head = _case("go-leak-nil")
    js_patch, js_head = _case("js-null")
    cut_js = "\n".join(js_patch.splitlines()[:4]) + "\n"  # header promises more lines than it shows
    return GitHubRepo(
        "acme/shop",
        releases=[
            {"tag_name": "v1.2", "body": "Maintenance release."},
            {"tag_name": "v1.1", "body": "Discounts (#12) and config loading: http://127.0.0.1/acme/shop/pull/13"},
            {"tag_name": "v1.0", "body": "First."},
        ],
        pulls={
            12: Pull(
                12,
                "Discount codes",
                "Adds discount codes.",
                HEAD,
                files=[
                    _file("README.md", "@@ -1 +1,2 @@\n # shop\n+discounts\n"),
                    _file("docs/discounts.md", "@@ -0,0 +1 @@\n+codes\n", "added"),
                    _file("checkout/pricing.py", py_patch),
                    _file("tests/test_pricing.py", "@@ -0,0 +1 @@\n+x = {}.get('a').b\n", "added"),
                    _file("assets/logo.png", None, "added"),
                ],
            ),
            13: Pull(13, "Config loader", "", HEAD, files=[_file("store/files.go", None)]),
            14: Pull(14, "Cart helpers", "", HEAD, files=[_file("web/src/cart.js", cut_js)]),
            15: Pull(15, "Tidy", "", HEAD, files=[_file("README.md", "@@ -1 +1 @@\n-# shop\n+# Shop\n")]),
        },
        compares={
            "v1.1...v1.2": [
                {"sha": "1" * 40, "message": "Merge pull request #14 from dev/cart\n\nCart helpers"},
                {"sha": "2" * 40, "message": "Tidy the readme"},
            ]
        },
        commit_pulls={"2" * 40: [15]},
        contents={
            ("store/files.go", HEAD): go_head,
            ("web/src/cart.js", HEAD): js_head,
            ("checkout/pricing.py", HEAD): py_head,
        },
    )


@pytest.fixture
def github() -> GitHubServer:
    with GitHubServer([shop()], rate_limited=("acme/limited",), page_size=2) as server:
        yield server


def _session(server: GitHubServer) -> ToolSession:
    source = GitHubSource(server.api_url, "t0ken")
    return ToolSession(ToolRegistry(release_tools(SourceRouter(lambda: source))), agent="review")


def test_release_by_tag_reads_pr_numbers_from_the_body(github: GitHubServer) -> None:
    release = GitHubSource(github.api_url, "t0ken").release("acme/shop", "v1.1")
    assert (release.pulls, release.pulls_from, release.previous_tag) == ([12, 13], "body", "v1.0")
    assert release.url.startswith(github.base)
    assert github.auth_headers[0] == "token t0ken"


def test_latest_release_without_pr_numbers_compares_the_previous_tag(github: GitHubServer) -> None:
    release = GitHubSource(github.api_url, None).release("acme/shop", None)
    assert (release.tag, release.pulls_from, release.pulls) == ("v1.2", "compare", [14, 15])
    assert any("/compare/v1.1...v1.2" in r for r in github.requests)
    assert any(f"/commits/{'2' * 40}/pulls" in r for r in github.requests)


def test_pull_files_follow_link_pagination_and_fetch_missing_patches(github: GitHubServer) -> None:
    source = GitHubSource(github.api_url, None)
    files = source.pull_files("acme/shop", 12)
    assert [f.filename for f in files][:3] == ["README.md", "docs/discounts.md", "checkout/pricing.py"]
    assert len(files) == 5
    assert any("/pulls/12/files?page=3" in r for r in github.requests)
    go = source.pull_files("acme/shop", 13)[0]
    assert go.patch is None and not go.patch_complete and go.content and "func CountLines" in go.content
    js = source.pull_files("acme/shop", 14)[0]
    assert js.patch is not None and not js.patch_complete and js.content is not None


def test_review_finds_bugs_on_added_lines_and_ranks_by_incident(github: GitHubServer) -> None:
    context = IncidentContext.from_texts(
        "checkout",
        ['Traceback: File "/app/checkout/pricing.py", line 20, in region_of\nAttributeError: NoneType'],
    )
    outcome = review_release(_session(github), "acme/shop", "v1.1", context)
    assert outcome.error == ""
    assert [p["number"] for p in outcome.pulls] == [12, 13]
    top = outcome.findings[0]
    assert (top.pr, top.file, top.line, top.category) == (12, "checkout/pricing.py", 20, "null_dereference")
    assert "stack frame /app/checkout/pricing.py:20" in top.correlated
    go = [f for f in outcome.findings if f.file == "store/files.go"]
    assert {f.category for f in go} == {"resource_leak", "null_dereference"}
    assert all(f.confidence < 0.6 for f in go)  # no patch: whole file, lower confidence
    assert not [f for f in outcome.findings if f.file.startswith("tests/")]


def test_missing_release_is_a_clear_404(github: GitHubServer) -> None:
    outcome = review_release(_session(github), "acme/shop", "v9.9")
    assert outcome.release is None
    assert outcome.error == "github: release v9.9 of acme/shop not found (404)"


def test_rate_limit_names_retry_after_and_does_not_sleep(github: GitHubServer) -> None:
    started = time.monotonic()
    outcome = review_release(_session(github), "acme/limited", "v1.0")
    assert "rate limited (403)" in outcome.error and "retry after 42s" in outcome.error
    assert time.monotonic() - started < 5


def test_cli_review_prints_release_pulls_findings(github: GitHubServer, home: Path) -> None:
    done = run_cli(
        "review", "--repo", "acme/shop", "--tag", "v1.1", "--github-url", github.api_url, "--json", home=home
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["release"]["tag"] == "v1.1"
    assert [p["number"] for p in doc["pulls"]] == [12, 13]
    keys = {"pr", "file", "line", "category", "problem", "fix", "confidence"}
    assert doc["findings"] and all(keys <= set(f) for f in doc["findings"])

    missing = run_cli("review", "--repo", "acme/shop", "--tag", "v9", "--github-url", github.api_url, home=home)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "alertpilot: github: release v9 of acme/shop not found (404)"

    bad = run_cli("review", "--repo", "shop", "--tag", "v1", home=home)
    assert bad.returncode == 2 and "--repo" in bad.stderr and "Traceback" not in bad.stderr
