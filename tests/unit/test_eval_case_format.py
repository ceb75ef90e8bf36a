"""The case format's newer forms: a list of expectations per alert, root-cause alternatives, the default
approver, and a run that reports a broken case by path and field while the others still run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from evals.case import CaseError, Human, approver, load_case, load_cases
from evals.harness import run_eval
from evals.scoring import diagnosis_score
from state.config import UserConfig
from tests.conftest import run_cli

CASES = Path(__file__).resolve().parents[2] / "evals" / "cases"
BASE = "am-cart-errors-bad-release"


def _copy(tmp_path: Path, name: str = BASE, as_name: str | None = None) -> Path:
    return Path(shutil.copytree(CASES / name, tmp_path / (as_name or name)))


def _second_alert(path: Path) -> str:
    """Add a second alert (another pod's copy of the first, its own fingerprint) to the case's group."""
    payload = json.loads((path / "alert.json").read_text())
    extra = json.loads(json.dumps(payload["alerts"][0]))
    extra["labels"]["pod"] = "cart-7c9d8f6b5d-k2x8p"
    extra["fingerprint"] = "aa11bb22cc33dd44"
    payload["alerts"].append(extra)
    (path / "alert.json").write_text(json.dumps(payload))
    return extra["fingerprint"]


def _expect(path: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((path / "expect.yaml").read_text())


def test_the_single_form_scores_the_first_alert_and_a_list_names_each_alert(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    fingerprint = _second_alert(path)
    single = load_case(path)
    assert [i for i, _ in single.expects] == [0] and len(single.alerts) == 2
    first = _expect(path)
    second = {"alert": fingerprint, "root_cause": ["cart"], "outcome": "resolved"}
    (path / "expect.yaml").write_text(yaml.safe_dump([first | {"alert": 0}, second]))
    case = load_case(path)
    assert [(i, e.id) for i, e in case.expects] == [(0, BASE), (1, BASE)]  # an entry without id takes the case's
    assert case.expects[1][1].root_cause == ["cart"] and case.alerts[1].fingerprint == fingerprint


@pytest.mark.parametrize(
    ("entries", "field"),
    [
        ([{"alert": 0}, {"alert": "ffffffffffffffff"}], "[1].alert: no alert with fingerprint 'ffffffffffffffff'"),
        ([{"alert": 0}, {"alert": 5}], "[1].alert: index 5 outside the payload's 2 alert(s)"),
        ([{"alert": 0}, {"alert": 0}], "[1].alert: alert 0 already has expectations"),
        ([{"alert": 0}, {}], "[1].alert: is required in the list form"),
        ([{"alert": 0}, {"alert": 1, "mutations": 3}], "[1].mutations: Input should be a valid list"),
        ([{"alert": 0}, {"alert": 1, "root_cause": [[]]}], "[1].root_cause.0"),
    ],
)
def test_a_bad_list_entry_is_one_line_naming_the_entry_and_field(tmp_path: Path, entries: list, field: str) -> None:  # type: ignore[type-arg]
    path = _copy(tmp_path)
    _second_alert(path)
    (path / "expect.yaml").write_text(yaml.safe_dump(entries))
    with pytest.raises(CaseError) as err:
        load_case(path)
    assert str(err.value).startswith(f"{path / 'expect.yaml'}: {field}")
    assert "\n" not in str(err.value)


def test_root_cause_entries_accept_alternatives() -> None:
    truth = [["redis-coupon", "10.0.3.7"], "coupon"]
    assert diagnosis_score(["coupon", "10.0.3.7"], truth) == 1.0  # either name of the dependency will do
    assert diagnosis_score(["coupon", "redis-coupon"], truth) == 1.0
    assert diagnosis_score(["coupon", "redis-coupon", "10.0.3.7"], truth) == 1.0  # both names: both true
    assert diagnosis_score(["coupon"], truth) == 0.0  # the dependency is missing altogether
    assert diagnosis_score(["coupon", "10.0.3.7", "node-3"], truth) == pytest.approx(2 / 3)


def test_the_default_approver_is_a_configured_user_allowed_to_roll_back() -> None:
    users = [
        UserConfig(name="alertpilot", rollback_permission=True),
        UserConfig(name="intern"),
        UserConfig(name="ana", rollback_permission=True),
    ]
    assert approver(Human(), users, "alertpilot") == "ana"  # the first permitted user who is not the agent
    assert approver(Human(), users[:2], "alertpilot") == "alertpilot"  # else the acting user
    assert approver(Human(by="intern"), users, "alertpilot") == "intern"  # a case may name another


def test_a_broken_case_is_reported_by_path_and_field_and_the_rest_still_run(tmp_path: Path) -> None:
    root = tmp_path / "cases"
    _copy(root, "am-cart-info-latency")
    bad_expect = _copy(root, "am-cart-info-latency", "bad-expect")
    (bad_expect / "expect.yaml").write_text(yaml.safe_dump(_expect(bad_expect) | {"reads": "all of them"}))
    bad_world = _copy(root, "am-cart-info-latency", "bad-world")
    world = yaml.safe_load((bad_world / "world.yaml").read_text())
    world["releases"][0].pop("deployed_at")
    (bad_world / "world.yaml").write_text(yaml.safe_dump(world))
    bad_config = _copy(root, "am-cart-info-latency", "bad-config")
    (bad_config / "config.yaml").write_text("policy: {verify_after_s: soon}\n")
    cases = load_cases(root)
    assert [c.id for c in cases] == ["am-cart-info-latency", "bad-config"]  # config is checked by the run
    broken = {b.id: b.error for b in cases.broken}
    assert broken == {
        "bad-expect": f"{bad_expect / 'expect.yaml'}: reads: Input should be a valid list",
        "bad-world": f"{bad_world / 'world.yaml'}: releases.0.deployed_at: Field required",
    }
    result = run_eval(cases)
    assert [c.id for c in result.cases] == ["am-cart-info-latency"] and result.summary["episode_success"] == 1.0
    skipped = {s.id: (s.kind, s.reason) for s in result.skipped}
    assert skipped["bad-config"][0] == "invalid" and "policy.verify_after_s" in skipped["bad-config"][1]
    assert result.summary["invalid_cases"] == 3 and result.summary["skipped_cases"] == 0


def test_eval_cli_reports_broken_cases_and_exits_0(tmp_path: Path) -> None:
    root = tmp_path / "cases"
    _copy(root, "am-cart-info-latency")
    bad = _copy(root, "am-cart-info-latency", "bad-expect")
    (bad / "expect.yaml").write_text("id: x\nmutations: {restart: yes}\n")
    done = run_cli("eval", "--cases", str(root), "--json", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [c["id"] for c in doc["cases"]] == ["am-cart-info-latency"]
    assert doc["skipped"] == [
        {
            "id": "bad-expect",
            "path": str(bad),
            "reason": f"{bad / 'expect.yaml'}: mutations: Input should be a valid list",
            "kind": "invalid",
        }
    ]
    table = run_cli("eval", "--cases", str(root), home=tmp_path / "home")
    assert "not run" in table.stdout and "bad-expect" in table.stdout
