"""Whether an action fixed the alert: back near its baseline, and still there after a hold.

Pure judgement over readings of the alert's signal (verify reads them through the tools):

- **Under the threshold is not enough.** The signal must be back near its pre-incident
  baseline: within half the way from the baseline to the threshold (or within 25% of the
  baseline when no threshold is known).
- **It must hold.** After ``policy.verify_hold_s`` the signal is read again; a value that
  climbs again toward the threshold (at half the pre-incident slope or more, or fast enough
  to cross it within :data:`RECROSS_H` hours) was only reset, as a restart resets a leak:
  not a fix.
- **No reading is not a verdict.** When nothing can be read after an action the attempt is
  *unverified*: the incident escalates instead of climbing to a more drastic rung.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["cleared", "holding", "still_firing", "not_baseline", "masked", "worse", "unverified"]
NEAR_SHARE = 0.5  # "near the baseline": within half the way from the baseline to the threshold
NEAR_FACTOR = 1.25  # without a threshold: within 25% of the baseline
RECROSS_H = 6.0  # a signal that would cross its threshold again within this many hours did not recover


@dataclass(frozen=True)
class Band:
    """The healthy region of a signal: its pre-incident baseline, its threshold and which side is bad."""

    baseline: float | None
    threshold: float | None
    high_is_bad: bool = True
    slope_per_h: float | None = None  # the pre-incident slope (a leak's climb)
    equality: str | None = None  # "==" / "!=": the rule fires on (in)equality, not on a side (up == 0)
    presence: bool = False  # a vector comparison (spec > available): any answer is firing, none is healthy

    def firing(self, value: float) -> bool:
        """Whether ``value`` is on the bad side of the threshold."""
        if self.threshold is None:
            return False
        if self.equality == "==":
            return value == self.threshold
        if self.equality == "!=":
            return value != self.threshold
        return value > self.threshold if self.high_is_bad else value < self.threshold

    def near_baseline(self, value: float) -> bool:
        """Whether ``value`` is back near the pre-incident baseline."""
        if self.baseline is None or self.equality is not None:
            return not self.firing(value)
        base = self.baseline
        if self.threshold is not None and (self.threshold - base) * (1 if self.high_is_bad else -1) > 0:
            limit = base + NEAR_SHARE * (self.threshold - base)
            return value <= limit if self.high_is_bad else value >= limit
        margin = max(abs(base) * (NEAR_FACTOR - 1), 1e-9)
        return value <= base + margin if self.high_is_bad else value >= base - margin


RECOVERING_SHARE = 0.1  # a reading this far of the way back to the baseline has started to move


def recovering(band: Band, before: float | None, value: float | None) -> bool:
    """Whether a reading that still fires has moved from ``before`` toward the baseline at all.

    An action that worked, read through a rate whose window still holds samples from before it,
    shows part of the way back; an action that did nothing shows none of it.
    """
    if before is None or value is None or band.baseline is None or band.equality is not None:
        return False
    sign = 1.0 if band.high_is_bad else -1.0
    gap = (before - band.baseline) * sign
    return gap > 0 and (before - value) * sign >= RECOVERING_SHARE * gap


@dataclass(frozen=True)
class Verdict:
    """How one attempt ended, and the sentence that says why."""

    outcome: Outcome
    note: str

    @property
    def fixed(self) -> bool:
        """Only a cleared signal that held is a fix."""
        return self.outcome == "cleared"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def judge(
    band: Band,
    before: float | None,
    after: float | None,
    *,
    firing_after: bool | None = None,
    held: float | None = None,
    firing_held: bool | None = None,
    hold_s: float = 0.0,
    worse_factor: float = 1.2,
) -> Verdict:
    """The verdict on an attempt from the signal ``before`` it, ``after`` it and ``held`` (after the hold).

    ``firing_after``/``firing_held`` say what the reading said beside its value: ``False`` with no
    value is a series that exists only while bad and is gone (clear); ``None`` with no value is a
    missing reading. Without a hold reading (``held`` and ``firing_held`` both None) the verdict is
    on the first reading alone; with ``hold_s`` > 0 that is a "cleared, hold pending".
    """
    first = _first(band, before, after, firing_after, worse_factor)
    if first.outcome != "cleared":
        return first
    if held is None and firing_held is None:
        return first if hold_s <= 0 else Verdict("holding", f"{first.note}; re-checking after {hold_s:g} s")
    if held is None:
        if firing_held is False:
            return Verdict("cleared", f"{first.note}; still clear after {hold_s:g} s")
        return Verdict("unverified", "nothing could be read after the hold")
    if after is None:
        return (
            Verdict("cleared", f"{first.note}; {_fmt(held)} after {hold_s:g} s")
            if not band.firing(held)
            else (Verdict("masked", f"came back: {_fmt(held)} after {hold_s:g} s"))
        )
    return _held(band, after, held, hold_s)


def _first(band: Band, before: float | None, after: float | None, firing: bool | None, factor: float) -> Verdict:
    """The verdict on the first reading after an action."""
    if after is None:
        if firing is False:
            return Verdict("cleared", "the alert's series is gone while the workload still reports: clear")
        return Verdict("unverified", "nothing could be read after the action")
    if before is not None and _worse(band, before, after, factor):
        return Verdict("worse", f"worse: {_fmt(before)} → {_fmt(after)}")
    if band.firing(after) if firing is None else firing:
        return Verdict("still_firing", f"still firing: {_fmt(after)}")
    if not band.near_baseline(after):
        return Verdict(
            "not_baseline", f"under the threshold but not back near the baseline {_fmt(band.baseline)}: {_fmt(after)}"
        )
    return Verdict("cleared", f"cleared: {_fmt(after)}")


def _held(band: Band, after: float, held: float, hold_s: float) -> Verdict:
    if band.firing(held) or not band.near_baseline(held):
        return Verdict("masked", f"did not hold: {_fmt(after)} → {_fmt(held)} after {hold_s:g} s")
    climb = (held - after) if band.high_is_bad else (after - held)
    if climb > 0 and hold_s > 0:
        rate = climb / (hold_s / 3600)
        slope = abs(band.slope_per_h) if band.slope_per_h else 0.0
        headroom = abs(band.threshold - held) if band.threshold is not None else None
        # a climb worth a tenth of the way back to the threshold (not noise) that would get there soon
        span = abs(band.threshold - after) if band.threshold is not None else 0.0
        recross = headroom is not None and climb >= 0.1 * span and headroom / rate <= RECROSS_H
        if (slope > 0 and rate >= 0.5 * slope) or recross:
            return Verdict(
                "masked",
                f"climbing again: {_fmt(after)} → {_fmt(held)} in {hold_s:g} s ({rate:.3g}/h"
                + (f", pre-incident {slope:.3g}/h" if slope else "")
                + "): the action reset the signal, it did not remove the cause",
            )
    return Verdict("cleared", f"cleared and held: {_fmt(after)} → {_fmt(held)} after {hold_s:g} s")


def _worse(band: Band, before: float, after: float, factor: float) -> bool:
    if band.equality is not None:
        return False  # a flag (up == 0) has no "worse"
    if band.high_is_bad:
        return after > before * factor and after > before
    return after < before / factor and after < before
