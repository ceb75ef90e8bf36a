"""Triage weights suggested from history (``alertpilot stats --suggest-weights``); never applied.

Triage's score is a weighted sum of four dimensions (agents/triage.py); its job is to rank the
incidents that needed action above the ones that did not (noise: back to healthy before anyone
looked, resolved on its own, a signal that answers nothing). History says which was which, so
the weights can be judged by how well the score separates them: the area under the ROC curve
(AUC, the chance that an incident that needed action scores above a noisy one; ties count half),
over the score as the product rounds it.

Every weight vector on a grid (multiples of ``step``, each at least ``floor``, summing to 1) is
scored over the distinct dimension tuples of the history (incidents with the same dimensions
score alike, so a large history costs no more than a small one). The best is suggested when it
beats the current weights by ``min_gain``; among equals the one closest to the current weights
wins. The suggestion is printed with the YAML to apply it; nothing changes until a person does.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import partial
from itertools import product

import numpy as np

from state.policy import TriageWeights

DIMENSIONS = ("impact", "severity", "business", "time_sensitivity")
Row = tuple[int, int, int, int, bool]


@dataclass(frozen=True)
class Suggestion:
    """What history says about the triage weights."""

    current: TriageWeights
    suggested: TriageWeights | None  # None: not enough history, or nothing beats the current weights
    incidents: int
    needed: int
    noise: int
    auc_current: float | None
    auc_suggested: float | None
    auc_alone: dict[str, float]  # each dimension on its own
    reason: str

    def document(self) -> dict[str, object]:
        """The ``--json`` form."""
        return {
            "current": self.current.model_dump(),
            "suggested": self.suggested.model_dump() if self.suggested else None,
            "incidents": self.incidents,
            "needed_action": self.needed,
            "noise": self.noise,
            "auc": {"current": self.auc_current, "suggested": self.auc_suggested, "alone": self.auc_alone},
            "reason": self.reason,
            "applied": False,
        }


def _groups(rows: list[Row]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct dimension tuples, how many needed action, how many were noise."""
    tally: Counter[tuple[tuple[int, int, int, int], bool]] = Counter((r[:4], r[4]) for r in rows)
    keys = sorted({dims for dims, _ in tally})
    dims = np.array(keys, dtype=float).reshape(-1, 4)
    pos = np.array([tally[(k, True)] for k in keys], dtype=float)
    neg = np.array([tally[(k, False)] for k in keys], dtype=float)
    return dims, pos, neg


def auc(scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    """AUC of ``scores`` for groups with ``pos`` positives and ``neg`` negatives each (ties count half)."""
    values, inverse = np.unique(scores, return_inverse=True)
    p = np.bincount(inverse, weights=pos, minlength=len(values))
    n = np.bincount(inverse, weights=neg, minlength=len(values))
    below = np.concatenate(([0.0], np.cumsum(n)[:-1]))
    total = p.sum() * n.sum()
    return float((p * (below + 0.5 * n)).sum() / total) if total else 0.5


def _score(dims: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.clip(np.round(dims @ weights), 0, 100)  # as agents/triage.py::score rounds it


def grid(step: float, floor: float) -> list[np.ndarray]:
    """Every weight vector of multiples of ``step``, each >= ``floor``, summing to 1."""
    units = round(1 / step)
    low = max(1, round(floor / step))
    out = []
    for a, b, c in product(range(low, units + 1), repeat=3):
        d = units - a - b - c
        if d >= low:
            out.append(np.array([a, b, c, d], dtype=float) / units)
    return out


def suggest(
    rows: list[Row],
    current: TriageWeights,
    *,
    min_incidents: int = 30,
    min_each: int = 5,
    step: float = 0.05,
    floor: float = 0.05,
    min_gain: float = 0.01,
) -> Suggestion:
    """Weights that rank needed-action incidents above noise better than ``current``, if history shows some."""
    needed = sum(1 for r in rows if r[4])
    noise = len(rows) - needed
    now = np.array([getattr(current, d) for d in DIMENSIONS])
    make = partial(Suggestion, current=current, incidents=len(rows), needed=needed, noise=noise)
    if len(rows) < min_incidents or needed < min_each or noise < min_each:
        why = (
            f"not enough history: {len(rows)} incidents ({needed} needed action, {noise} noise); "
            f"{min_incidents} with at least {min_each} of each are needed"
        )
        return make(suggested=None, auc_current=None, auc_suggested=None, auc_alone={}, reason=why)
    dims, pos, neg = _groups(rows)
    alone = {d: round(auc(dims[:, i], pos, neg), 4) for i, d in enumerate(DIMENSIONS)}
    scored_now = auc(_score(dims, now), pos, neg)
    best, best_auc = now, scored_now
    for weights in grid(step, floor):
        value = auc(_score(dims, weights), pos, neg)
        closer = np.abs(weights - now).sum() < np.abs(best - now).sum()
        if value > best_auc + 1e-12 or (abs(value - best_auc) <= 1e-12 and closer):
            best, best_auc = weights, value
    if best_auc < scored_now + min_gain:
        why = f"the current weights rank as well as any on the grid (AUC {scored_now:.3f})"
        return make(suggested=None, auc_current=round(scored_now, 4), auc_suggested=None,
                          auc_alone=alone, reason=why)  # fmt: skip
    suggested = TriageWeights(**{d: round(float(w), 4) for d, w in zip(DIMENSIONS, best, strict=True)})
    why = f"ranks needed-action incidents above noise with AUC {best_auc:.3f} (current {scored_now:.3f})"
    return make(suggested=suggested, auc_current=round(scored_now, 4),
                      auc_suggested=round(best_auc, 4), auc_alone=alone, reason=why)  # fmt: skip
