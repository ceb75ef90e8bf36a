"""The ladder informed by history, within policy: which of the allowed rungs goes first.

Pure functions over the rungs the planner already allows (``agents/rollback.py``: those
that address the hypothesis and have a target) and the subject's recalled outcomes
(``IncidentState.recall``). History only **reorders** those rungs; it never adds one, never
acts where the planner would not (an abstaining diagnosis, a pattern no rung addresses),
and the guard and the budget still decide every attempt.

Each allowed rung gets a Beta posterior over its verified outcomes for this subject and
this pattern (prior Beta(1, 1); a fix that held is a success, a verified failure —
still firing, masked, not at baseline, worse — a failure; an unverified or failed action
is no evidence). A rung with at least ``policy.history.min_outcomes`` outcomes and a
posterior mean of at least ``policy.history.min_success`` is "known to work"; known rungs
go first, best first, then the others in ladder order. History about another pattern of
the subject (the diagnosis found a different cause this time) is never used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb

from state.history import Recall
from state.policy import Policy

PRIOR = (1, 1)


@dataclass(frozen=True)
class Estimate:
    """A rung's posterior: Beta(prior + verified fixes, prior + verified failures)."""

    level: int
    operation: str
    verified: int
    failed: int

    @property
    def alpha(self) -> int:
        """Successes plus the prior's."""
        return PRIOR[0] + self.verified

    @property
    def beta(self) -> int:
        """Failures plus the prior's."""
        return PRIOR[1] + self.failed

    @property
    def outcomes(self) -> int:
        """Verified outcomes behind the estimate."""
        return self.verified + self.failed

    @property
    def mean(self) -> float:
        """The posterior mean success rate (the success estimate)."""
        return self.alpha / (self.alpha + self.beta)

    def chance_above(self, rate: float) -> float:
        """P(success rate > ``rate``) under the posterior (exact for integer parameters)."""
        n = self.alpha + self.beta - 1
        below = sum(comb(n, j) * rate**j * (1 - rate) ** (n - j) for j in range(self.alpha, n + 1))
        return 1.0 - below

    def describe(self) -> str:
        """``version_rollback held 4 of 4 verified times (success estimate 83%, Beta(5, 1), P(>50%) 97%)``."""
        return (
            f"{self.operation} held {self.verified} of {self.outcomes} verified times "
            f"(success estimate {self.mean:.0%}, Beta({self.alpha}, {self.beta}), "
            f"P(>50%) {self.chance_above(0.5):.0%})"
        )


@dataclass(frozen=True)
class LadderOrder:
    """The order the allowed rungs are walked in, and why."""

    levels: list[int]
    ladder: list[int] = field(default_factory=list)  # the same rungs in ladder order
    estimates: list[Estimate] = field(default_factory=list)
    first: Estimate | None = None  # the rung history moved to the front (None: ladder order kept)
    reason: str = ""  # the decision's words ("" when there was no history for this pattern)

    @property
    def changed(self) -> bool:
        """Whether history changed the ladder's order."""
        return self.levels != self.ladder


def estimates(levels: list[int], recall: Recall, pattern: str, policy: Policy) -> list[Estimate]:
    """The posterior of every allowed rung that has outcomes for ``pattern`` (the rung's current operation)."""
    out = []
    for level in levels:
        operation = policy.rung(level).operation
        mine = [o for o in recall.rung_outcomes(pattern) if o.rung == level and o.operation == operation]
        if mine and operation:
            out.append(Estimate(level, operation, sum(o.verified for o in mine), sum(o.failed for o in mine)))
    return [e for e in out if e.outcomes]


def order(
    levels: list[int], recall: Recall | None, pattern: str | None, policy: Policy, subject: str = ""
) -> LadderOrder:
    """The allowed rungs (``levels``, ladder order) reordered by what worked for this subject and pattern."""
    settings = policy.history
    if not levels or recall is None or not pattern or not settings.informed_ladder:
        return LadderOrder(list(levels), list(levels))
    found = estimates(levels, recall, pattern, policy)
    if not found:
        return LadderOrder(list(levels), list(levels))
    known = [e for e in found if e.outcomes >= settings.min_outcomes and e.mean >= settings.min_success]
    known.sort(key=lambda e: (-e.mean, levels.index(e.level)))
    ordered = [e.level for e in known] + [level for level in levels if level not in {e.level for e in known}]
    first = known[0] if known and ordered != levels else None
    return LadderOrder(ordered, list(levels), found, first, _reason(ordered, levels, found, pattern, policy, subject))


def _reason(
    ordered: list[int], levels: list[int], found: list[Estimate], pattern: str, policy: Policy, subject: str
) -> str:
    about = f"history of {subject or 'this subject'} ({pattern}): " + "; ".join(e.describe() for e in found)
    thin = [e for e in found if e.outcomes < policy.history.min_outcomes]
    if ordered != levels:
        rest = ", ".join(f"rung {level}" for level in ordered[1:])
        then = f", then {rest}" if rest else ""
        return f"{about}; starting at rung {ordered[0]} ({policy.rung(ordered[0]).name}){then} (ladder order {levels})"
    if len(levels) == 1:
        return f"{about}; one rung addresses it"
    if thin:
        need = policy.history.min_outcomes
        return f"{about}; fewer than {need} verified outcomes for {', '.join(e.operation for e in thin)}: ladder order"
    return f"{about}; the ladder's order is already the best known"


def unused(recall: Recall | None, hypothesis: str | None, diagnosed: str) -> str:
    """Why fixes history remembers for other causes of the subject were not applied (``""``: none to mention).

    ``hypothesis`` is the pattern the planner acts on (None: the diagnosis abstains, nothing acts);
    ``diagnosed`` the diagnosis's own pattern.
    """
    if recall is None:
        return ""
    fixes: dict[tuple[str, str], int] = {}
    for outcome in recall.outcomes:
        if outcome.verified and outcome.pattern != hypothesis:
            key = (outcome.operation, outcome.pattern or "none")
            fixes[key] = fixes.get(key, 0) + outcome.verified
    if not fixes:
        return ""
    listed = ", ".join(f"{op} fixed {n} {pattern}" for (op, pattern), n in sorted(fixes.items(), key=lambda kv: -kv[1]))
    now = f"this time the diagnosis is {diagnosed or 'none'}"
    return f"history not applied: {listed} incident(s) of this subject before; {now}" + (
        ", which no rung may act on" if hypothesis is None else ""
    )
