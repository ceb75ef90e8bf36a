"""The public-rule sets (evals/corpus, evals/holdout, evals/holdout2): every case is well formed and its world tells its story.

These tests check the cases, not the agent: a case the agent fails is the companion issue's
work, but a case that does not load, whose payload could not have come from its source, or
whose world does not reproduce its own alert (or cannot be fixed by the expected actions) is
a broken exam.
"""

from __future__ import annotations

import json
import urllib.parse
from datetime import timedelta
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from evals.case import Expectation, load_case
from evals.harness import run_eval
from evals.worlds import _oracle_workload
from state.config import load_settings
from tools.world import SimClock, World, WorldSpec, workload_key

EVALS = Path(__file__).resolve().parents[2] / "evals"
CORPUS = EVALS / "corpus"
HOLDOUT = EVALS / "holdout"  # written apart from the playbook, to measure it on cases nobody tuned it on
HOLDOUT2 = EVALS / "holdout2"  # a second blind set, written later by another author, other rules and stories
SETS = (CORPUS, HOLDOUT, HOLDOUT2)
CASES = sorted(
    (p for s in SETS for p in s.iterdir() if (p / "expect.yaml").is_file()), key=lambda p: (p.parent.name, p.name)
)
# The list form (one entry per alert of a group) and root-cause alternatives come with the
# harness of issue 12 items 4-5; until that harness is merged such cases cannot load here.
GROUP_FORMAT = "alert" in Expectation.model_fields
_FNV_OFFSET, _FNV_PRIME = 14695981039346656037, 1099511628211


