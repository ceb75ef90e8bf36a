"""Every alert of an Alertmanager group goes to the product, and each is scored by its own expectations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from evals.case import Expectation, load_case
from evals.harness import run_eval
from evals.scoring import Episode, score_episode, summarize

CASES = Path(__file__).resolve().parents[2] / "evals" / "cases"


def _group_case(tmp_path: Path) -> tuple[Path, str]:
    """am-cart-errors-bad-release with a second alert in its group: the same rule firing for a second pod."""
    path = Path(shutil.copytree(CASES / "am-cart-errors-bad-release", tmp_path / "am-cart-group"))
    payload = json.loads((path / "alert.json").read_text())
    second = json.loads(json.dumps(payload["alerts"][0]))
    second["labels"]["pod"] = "cart-7c9d8f6b5d-m4qzt"
    second["fingerprint"] = "5e0c1d2b3a4f6e7d"
    payload["alerts"].append(second)
    (path / "alert.json").write_text(json.dumps(payload))
    first = yaml.safe_load((path / "expect.yaml").read_text())
    # the second alert names the same fault; whether it joins the first investigation is the product's call
    (path / "expect.yaml").write_text(yaml.safe_dump([first | {"alert": 0}, {"alert": second["fingerprint"]}]))
    return path, second["fingerprint"]


def test_each_alert_of_a_group_is_run_and_scored_on_its_own(tmp_path: Path) -> None:
    path, fingerprint = _group_case(tmp_path)
    case = load_case(path)
    doc = run_eval([case]).document()
    assert doc["episodes"] == 2  # one scored episode per alert
    row = doc["cases"][0]
    assert [(a["index"], a["fingerprint"]) for a in row["alerts"]] == [(0, "1195f35ab74efb1b"), (1, fingerprint)]
    first, second = row["episodes"]
    assert (first["alert"], second["alert"]) == (0, 1) and second["fingerprint"] == fingerprint
    assert first["success"] and row["alerts"][0]["successes"] == 1
    assert [c["tool"] for c in first["calls"] if c["mutating"]] == ["version_rollback"]
    # the product saw the second alert: it either joined the first alert's incident or opened its own
    if second["incident"] == first["incident"]:
        assert any("again" in d["summary"] for d in second["decisions"] if d["node"] == "ingest")
    else:
        assert fingerprint in second["decisions"][0]["summary"]


def _score(case_id: str, trial: int, alert: int, ok: bool) -> object:
    episode = Episode(case_id, trial, [], alert_index=alert, error="" if ok else "boom")
    return score_episode(Expectation(id=case_id), episode, {})


def test_a_trial_passes_only_when_every_alert_of_it_passes() -> None:
    scores = [_score("g", 1, 0, True), _score("g", 1, 1, True), _score("g", 2, 0, True), _score("g", 2, 1, False)]
    summary = summarize(scores)  # type: ignore[arg-type]
    assert summary["pass_k"] == pytest.approx({"1": 0.5, "2": 0.0})
    assert summary["episode_success"] == pytest.approx(3 / 4)  # per alert episode
