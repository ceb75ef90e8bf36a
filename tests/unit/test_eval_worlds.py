"""Recorded worlds, capture, and the eval CLI's contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from evals.capture import capture, record
from evals.case import load_case
from evals.harness import run_eval
from state.alert import parse_alerts
from state.config import load_settings
from tests.conftest import run_cli

CASES = Path(__file__).resolve().parents[2] / "evals" / "cases"


def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(CASES / name, tmp_path / name))


def test_a_recorded_world_replays_a_live_run_with_the_same_scores(tmp_path: Path) -> None:
    case = load_case(_copy("am-cart-errors-bad-release", tmp_path))
    calls = record(case)
    assert calls >= 5  # the signal, its window, the version series, the rollback, the verify read (+ probes)
    assert len(json.loads(case.recording_path.read_text())["calls"]) == calls
    live = run_eval([case]).summary
    replay = run_eval([case], world="recorded").summary
    assert replay["mcp_call_accuracy"] == live["mcp_call_accuracy"] == 1.0
    assert replay["mitigation_success"] == 1.0  # the recorded rollback is applied to the simulated world
    assert replay["unrecorded_calls"] == 0


def test_an_unrecorded_call_is_counted_not_a_crash(tmp_path: Path) -> None:
    case = load_case(_copy("am-cart-errors-bad-release", tmp_path))
    record(case)
    data = json.loads(case.recording_path.read_text())
    data["calls"] = [c for c in data["calls"] if c["tool"] != "execute_range_query"]  # lose two answers
    case.recording_path.write_text(json.dumps(data))
    doc = run_eval([case], world="recorded").document()
    # the two range queries answer not_recorded; without a release to blame the ladder then
    # starts at a restart, which was never recorded either: every one is counted, none crashes
    assert doc["unrecorded_calls"] >= 3
    assert doc["mcp_call_accuracy"] < 1.0
    assert doc["episodes"] == 1 and doc["cases"][0]["errors"] == []


def test_capture_turns_an_incident_into_an_unconfirmed_replayable_case(home: Path, tmp_path: Path) -> None:
    from agents.deps import Deps
    from graph.runner import open_runner
    from tools.catalog import build_registry, open_world

    demo = CASES / "checkout-bad-release"
    settings = load_settings(demo / "config.yaml", home=home)
    deps = Deps(settings=settings, tools=build_registry(settings, open_world(settings)), sleep=lambda _s: None)
    with open_runner(settings, deps) as runner:
        incident = runner.start(parse_alerts((demo / "alert.json").read_bytes())[0]).incident_id
    path = capture(settings, incident, tmp_path / "cases")
    case = load_case(path)
    assert case.expect.confirmed is False
    assert [m.tool for m in case.expect.mutations] == ["version_rollback"]
    # the diagnosis names the release and, from the audit trail, who shipped it
    assert case.expect.root_cause == ["checkout", "v2.2"]
    doc = run_eval([case], world="recorded").document()
    assert doc["mcp_call_accuracy"] == 1.0 and doc["unrecorded_calls"] == 0


def test_eval_cli_json_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = ["eval", "--json", "--out", str(out), "--case", "checkout-bad-release", "--case", "am-cart-info-latency"]
    result = run_cli(*args, home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    for key in ("mcp_call_accuracy", "diagnosis_score", "mitigation_success", "abstention", "pass_k", "cases"):
        assert key in doc
    assert doc["mcp_call_accuracy"] == 1.0 and len(doc["cases"]) == 2
    assert (out / "report.md").read_text().startswith("# alertpilot eval — offline")
    assert "<table>" in (out / "report.html").read_text()
    assert (out / "mcp_call_accuracy.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_cli_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    for args, field in (
        (["eval", "--cases", str(tmp_path / "nope")], "--cases"),
        (["eval", "--case", "no-such-case"], "--case"),
        (["eval", "--world", "mars"], "--world"),
        (["eval", "--model", "openai:gpt-4o-mini"], "--model"),
    ):
        result = run_cli(*args, home=tmp_path / "home")
        assert result.returncode == 2, (args, result.stderr)
        assert field in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_the_prometheus_world_skips_a_case_whose_query_it_cannot_write_and_runs_the_rest(tmp_path: Path) -> None:
    import yaml

    from evals.case import load_cases

    root = tmp_path / "cases"
    _copy("am-cart-info-latency", root)
    odd = _copy("am-cart-errors-bad-release", root)
    world = yaml.safe_load((odd / "world.yaml").read_text())
    world["queries"][0]["expr"] = 'predict_linear(http_errors{service="cart"}[1h], 3600)'
    (odd / "world.yaml").write_text(yaml.safe_dump(world))
    (odd / "metrics.om").unlink()
    live = run_eval(load_cases(root), world="live")
    assert len(live.cases) == 2  # the live world answers the declared query as it is
    result = run_eval(load_cases(root), world="recorded")  # neither case was recorded: both skipped, none crash
    assert result.cases == [] and {s.kind for s in result.skipped} == {"skipped"}
    assert all("no recording.json" in s.reason for s in result.skipped)
    from evals.harness import _run_trials

    skipped = _run_trials(load_cases(root)[0], None, 1, "prometheus", {}, None)
    assert skipped.kind == "skipped"  # type: ignore[union-attr]
    assert skipped.reason == (  # type: ignore[union-attr]
        "am-cart-errors-bad-release: the prometheus world cannot serve world.yaml: predict_linear() is not written"
    )
