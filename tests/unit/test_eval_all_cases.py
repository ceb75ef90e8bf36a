"""The whole offline eval over every committed case, as part of the suite (well under 60 s)."""

from __future__ import annotations

from pathlib import Path

from evals.case import load_cases
from evals.harness import run_eval
from evals.make_cases import specs
from tests.network_audit import connections, is_local

CASES = Path(__file__).resolve().parents[2] / "evals" / "cases"


def test_cases_cover_every_source_and_template() -> None:
    cases = load_cases(CASES)
    assert len(cases) >= 40
    assert {c.alert.source for c in cases} == {"alertmanager", "tencent", "cls", "generic"}
    assert any(c.alert.source == "tencent" and c.alert.condition is None for c in cases)  # event alarms
    templates = {c.expect.template for c in cases}
    assert templates >= {"bad_release", "memory_leak", "config_edit", "dependency_outage", "noop", "approval"}
    assert templates >= {"resolved_meanwhile", "permission_denied", "prompt_injection", "missing_data"}
    generated = {s.id for s in specs()}
    assert generated <= {c.id for c in cases}, "run python -m evals.make_cases and commit the cases"


def test_full_offline_eval_runs_clean_and_holds_its_numbers() -> None:
    with connections() as seen:
        result = run_eval(load_cases(CASES))
    assert [host for _, host in seen if not is_local(host)] == []  # the worlds are all on 127.0.0.1
    summary = result.summary
    assert summary["episodes"] == len(result.cases)
    assert all(not s.error for s in result.scores)
    assert summary["valid_tool_name_rate"] == 1.0 and summary["schema_validity"] == 1.0
    # the playbook's measured numbers (evals/README.md); a drop is a regression
    assert summary["mcp_call_accuracy"] >= 0.95  # measured 100%; the target is 90%
    assert summary["mitigation_success"] == 1.0
    assert summary["action_when_needed"] == 1.0 and summary["abstention"] == 1.0
    assert summary["mutation_strict_match"] == 1.0
    assert summary["diagnosis_score"] == 1.0
    assert summary["review_accuracy"] == 1.0  # the review read the case's GitHub fixtures from the local server
    assert summary["episode_success"] == 1.0
