"""Triage weights suggested from history: judged by how well the score ranks needed-action incidents above noise."""

from __future__ import annotations

import random

import numpy as np
import pytest

from agents.tuning import auc, grid, suggest
from state.policy import TriageWeights


def test_auc_counts_pairs_ranked_right_and_ties_as_half() -> None:
    # scores 1, 2, 2, 3 with labels 0, 1, 0, 1: of the 4 (needed, noise) pairs 3 are ranked right and 1 is a tie
    scores = np.array([1.0, 2.0, 3.0])
    assert auc(scores, pos=np.array([0.0, 1.0, 1.0]), neg=np.array([1.0, 1.0, 0.0])) == pytest.approx(3.5 / 4)
    assert auc(scores, pos=np.array([1.0, 0.0, 0.0]), neg=np.array([0.0, 0.0, 1.0])) == 0.0


def test_the_grid_keeps_every_dimension_and_sums_to_one() -> None:
    vectors = grid(0.05, 0.05)
    assert len(vectors) == 969  # compositions of 20 into 4 positive parts
    assert all(abs(v.sum() - 1) < 1e-9 and v.min() >= 0.05 - 1e-9 for v in vectors)


def _history(n: int = 600) -> list[tuple[int, int, int, int, bool]]:
    """Incidents whose severity says whether they needed action; impact says nothing."""
    rng = random.Random(3)
    rows = []
    for _ in range(n):
        severity = rng.choice([60, 95])
        needed = rng.random() < (0.9 if severity == 95 else 0.2)
        rows.append((rng.choice([30, 70, 90]), severity, rng.choice([50, 85]), rng.choice([50, 80]), needed))
    return rows


def test_a_history_where_severity_tells_suggests_weighing_it_more() -> None:
    result = suggest(_history(), TriageWeights())
    assert result.suggested is not None
    assert result.suggested.severity > TriageWeights().severity
    assert result.auc_suggested is not None and result.auc_current is not None
    assert result.auc_suggested >= result.auc_current + 0.01
    assert result.auc_alone["severity"] > 0.8 > result.auc_alone["impact"]
    assert result.document()["applied"] is False


def test_too_little_history_or_nothing_to_gain_suggests_nothing() -> None:
    thin = suggest(_history()[:20], TriageWeights())
    assert thin.suggested is None and thin.reason.startswith("not enough history: 20 incidents")
    flat = [(70, 95, 50, 80, i % 2 == 0) for i in range(100)]  # every incident looks the same to triage
    same = suggest(flat, TriageWeights())
    assert same.suggested is None and "rank as well as any" in same.reason
