"""The alert's own signal over time: its baseline, its slope, and how each version fared.

Pure functions over the alert's own series (read once over the version lookback):

- the **baseline** and the alert-window mean (the alert expression's "anomaly");
- the **slope** before the alert (a leak climbs; a step does not);
- per **version run**, the mean while it ran and whether that was healthy: under the rule's
  threshold, or, without one, within :data:`HEALTHY_FACTOR` of the best run;
- the **last healthy version** before the current streak of unhealthy ones: the rollback
  target (not merely the previous version: a hotfix that did not fix is skipped), and the
  release that began the streak (the suspect).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import fmean
from typing import Any

from agents.verification import Band
from agents.versions import VersionRun
from state.subject import version_of

HEALTHY_FACTOR = 1.5
LEAKING_SHARE = 0.5  # a run climbing at half the alert's climb or more leaks too
FLAT_SHARE = 0.25  # a run climbing at a quarter of it or less held flat


@dataclass(frozen=True)
class SignalHistory:
    """The alert's own signal as (epoch seconds, value) points, worst series per moment."""

    points: list[tuple[float, float]]
    query: str
    versioned: bool = False  # its series carry a version label (a rule `by (version)`, OTLP's service_version)

    @classmethod
    def from_series(cls, series: list[dict[str, Any]], query: str) -> SignalHistory:
        """Points of a Prometheus matrix (already narrowed to the alert's own series)."""
        worst: dict[float, float] = {}
        versioned = any(version_of(entry.get("metric") or {}) for entry in series)
        for entry in series:
            for stamp, text in entry.get("values") or []:
                try:
                    t, value = float(stamp), float(text)
                except (TypeError, ValueError):
                    continue
                if value == value:  # not NaN
                    worst[t] = max(value, worst.get(t, value))
        return cls(sorted(worst.items()), query, versioned)

    def window(self, lo: datetime, hi: datetime) -> list[tuple[float, float]]:
        """Points in [lo, hi]."""
        a, b = lo.timestamp(), hi.timestamp()
        return [(t, v) for t, v in self.points if a <= t <= b]

    def mean(self, lo: datetime, hi: datetime) -> float | None:
        """Mean value over [lo, hi] (None without points)."""
        values = [v for _, v in self.window(lo, hi)]
        return fmean(values) if values else None

    def slope_per_h(self, lo: datetime, hi: datetime) -> float | None:
        """Least-squares slope over [lo, hi], per hour (None with fewer than 3 points)."""
        points = self.window(lo, hi)
        if len(points) < 3:
            return None
        mean_t = fmean(t for t, _ in points)
        mean_v = fmean(v for _, v in points)
        spread = sum((t - mean_t) ** 2 for t, _ in points)
        if spread == 0:
            return None
        return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 3600

    def steady_climb(self, lo: datetime, hi: datetime) -> bool:
        """Whether the signal climbs steadily over [lo, hi] (a leak), not in one step.

        Steady: a positive slope, and the window's later half higher than its earlier half
        and its earlier half higher than its first quarter (a step stays flat on both sides).
        """
        points = self.window(lo, hi)
        slope = self.slope_per_h(lo, hi)
        if slope is None or slope <= 0 or len(points) < 8:
            return False
        n = len(points)
        quarter, half = fmean(v for _, v in points[: n // 4]), fmean(v for _, v in points[n // 4 : n // 2])
        later = fmean(v for _, v in points[n // 2 :])
        return quarter < half < later

    def resets(self, lo: datetime, hi: datetime) -> list[float]:
        """Times in [lo, hi] the signal fell back sharply and climbed again (a restart that only reset it).

        A fall of at least half the window's range between two samples, followed by a rise over
        the next samples: what a restart does to a leak.
        """
        points = self.window(lo, hi)
        values = [v for _, v in points]
        if len(values) < 6:
            return []
        span = max(values) - min(values)
        if span <= 0:
            return []
        found = []
        for i in range(1, len(points) - 3):
            fall = values[i - 1] - values[i]
            if fall >= 0.5 * span and values[i + 3] > values[i]:
                found.append(points[i][0])
        return found


@dataclass(frozen=True)
class VersionHealth:
    """How the signal fared while one run of a version lasted."""

    version: str
    start: datetime
    mean: float | None
    healthy: bool | None  # None: no signal data for that run


def version_health(
    history: SignalHistory, runs: list[VersionRun], band: Band, climb_per_h: float | None = None
) -> list[VersionHealth]:
    """The signal's mean during every version run, and whether it was healthy (time order).

    A run is measured until the next version started: during a rolling update both run, and
    what the signal did then belongs to the version being rolled out.

    ``climb_per_h``: the alert is a leak climbing at this slope. Then a run is judged by its
    slope, not its mean (a leaking version is under the threshold for most of its life): one
    that climbs at half that slope or more leaks, one that held flat is healthy.
    """
    ends = [_own_end(runs, i) for i in range(len(runs))]
    means = [history.mean(run.start, end) for run, end in zip(runs, ends, strict=True)]
    if climb_per_h is not None and climb_per_h > 0:
        return [
            _leak_health(history, run, end, mean, band, climb_per_h)
            for run, end, mean in zip(runs, ends, means, strict=True)
        ]
    known = [m for m in means if m is not None]
    best = (min(known) if band.high_is_bad else max(known)) if known else None
    out = []
    for run, mean in zip(runs, means, strict=True):
        if band.presence:  # the expression answers only while it fires
            out.append(VersionHealth(run.version, run.start, mean, mean is None))
            continue
        # No points while it ran, yet points under other versions: the series exists only while bad
        # (an alerting comparison, a waiting reason), so this version was quiet.
        quiet: bool | None = True if known else None
        out.append(VersionHealth(run.version, run.start, mean, quiet if mean is None else _healthy(mean, band, best)))
    return out


def _leak_health(
    history: SignalHistory, run: VersionRun, end: datetime, mean: float | None, band: Band, climb_per_h: float
) -> VersionHealth:
    slope = history.slope_per_h(run.start, end)
    if mean is None or slope is None:
        healthy: bool | None = None
    elif slope >= LEAKING_SHARE * climb_per_h:
        healthy = False
    elif slope <= FLAT_SHARE * climb_per_h:
        healthy = not band.firing(mean) if band.threshold is not None else True
    else:
        healthy = None  # neither flat nor leaking: this run says nothing
    return VersionHealth(run.version, run.start, mean, healthy)


def _own_end(runs: list[VersionRun], index: int) -> datetime:
    """When run ``index`` stopped being the newest version (its end, or the next run's start)."""
    run = runs[index]
    later = [r.start for r in runs[index + 1 :] if run.start < r.start < run.end]
    return min(later) - timedelta(seconds=1) if later else run.end


def _healthy(mean: float, band: Band, best: float | None) -> bool:
    if band.threshold is not None:
        return not band.firing(mean)
    if best is None:
        return True
    if band.high_is_bad:
        return mean <= best * HEALTHY_FACTOR + 1e-9
    return mean >= best / HEALTHY_FACTOR - 1e-9


@dataclass(frozen=True)
class Streak:
    """The current streak of unhealthy versions and the healthy version before it."""

    began: VersionHealth  # the first run of the streak: its release is the suspect
    previous_good: VersionHealth | None  # the most recent healthy run before the streak


def unhealthy_streak(health: list[VersionHealth], until: datetime) -> Streak | None:
    """The streak of unhealthy runs that started at or before ``until``, if the history shows one."""
    relevant = [h for h in health if h.start <= until]
    if not relevant or relevant[-1].healthy is not False:
        return None
    index = len(relevant) - 1
    while index > 0 and relevant[index - 1].healthy is False:
        index -= 1
    good = next((h for h in reversed(relevant[:index]) if h.healthy), None)
    return Streak(began=relevant[index], previous_good=good)


def as_utc(epoch: float) -> datetime:
    """An epoch second as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, UTC)
