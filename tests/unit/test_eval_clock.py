"""Episodes run on a simulated clock: from the alert's own time, shared by the world and the agents.

So a case gives the same result whatever time it is, and the oracle can look ahead: a leak a
restart only masks climbs back by ``mitigation.after_s``, a rollback stays fixed.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from evals.case import Case, load_case
from evals.episodes import run_graph
from evals.harness import run_eval
from evals.prom_world import Anchor, moved_expectation, moved_line
from evals.worlds import episode_start, open_world
from tests.unit.test_eval_scoring import ScriptedModel, answer, call, turn
from tools.world import WorldSpec

CASES = Path(__file__).resolve().parents[2] / "evals" / "cases"
TIME_ARGS = ("start", "end", "time", "since", "until", "idempotency_key")  # the key names the incident


def _moved_copy(source: Path, offset: timedelta, into: Path) -> Case:
    """The case with every time in it (alert, releases, events, log records, time matchers) moved by ``offset``."""
    path = Path(shutil.copytree(source, into / source.name))
    case = load_case(path)
    anchor = Anchor(offset=offset, now=datetime.now(UTC))
    (path / "alert.json").write_text(json.dumps(anchor.record(case.payload)))
    spec = WorldSpec.load(path).moved(offset)
    (path / "world.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json", exclude_none=True)))
    for log in (path / "logs").glob("*.jsonl") if (path / "logs").is_dir() else []:
        log.write_text("".join(moved_line(line, anchor) + "\n" for line in log.read_text().splitlines()))
    moved = moved_expectation(case.expect, int(offset.total_seconds()))
    (path / "expect.yaml").write_text(yaml.safe_dump(moved.model_dump(mode="json", exclude_none=True)))
    return load_case(path)


def _times(episode: dict[str, Any]) -> list[datetime]:
    return [
        datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        for c in episode["calls"]
        for k, v in c["args"].items()
        if k in ("start", "end", "time")
    ]


def _outcome(case: Case, times: list[datetime] | None = None) -> tuple[Any, ...]:
    """Everything an episode decided, with times left out (collected into ``times``)."""
    doc = run_eval([case]).document()
    episode = doc["cases"][0]["episodes"][0]
    if times is not None:
        times += _times(episode)
    calls = [
        (c["tool"], c["status"], {k: v for k, v in c["args"].items() if k not in TIME_ARGS}) for c in episode["calls"]
    ]
    scores = {k: doc[k] for k in ("mcp_call_accuracy", "diagnosis_score", "mitigation_success", "episode_success")}
    return calls, sorted(episode["entities"]), episode["status"], [d["node"] for d in episode["decisions"]], scores


def test_a_case_gives_the_same_result_at_another_time_of_day_and_another_day(tmp_path: Path) -> None:
    source = CASES / "checkout-bad-release"  # metrics, a rollback, logs with an audit trail
    times: list[datetime] = []
    original = _outcome(load_case(source), times)
    assert times  # the diagnosis asked for windows around the alert
    for n, offset in enumerate((timedelta(hours=7, minutes=13), timedelta(days=3, hours=17))):
        moved = _moved_copy(source, offset, tmp_path / str(n))
        assert moved.alert.starts_at == load_case(source).alert.starts_at + offset
        moved_times: list[datetime] = []
        assert _outcome(moved, moved_times) == original
        assert moved_times == [t + offset for t in times]  # every window moved with the case, nothing else
    assert original[-1]["episode_success"] == 1.0


def test_the_clock_starts_at_the_alerts_delivery_and_the_world_acts_on_it(tmp_path: Path) -> None:
    case = load_case(CASES / "am-cart-errors-bad-release")
    with open_world(case, tmp_path, "live") as world:
        assert world.clock() == case.alert.starts_at + timedelta(seconds=60) == episode_start(case)
        world.settings.policy.verify_after_s = 90.0  # verify waits on the simulated clock, not the wall
        (episode,) = run_graph(case, world, 1)
        operations = world.world.state().operations  # type: ignore[union-attr]
    assert [op.method for op in operations] == ["version_rollback"]
    assert operations[0].at == episode_start(case)  # the world's operation time is the episode's
    # the verify wait, then the hold (policy.verify_hold_s defaults to the same wait)
    assert world.clock.slept == [90.0, 90.0] and world.clock() == episode_start(case) + timedelta(seconds=180)
    times = {datetime.fromisoformat(d["at"].replace("Z", "+00:00")) for d in episode.decisions}
    assert min(times) == episode_start(case) and max(times) == world.clock()


LEAK_WORLD = {
    "service": "cart",
    "namespace": "shop",
    "releases": [
        {"version": "v1.4.0", "deployed_at": "2026-11-08T00:00:00Z"},
        {"version": "v1.5.0", "deployed_at": "2026-11-10T02:00:00Z"},
    ],
    # v1.5.0 leaks: 45% of the limit when it starts, +30 points an hour; a restart frees the leaked memory
    "signals": {"memory_ratio": {"default": 0.4, "v1.5.0": {"start": 0.45, "slope_per_h": 0.3, "max": 1.0}}},
    "queries": [{"expr": 'max(container_memory_working_set_bytes{container="cart"})', "signal": "memory_ratio"}],
    "effects": {"restart": {"reset": ["memory_ratio"], "detail": "pods restarted; the leak climbs again"}},
}


def _leak_case(tmp_path: Path) -> Case:
    path = Path(shutil.copytree(CASES / "am-cart-memory-leak", tmp_path / "leak"))
    (path / "world.yaml").write_text(yaml.safe_dump(LEAK_WORLD))
    payload = json.loads((path / "alert.json").read_text())
    payload["alerts"][0]["startsAt"] = "2026-11-10T03:00:00Z"  # an hour into the leak: 0.75
    (path / "alert.json").write_text(json.dumps(payload))
    expect = {
        "id": "leak",
        "root_cause": ["cart"],
        "mutations": [{"tool": "version_rollback", "args": {"service": "cart", "namespace": "shop"}}],
        "mitigation": {"signal": "memory_ratio", "below": 0.7, "after_s": 3600},  # still fixed an hour later
    }
    (path / "expect.yaml").write_text(yaml.safe_dump(expect))
    return load_case(path)


def _mitigated(case: Case, *turns: Any) -> bool | None:
    result = run_eval([case], model=ScriptedModel(responses=[*turns, answer("cart")]), model_name="scripted")
    return result.scores[0].mitigated


def test_a_restart_that_only_masks_a_leak_fails_the_oracle_a_rollback_passes(tmp_path: Path) -> None:
    case = _leak_case(tmp_path)
    restart = turn(call("restart", service="cart", namespace="shop"))
    rollback = turn(call("version_rollback", service="cart", namespace="shop", target="v1.4.0"))
    assert _mitigated(case, restart) is False  # 0.45 right after the restart, 0.75 an hour later
    assert _mitigated(case, rollback) is True  # v1.4.0 holds 0.4
    looking = case.expect.model_copy(update={"mitigation": case.expect.mitigation.model_copy(update={"after_s": 0})})  # type: ignore[union-attr]
    with open_world(case, tmp_path / "home", "live") as world:
        world.world.apply("restart", {"service": "cart", "namespace": "shop"}, "k1")  # type: ignore[union-attr]
        assert world.oracle(looking.mitigation)[0] == 0.45  # read at once, the restart looks like a fix
        assert world.oracle(case.expect.mitigation)[0] == 0.75


def test_an_alert_without_a_time_runs_when_the_case_says_it_arrived_never_at_the_wall_clock(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "evals" / "corpus" / "grafana-datasource-no-data"
    case = load_case(source)
    assert case.alert.starts_at == case.expect.received_at  # Grafana's zero startsAt is the arrival time
    path = Path(shutil.copytree(source, tmp_path / source.name))
    expect = yaml.safe_load((path / "expect.yaml").read_text())
    arrived = datetime(2026, 11, 3, 22, 40, tzinfo=UTC)
    (path / "expect.yaml").write_text(yaml.safe_dump(expect | {"received_at": arrived.isoformat()}))
    moved = load_case(path)
    assert moved.alert.starts_at == arrived and episode_start(moved) == arrived + timedelta(minutes=1)
    assert _outcome(moved) == _outcome(case)
