"""Cases run against a real Prometheus loaded with promtool (``alertpilot eval --world prometheus``).

Each episode gets its own Prometheus (127.0.0.1, a free port, the case's metrics moved
so the alert started five minutes ago). The diagnosis must name the same release as in
the simulated world, with the same MCP call accuracy, from series it read over HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.case import load_case
from evals.episodes import run_case
from evals.harness import episode_schemas, expectation
from evals.scoring import score_episode
from evals.worlds import schemas_of, static_catalog
from tests.conftest import ROOT, require_binary, run_cli

pytestmark = pytest.mark.integration
CASES = ROOT / "evals" / "cases"
# two with committed metrics.om (Alertmanager error ratio, Tencent CPU), one written at run time with logs
RELEASE_CASES = ["am-cart-errors-bad-release", "tc-orders-cpu-bad-release"]


@pytest.fixture(autouse=True)
def _binaries() -> None:
    require_binary("prometheus")
    require_binary("promtool")


def _accuracy(case_id: str, mode: str):  # type: ignore[no-untyped-def]
    case = load_case(CASES / case_id)
    episode = run_case(case, None, 1, mode)  # type: ignore[arg-type]
    score = score_episode(expectation(case, episode), episode, schemas_of(static_catalog()) | episode_schemas(case))
    return case, episode, score


@pytest.mark.parametrize("case_id", RELEASE_CASES)
def test_real_prometheus_names_the_same_release_as_the_simulated_world(case_id: str) -> None:
    case, simulated, sim_score = _accuracy(case_id, "live")
    _, real, score = _accuracy(case_id, "prometheus")
    release = case.expect.root_cause[-1]
    assert release in simulated.entities and release in real.entities
    assert sorted(real.entities) == sorted(simulated.entities)
    assert score.correct == score.union == sim_score.union and score.success
    # diagnosis read Prometheus over HTTP (its answers carry __name__, the world's do not); verify read the world
    assert real.answered["prometheus"] >= 5 and real.answered["world"] >= 1
    versions = next(c for c in real.calls if c.tool == "execute_range_query" and "build_info" in c.args["query"])
    series = versions.result["result"]
    assert {s["metric"]["__name__"] for s in series} == {"build_info"} and len(series) >= 2
    assert real.status == "resolved" and real.version == case.expect.mitigation.version  # type: ignore[union-attr]


def test_moved_logs_still_explain_a_config_edit() -> None:
    case, episode, score = _accuracy("am-checkout-config-edit", "prometheus")
    assert "alice" in episode.entities and episode.status == "escalated"
    assert score.success and episode.answered["prometheus"] >= 5


def test_cli_eval_in_the_prometheus_world(home: Path) -> None:
    done = run_cli("eval", "--world", "prometheus", "--case", RELEASE_CASES[0], "--json", home=home, timeout=60)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["world"] == "prometheus" and doc["mcp_call_accuracy"] == 1.0 and doc["diagnosis_score"] == 1.0


def test_cli_refuses_the_prometheus_world_without_the_binaries(home: Path, tmp_path: Path) -> None:
    done = run_cli("eval", "--world", "prometheus", home=home, timeout=60, PATH=str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "alertpilot: --world prometheus: needs the prometheus and promtool binaries on PATH"
    ]
