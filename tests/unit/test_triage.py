"""Triage: the weighted score and the tier → budget table, at every boundary."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.triage import assess, in_working_hours, score, tier_for
from state.alert import Alert
from state.config import ServiceConfig
from state.policy import TriagePolicy, TriageWeights

POLICY = TriagePolicy()


@pytest.mark.parametrize(
    ("score_value", "tier", "budget"),
    [
        (0, "P4", 1),
        (29, "P4", 1),
        (30, "P3", 2),
        (49, "P3", 2),
        (50, "P2", 3),
        (69, "P2", 3),
        (70, "P1", 4),
        (89, "P1", 4),
        (90, "P0", 6),
        (100, "P0", 6),
    ],
)
def test_tier_boundaries(score_value: int, tier: str, budget: int) -> None:
    chosen = tier_for(score_value, POLICY.tiers)
    assert (chosen.name, chosen.budget) == (tier, budget)


@pytest.mark.parametrize("level", [0, 29, 30, 49, 50, 69, 70, 89, 90, 100])
def test_uniform_dimensions_score_their_own_value(level: int) -> None:
    dims = dict.fromkeys(("impact", "severity", "business", "time_sensitivity"), level)
    assert score(dims, POLICY) == level


def test_formula_weights() -> None:
    dims = {"impact": 100, "severity": 0, "business": 0, "time_sensitivity": 0}
    assert score(dims, POLICY) == 40
    dims = {"impact": 0, "severity": 100, "business": 50, "time_sensitivity": 100}
    assert score(dims, POLICY) == 30 + 10 + 10


def test_weights_from_config_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        TriageWeights(impact=0.5, severity=0.5, business=0.5, time_sensitivity=0)
    custom = TriagePolicy(weights=TriageWeights(impact=0, severity=1, business=0, time_sensitivity=0))
    assert score({"impact": 0, "severity": 60, "business": 0, "time_sensitivity": 0}, custom) == 60


def _alert(**overrides: object) -> Alert:
    base = {
        "source": "generic",
        "status": "firing",
        "name": "HighErrorRate",
        "severity": "critical",
        "service": "checkout",
        "starts_at": datetime(2026, 11, 24, 2, 0, tzinfo=UTC),
        "fingerprint": "f",
    }
    return Alert.model_validate(base | overrides)


def test_service_criticality_raises_the_score() -> None:
    now = datetime(2026, 11, 24, 2, 5, tzinfo=UTC)  # 10:05 in UTC+8, a Tuesday
    low = assess(_alert(), ServiceConfig(criticality=10), POLICY, now)
    high = assess(_alert(), ServiceConfig(criticality=100), POLICY, now)
    assert high.score - low.score == round(0.2 * 90)
    assert high.dimensions["business"] == 100


def test_working_hours_from_config() -> None:
    assert in_working_hours(datetime(2026, 11, 24, 2, 0, tzinfo=UTC), POLICY)  # Tue 10:00 +08
    assert not in_working_hours(datetime(2026, 11, 24, 15, 0, tzinfo=UTC), POLICY)  # Tue 23:00 +08
    assert not in_working_hours(datetime(2026, 11, 22, 2, 0, tzinfo=UTC), POLICY)  # Sunday


def test_info_and_resolved_alerts_get_no_ladder() -> None:
    now = datetime(2026, 11, 24, 2, 5, tzinfo=UTC)
    assert not assess(_alert(severity="info"), ServiceConfig(), POLICY, now).actionable
    assert not assess(_alert(status="resolved"), ServiceConfig(), POLICY, now).actionable
    assert assess(_alert(), ServiceConfig(), POLICY, now).actionable
