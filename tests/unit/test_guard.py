"""The guard, by table: what it allows, what it denies and why, when it asks for approval."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from state.alert import parse_alerts
from state.incident import Attempt, IncidentState, PlannedAction, TriageResult
from state.policy import Policy
from tests.conftest import DEMO_CASE
from tools.guard import GuardContext, check, frozen_by, preview

NOW = datetime(2026, 11, 20, 3, 15, tzinfo=UTC)  # a Friday


def incident(attempts: int = 0, budget: int = 4, dry_run: bool = False) -> IncidentState:
    alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
    state = IncidentState(
        incident_id="inc-1",
        alert=alert,
        dry_run=dry_run,
        triage=TriageResult(score=88, tier="P1", budget=budget, dimensions={}),
    )
    state.attempts = [
        Attempt(n=i + 1, rung=i + 1, action="restart", idempotency_key=f"inc-1:{i + 1}", started_at=NOW)
        for i in range(attempts)
    ]
    return state


def action(operation: str | None = "version_rollback", rung: int = 3, **params: Any) -> PlannedAction:
    return PlannedAction(
        rung=rung, rung_name="x", operation=operation, params={"service": "checkout", "namespace": "shop", **params}
    )


def ctx(policy: Policy | None = None, can: bool = True, recent: int = 0, now: datetime = NOW) -> GuardContext:
    return GuardContext(
        policy=policy or Policy(), actor="alertpilot", actor_can_rollback=can, now=now, recent_actions=recent
    )


@pytest.mark.parametrize(
    ("planned", "state", "context", "reason"),
    [
        (action(None, 6), incident(), ctx(), "rung 6 is human intervention"),
        (
            action("delete_namespace", 1),
            incident(),
            ctx(),
            "tool 'delete_namespace' is not allowed for agent 'rollback'",
        ),
        (
            action(service="payments"),
            incident(),
            ctx(),
            "target service 'payments' is not the incident's service 'checkout'",
        ),
        (action(namespace="prod"), incident(), ctx(), "namespace 'prod' is not the incident's namespace 'shop'"),
        (action(cluster="prod-cls"), incident(), ctx(), "cluster 'prod-cls' is not the incident's cluster None"),
        (action(command="rm -rf /"), incident(), ctx(), "parameter 'command' is not accepted by version_rollback"),
        (
            action("scale", 2, replicas=0),
            incident(),
            ctx(),
            "replicas 0: scaling below 1 replica takes the service down",
        ),
        (
            action("scale", 2, delta=50),
            incident(),
            ctx(),
            "delta 50: more than policy.max_scale_delta (10) replicas at once",
        ),
        (
            action(),
            incident(),
            ctx(can=False),
            "acting user 'alertpilot' has no rollback_permission (users: in config)",
        ),
        (action(), incident(attempts=4), ctx(), "attempt budget of 4 is spent"),
        (
            action(),
            incident(),
            ctx(recent=6),
            "rate limit: 6 actions on 'checkout' in the last hour (policy.max_actions_per_hour=6)",
        ),
        (
            action(),
            incident(),
            ctx(Policy(freeze_windows=["0 3 * * 5"])),
            "change freeze: window '0 3 * * 5' (60 min) is in force",
        ),
        (action(), incident(), ctx(Policy(allowed_namespaces=["web"])), "namespace 'shop' is outside policy scope"),
    ],
)
def test_denials_name_their_reason(planned, state, context, reason) -> None:
    decision = check(planned, state, context)
    assert not decision.allowed
    assert decision.reason == reason


def test_agent_allowlist_is_per_agent() -> None:
    assert not check(action("restart", 1), incident(), ctx(), agent="diagnosis").allowed
    policy = Policy(agent_tools={"rollback": ["restart"]})
    assert check(action("restart", 1), incident(), ctx(policy)).allowed
    assert not check(action("scale", 2, delta=1), incident(), ctx(policy)).allowed


def test_approval_follows_the_ladder_rung_not_the_claimed_one() -> None:
    assert not check(action("restart", 1), incident(), ctx()).needs_approval
    claimed_low = check(action("version_rollback", rung=1), incident(), ctx())
    assert claimed_low.allowed and claimed_low.needs_approval
    assert not check(action(), incident(), ctx(Policy(approval_from_rung=4))).needs_approval


def test_dry_run_is_allowed_but_marked() -> None:
    decision = check(action(), incident(dry_run=True), ctx())
    assert decision.allowed and decision.dry_run
    assert check(action(), incident(), ctx(Policy(dry_run=True))).dry_run


def test_undo_ignores_budget_rate_and_freeze_but_not_scope_or_permission() -> None:
    frozen = ctx(Policy(freeze_windows=["0 3 * * 5"]), recent=99)
    undo = check(action("restart", 1, undo=True), incident(attempts=4), frozen, undo=True)
    assert undo.allowed and not undo.needs_approval
    assert not check(action("restart", 1, undo=True, namespace="prod"), incident(), frozen, undo=True).allowed
    assert not check(action("restart", 1, undo=True), incident(), ctx(can=False), undo=True).allowed


@pytest.mark.parametrize(
    ("windows", "tz", "now", "frozen"),
    [
        (["0 3 * * 5"], "UTC", NOW, True),  # Friday 03:00 + 60 min
        (["0 3 * * 5"], "UTC", datetime(2026, 11, 20, 4, 1, tzinfo=UTC), False),
        (["0 3 * * 4"], "UTC", NOW, False),  # Thursdays only
        (["0 11 * * 5"], "Asia/Shanghai", NOW, True),  # 11:00 in Shanghai is 03:00 UTC
        ([], "UTC", NOW, False),
    ],
)
def test_freeze_windows(windows, tz, now, frozen) -> None:
    policy = Policy(freeze_windows=windows, freeze_timezone=tz)
    assert (frozen_by(policy, now) is not None) is frozen


def test_bad_cron_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(ValueError, match="freeze_windows: 'every friday' is not a valid cron expression"):
        Policy(freeze_windows=["every friday"])


def test_preview_shows_what_changes() -> None:
    state = incident()
    shown = preview(state, action(target="v2.1"), Policy())
    assert shown["scope"] == {"service": "checkout", "namespace": "shop", "cluster": None}
    assert shown["change"]["to"] == "v2.1"
    assert shown["rung"] == 3
    assert preview(state, action("scale", 2, delta=2), Policy())["change"] == {"replicas": None, "delta": 2}


def test_dry_run_needs_no_rollback_permission() -> None:
    assert check(action(), incident(dry_run=True), ctx(can=False)).allowed
    assert not check(action(), incident(), ctx(can=False)).allowed


def _people() -> Any:
    from state.config import Settings, UserConfig

    return Settings(users=[UserConfig(name="alice", rollback_permission=True), UserConfig(name="bob")])


@pytest.mark.parametrize(
    ("by", "approved", "problem"),
    [
        ("alice", True, None),
        ("bob", True, "'bob' has no rollback_permission (users: in config)"),
        ("mallory", True, "'mallory' has no rollback_permission (users: in config)"),
        ("", True, "'' has no rollback_permission (users: in config)"),
        ("bob", False, None),  # anyone may stop a change
        ("mallory", False, None),
    ],
)
def test_who_may_answer_an_approval(by: str, approved: bool, problem: str | None) -> None:
    from tools.guard import approval_problem

    assert approval_problem(_people(), by, approved=approved) == problem


@pytest.mark.parametrize(
    ("answer", "allowed", "reason"),
    [
        ({"approved": True, "by": "alice"}, True, "approved by alice"),
        ({"approved": True, "by": "bob"}, False, "approval by 'bob' refused: no rollback_permission"),
        ({"approved": False, "by": "bob", "reason": "peak"}, False, "rejected by bob: peak"),
        ("garbage", False, "rejected by : "),
    ],
)
def test_the_guard_node_reads_an_answer_by_the_same_rule(answer: Any, allowed: bool, reason: str) -> None:
    from tools.guard import answered

    decision = answered(_people(), answer)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_context_is_the_acting_users_permission() -> None:
    from state.config import Settings, UserConfig
    from tools.guard import context

    allowed = context(Settings(acting_user="alice", users=[UserConfig(name="alice", rollback_permission=True)]), NOW)
    assert (allowed.actor, allowed.actor_can_rollback, allowed.now) == ("alice", True, NOW)
    assert not context(Settings(acting_user="nobody"), NOW, recent_actions=2).actor_can_rollback


# issue 14: the guard reasons about the resulting replica count, and params follow a strict schema
@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"delta": -5}, "delta -5: scaling in can leave fewer than policy.min_replicas (1)"),
        ({"delta": -1}, "delta -1: scaling in can leave fewer than policy.min_replicas (1)"),
        ({"delta": 0}, "delta 0: scaling in can leave fewer than policy.min_replicas (1)"),
        ({"replicas": 0}, "replicas 0: scaling below 1 replica takes the service down"),
        ({"replicas": 51}, "replicas 51: more than policy.max_replicas (50)"),
        ({"replicas": 3, "delta": 1}, "scale: give replicas or delta, not both"),
        ({"replicas": True}, "parameter 'replicas': expected int, got bool True"),
        ({"delta": "2"}, "parameter 'delta': expected int, got str '2'"),
        ({"target": "v1"}, "parameter 'target' is not accepted by scale"),
    ],
)
def test_scale_is_judged_by_where_it_leaves_the_service(params: dict[str, Any], reason: str) -> None:
    decision = check(action("scale", 2, **params), incident(), ctx())
    assert not decision.allowed
    assert decision.reason.startswith(reason)


def test_min_and_max_replicas_come_from_policy() -> None:
    policy = Policy(min_replicas=3, max_replicas=8)
    assert not check(action("scale", 2, replicas=2), incident(), ctx(policy)).allowed
    assert check(action("scale", 2, replicas=3), incident(), ctx(policy)).allowed
    assert check(action("scale", 2, replicas=8), incident(), ctx(policy)).allowed
    assert "max_replicas (8)" in check(action("scale", 2, replicas=9), incident(), ctx(policy)).reason
    assert check(action("scale", 2, delta=2), incident(), ctx(policy)).allowed  # scaling out by a bounded step


def test_params_of_other_operations_are_strict() -> None:
    assert (
        "parameter 'replicas' is not accepted by restart"
        in check(action("restart", 1, replicas=0), incident(), ctx()).reason
    )
    assert "revisions start at 1" in check(action(revision=0), incident(), ctx()).reason
    assert "expected str" in check(action(target=["v1"]), incident(), ctx()).reason
    assert check(action(target="v2.1"), incident(), ctx()).allowed


def test_bad_replica_bounds_are_refused_naming_the_fields() -> None:
    with pytest.raises(ValueError, match="min_replicas"):
        Policy(min_replicas=5, max_replicas=2)
