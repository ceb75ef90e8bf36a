"""The eval worlds stay on 127.0.0.1: GitHub fixtures from a local server, recordings offline, remote configs refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from evals.capture import record
from evals.case import CaseError, load_case
from evals.github_world import load_repos, serve_fixtures
from evals.harness import run_eval
from evals.network import is_loopback
from tests.conftest import run_cli
from tests.network_audit import connections, is_local

CASES = Path(__file__).resolve().parents[2] / "evals" / "cases"
REVIEW = "am-pricing-release-review"


def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(CASES / name, tmp_path / name))


def test_the_review_reads_the_cases_github_fixtures_from_a_local_server() -> None:
    with connections() as seen:
        result = run_eval([load_case(CASES / REVIEW)])
    assert [host for _, host in seen if not is_local(host)] == []
    assert ("socket.connect", "127.0.0.1") in seen  # PyGithub did talk to the world's server
    assert result.summary["review_accuracy"] == 1.0 and result.summary["mcp_call_accuracy"] == 1.0
    release = next(v for v in result.scores[0].verdicts if v.tool == "get_release_by_tag")
    assert release.correct


def test_the_fixture_is_served_in_githubs_wire_format(tmp_path: Path) -> None:
    from tools.github import GitHubSource

    with serve_fixtures(CASES / REVIEW / "github") as server:
        source = GitHubSource(server.api_url, None)
        release = source.release("acme/pricing", "v8.5.0")
        files = source.pull_files("acme/pricing", 412)
    assert (release.pulls, release.previous_tag) == ([412], "v8.4.0")  # newest first by published_at
    assert release.url.startswith("http://127.0.0.1:")
    assert [(f.filename, f.patch_complete, f.additions, f.deletions) for f in files] == [("app/pricing.py", True, 3, 2)]


def test_a_broken_fixture_is_one_line_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "repo.json").write_text('{"repo": "acme/x", "pulls": [{"number": "12"}]}')
    with pytest.raises(CaseError, match=r"repo\.json: pulls\.0\.number: expected an integer"):
        load_repos(tmp_path)


def test_a_recorded_world_opens_no_connection_at_all(tmp_path: Path) -> None:
    case = load_case(_copy(REVIEW, tmp_path))
    record(case)  # live: the review's GitHub answers come from the local server and are kept
    with connections() as seen:
        replay = run_eval([case], world="recorded").summary
    assert seen == []
    assert replay["review_accuracy"] == 1.0 and replay["unrecorded_calls"] == 0


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"prometheus": {"url": "http://prometheus.example.com:9090"}}, "prometheus.url"),
        ({"executor": {"backend": "http", "url": "https://10.0.0.8:8080"}}, "executor.url"),
        ({"github": {"url": "https://api.github.com"}}, "github.url"),
        ({"executor": {"backend": "kubernetes"}}, "executor.kubernetes.host"),
        ({"cloud_monitor": {"region": "ap-shanghai"}}, "cloud_monitor.endpoint"),  # the real API by default
    ],
)
def test_a_case_reaching_past_loopback_is_refused_before_any_episode(
    tmp_path: Path, patch: dict[str, object], field: str
) -> None:
    path = _copy(REVIEW, tmp_path)
    config = yaml.safe_load((path / "config.yaml").read_text())
    for key, value in patch.items():
        config[key] = {**config.get(key, {}), **value}  # type: ignore[dict-item]
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(CaseError, match=field.replace(".", r"\.")):
        run_eval([load_case(path)])
    result = run_cli("eval", "--cases", str(path), home=tmp_path / "home")
    assert result.returncode == 2, result.stderr
    assert field in result.stderr and "127.0.0.1" in result.stderr and "Traceback" not in result.stderr


def test_loopback_addresses() -> None:
    local = ["http://127.0.0.1:9090", "http://localhost/api/v3", "http://[::1]:80", "127.0.0.2:443", "localhost"]
    remote = ["https://api.github.com", "http://10.0.0.1", "example.com:80", "http://127.0.0.1.nip.io", ""]
    assert all(is_loopback(a) for a in local)
    assert not any(is_loopback(a) for a in remote)
