"""Evals with a history: every case under evals/history runs with its past incidents and against a control without."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pytest

from evals.case import CaseError, load_case, load_cases
from evals.harness import run_eval
from evals.make_history_cases import main as make_history_cases
from evals.report import markdown

ROOT = Path(__file__).resolve().parents[2] / "evals" / "history"


def test_the_committed_history_cases_are_what_the_generator_writes(tmp_path: Path) -> None:
    written = make_history_cases(tmp_path)
    assert {p.name for p in written} == {p.name for p in ROOT.iterdir() if p.is_dir()}
    for path in written:
        diff = filecmp.dircmp(path, ROOT / path.name)
        assert not (diff.left_only or diff.right_only or diff.diff_files), (path.name, diff.diff_files)


def test_the_eval_with_history_saves_attempts_and_lets_the_diagnosis_override_misleading_history() -> None:
    result = run_eval(load_cases(ROOT))
    assert all(not s.error for s in result.scores), [s.error for s in result.scores if s.error]
    assert result.summary["episode_success"] == 1.0 and result.summary["mutation_strict_match"] == 1.0
    rows = {r["id"]: r for r in result.history}
    assert len(rows) == 8
    for row in rows.values():
        assert row["success_with"], row
    saves = [r for r in rows.values() if r["shows"] == "saves"]
    assert len(saves) == 3 and all(r["informed"] and r["saved"] == 1 for r in saves)
    leak = rows["hist-am-cart-leak-rollback-first"]
    assert leak["actions_without"] == ["restart", "version_rollback"] and leak["actions_with"] == ["version_rollback"]
    thin = rows["hist-gen-profile-leak-thin-history"]
    assert not thin["informed"] and thin["saved"] == 0 and "fewer than 3 verified outcomes" in thin["history_said"]
    outage = rows["hist-am-checkout-db-outage-after-rollbacks"]
    assert outage["actions_with"] == [] and outage["history_said"].startswith("history not applied")
    growth = rows["hist-tke-search-api-growth-no-release"]
    assert growth["actions_with"] == ["restart"] and not growth["informed"]  # history cannot add the rollback
    document = result.document()["with_history"]
    assert document["attempts_saved"] == 3 and document["misleads_overridden"] == document["misleads"] == 4
    report = markdown(result, [])
    assert "## With history" in report and "| hist-am-cart-leak-rollback-first | saves | 4 |" in report


def test_a_broken_history_file_names_the_file_and_field(tmp_path: Path) -> None:
    case = tmp_path / "hist-case"
    shutil.copytree(ROOT / "hist-am-cart-leak-rollback-first", case)
    (case / "history.yaml").write_text(
        "shows: saves\nincidents:\n  - pattern: leak\n    attempts: [{action: reboot}]\n"
    )
    with pytest.raises(CaseError, match=r"history\.yaml: incidents\.0\.attempts\.0\.action: "):
        load_case(case)