def _entries(case: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load((case / "expect.yaml").read_text())
    return data if isinstance(data, list) else [data]


def _needs_group_format(case: Path) -> bool:
    raw = yaml.safe_load((case / "expect.yaml").read_text())
    return isinstance(raw, list) or any(isinstance(rc, list) for e in _entries(case) for rc in e.get("root_cause", []))


def _payload(case: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((case / "alert.json").read_text())
    return data


def _alertmanager(case: Path) -> bool:
    """Alertmanager's own webhook (version 4), not Grafana's Alertmanager-shaped one."""
    payload = _payload(case)
    return payload.get("version") == "4" and "alerts" in payload


def alertmanager_fingerprint(labels: dict[str, str]) -> str:
    """prometheus/common model.LabelSet.Fingerprint: FNV-1a 64 over sorted name, 0xff, value, 0xff."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for byte in name.encode() + b"\xff" + labels[name].encode() + b"\xff":
            digest = ((digest ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{digest:016x}"


def _case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


@pytest.mark.parametrize(
    ("cases", "at_least", "each_side"),
    [(CORPUS, 30, 10), (HOLDOUT, 20, 8), (HOLDOUT2, 15, 5)],
    ids=["corpus", "holdout", "holdout2"],
)
def test_each_set_has_the_promised_breadth(cases: Path, at_least: int, each_side: int) -> None:
    mine = [case for case in CASES if case.parent == cases]
    assert len(mine) >= at_least
    sources = {e.get("source") for case in mine for e in _entries(case)}
    assert {"alertmanager", "tencent"} <= sources <= {"alertmanager", "tencent", "cls"}
    noop = [case for case in mine if all(not e.get("mutations") for e in _entries(case))]
    assert each_side <= len(noop) <= len(mine) - each_side  # both abstention and action are tested
    listed = (cases / "README.md").read_text()
    assert all(f"`{case.name}`" in listed for case in mine), f"list every case in evals/{cases.name}/README.md"


def test_the_sets_share_no_case() -> None:
    names = [{case.name for case in CASES if case.parent == s} for s in SETS]
    assert all(not a & b for i, a in enumerate(names) for b in names[i + 1 :])


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_case_loads(case: Path) -> None:
    if _needs_group_format(case) and not GROUP_FORMAT:
        pytest.skip("uses the list form / root-cause alternatives of the issue-12 harness (not merged here)")
    loaded = load_case(case)
    assert loaded.alert.name
    WorldSpec.load(case)
    settings = load_settings(case / "config.yaml", home=case / ".never-written")
    assert settings.world == case and settings.executor.backend == "process"
    assert all(f.is_file() for f in settings.logs.files), "every configured log file is committed"
    assert (case / "README.md").read_text().startswith(f"# {case.name}\n")


@pytest.mark.parametrize("case", [c for c in CASES if _alertmanager(c)], ids=_case_id)
def test_alertmanager_payloads_are_what_alertmanager_sends(case: Path) -> None:
    payload = _payload(case)
    for alert in payload["alerts"]:
        assert alert["fingerprint"] == alertmanager_fingerprint(alert["labels"])
        common = payload["commonLabels"]
        assert all(alert["labels"][k] == v for k, v in common.items())
        url = urllib.parse.urlparse(alert["generatorURL"])
        assert url.path == "/graph" and "%20" not in url.query  # Go's url.QueryEscape writes a space as "+"
        expr = urllib.parse.parse_qs(url.query)["g0.expr"][0]
        promql_parser.parse(expr)  # the expression Prometheus printed, valid PromQL
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(payload["groupLabels"].items()))
    assert payload["groupKey"].endswith(f":{{{inner}}}")


def _firing_alerts(case: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(expectation entry, the alert it scores) for entries that expect the alert's own expression to be read."""
    payload = _payload(case)
    alerts = payload.get("alerts", [])
    out = []
    for n, entry in enumerate(_entries(case)):
        ref = entry.get("alert", n)
        alert = (
            next((a for a in alerts if a.get("fingerprint") == ref), None) or alerts[ref if isinstance(ref, int) else 0]
        )
        if entry.get("reads"):
            out.append((entry, alert))
    return out


READ_CASES = [c for c in CASES if _alertmanager(c) and _firing_alerts(c)]


@pytest.mark.parametrize("case", READ_CASES, ids=_case_id)
def test_world_fires_the_alert_and_the_expected_actions_fix_it(case: Path, tmp_path: Path) -> None:
    from state.alert import parse_time

    spec = WorldSpec.load(case)
    for n, (entry, alert) in enumerate(_firing_alerts(case)):
        clock = SimClock(parse_time(alert["startsAt"], "startsAt"))
        world = World(spec, tmp_path / f"state-{n}.json", clock)
        expr = entry["reads"][0]["args"]["query"]["promql"]
        assert world.instant(expr), f"the world does not fire {alert['labels']['alertname']} at its startsAt"
        for i, mutation in enumerate(entry.get("mutations", [])):
            world.apply(mutation["tool"], dict(mutation["args"]), f"{n}:{i}")
        oracle = entry.get("mitigation")
        if oracle is None:
            continue
        clock.sleep(float(load_settings(case / "config.yaml", home=tmp_path).policy.verify_after_s))
        assert not world.instant(expr), "after the expected actions the alert's expression still fires"
        workload = _oracle_workload(world, oracle.get("workload"))  # name, alias or namespace/name, as scored
        assert workload is not None
        key = workload_key(workload)
        value = world.value(key, oracle["signal"], clock() + timedelta(seconds=oracle.get("after_s", 0)))
        assert value < oracle["below"]
        assert oracle.get("version") in (None, world.state().workloads[key].version)


@pytest.mark.parametrize("name", ["kps-replicas-mismatch-exporter-labels", "tke-metric-slow-memory-growth-restart"])
def test_a_case_runs_end_to_end_in_the_live_world(name: str) -> None:
    # whether the agent passes is the companion issue's business; the case must run and be scored
    case = load_case(CORPUS / name)
    result = run_eval([case])
    assert result.scores and all(not s.error for s in result.scores)
    assert all(s.status in ("resolved", "escalated", "awaiting_approval", "open") for s in result.scores)
    assert all(s.made > 0 for s in result.scores)  # the agent looked at the world
