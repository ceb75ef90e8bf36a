"""The recording a replay is served from: near-time matching, the fixed clock, recorded approvals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graph.compare import first_difference, outcome_diff
from graph.recording import NULL_TASK_ID, NearTimeTools, RecordedClock, StepTime, near, recorded_answers
from state.incident import ToolCall


@pytest.mark.parametrize(
    ("recorded", "asked", "matches"),
    [
        ({"query": "up"}, {"query": "up"}, True),
        ({"query": "up"}, {"query": "down"}, False),
        ({"end": "2026-11-20T03:00:00+00:00"}, {"end": "2026-11-20T03:00:30+00:00"}, True),
        ({"end": "2026-11-20T03:00:00+00:00"}, {"end": "2026-11-20T03:05:00+00:00"}, False),
        ({"end": "2026-11-20T03:00:00"}, {"end": "2026-11-20T03:00:01"}, False),  # naive: exact only
        ({"query": "up"}, {"query": "up", "step": "60s"}, False),
    ],
)
def test_near_tolerates_only_small_timestamp_shifts(recorded: dict, asked: dict, matches: bool) -> None:
    assert near(recorded, asked) is matches


def test_near_time_tools_serve_recorded_answers_and_refuse_the_rest() -> None:
    call = ToolCall(
        seq=0,
        agent="diagnosis",
        tool="execute_range_query",
        args={"query": "up", "end": "2026-11-20T03:00:00+00:00"},
        status="success",
        result={"result": [1]},
    )
    tools = NearTimeTools([call])
    assert tools.invoke("execute_range_query", {"query": "up", "end": "2026-11-20T03:00:00.5+00:00"}).data == {
        "result": [1]
    }
    missing = tools.invoke("restart", {"service": "x"})
    assert missing.status == "not_recorded" and "restart" in missing.error


def test_recorded_clock_outside_a_graph_run_is_fixed() -> None:
    at = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    clock = RecordedClock([StepTime(2, "triage", at)], default=at)
    assert clock() == clock() == at


def test_recorded_answers_prefer_the_command_resume_value() -> None:
    answer = {"approved": True, "by": "alice", "reason": ""}
    writes = [(NULL_TASK_ID, "__resume__", answer), ("task", "__resume__", [answer]), ("task", "guard", None)]
    assert recorded_answers(writes) == [answer]
    assert recorded_answers([("task", "__resume__", [answer])]) == [answer]


def test_first_difference_names_the_path() -> None:
    assert first_difference({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == ("a[1].b", 2, 3)
    assert first_difference({"a": 1}, {"a": 1}) is None


def test_outcome_diff_lists_status_attempts_and_report_lines() -> None:
    attempt = {"n": 1, "rung": 1, "action": "restart", "params": {}, "result": {"status": "success"}, "verified": True}
    old = {"status": "resolved", "report": {"content": "a\nb"}, "attempts": [attempt], "escalation_reason": ""}
    new = {"status": "escalated", "report": {"content": "a\nc"}, "attempts": [], "escalation_reason": "x"}
    lines = outcome_diff(old, new)
    assert lines[:3] == [
        "status: resolved → escalated",
        "attempts: 1 → 0",
        "attempt 1: rung 1 restart success, cleared → (none)",
    ]
    assert "  -b" in lines and "  +c" in lines
    assert outcome_diff(old, old) == []
