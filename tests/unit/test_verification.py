"""Verified means it holds: back near the baseline, still there after the hold, not climbing back.

A table of readings an SRE would judge, and the verdict each gets.
"""

from __future__ import annotations

import pytest

from agents.verification import Band, judge

ERRORS = Band(baseline=0.004, threshold=0.05)  # a 5xx ratio: 0.4% normally, alert above 5%
LEAK = Band(baseline=0.45, threshold=0.9, slope_per_h=0.09)  # memory over limit, climbing 9 points an hour
FLAG = Band(baseline=None, threshold=0.0, high_is_bad=False, equality="==")  # up == 0


@pytest.mark.parametrize(
    ("band", "before", "after", "kw", "outcome"),
    [
        (ERRORS, 0.23, 0.004, {}, "cleared"),
        (ERRORS, 0.23, 0.004, {"hold_s": 300}, "holding"),  # cleared once: re-checked after the hold
        (ERRORS, 0.23, 0.004, {"hold_s": 300, "held": 0.005}, "cleared"),
        (ERRORS, 0.23, 0.004, {"hold_s": 300, "held": 0.2}, "masked"),  # it came back
        (ERRORS, 0.23, 0.045, {}, "not_baseline"),  # under the threshold, far from normal: a still-bad version
        (ERRORS, 0.23, 0.22, {}, "still_firing"),
        (ERRORS, 0.10, 0.30, {}, "worse"),
        (ERRORS, 0.23, None, {}, "unverified"),  # nothing could be read: never "cleared"
        (ERRORS, 0.23, None, {"firing_after": False}, "cleared"),  # a series that exists only while bad is gone
        (ERRORS, 0.23, 0.004, {"hold_s": 300, "held": None, "firing_held": None}, "holding"),
        (LEAK, 0.96, 0.45, {"hold_s": 600, "held": 0.465}, "masked"),  # a restart reset it: it climbs at its slope
        (LEAK, 0.96, 0.45, {"hold_s": 600, "held": 0.45}, "cleared"),  # the rollback: flat at the baseline
        (FLAG, 0.0, 1.0, {}, "cleared"),
        (FLAG, 1.0, 0.0, {}, "still_firing"),
    ],
)
def test_verdicts(band: Band, before: float | None, after: float | None, kw: dict, outcome: str) -> None:
    assert judge(band, before, after, **kw).outcome == outcome


def test_a_climb_that_would_cross_the_threshold_again_within_hours_did_not_fix_it() -> None:
    no_slope_known = Band(baseline=0.45, threshold=0.9)
    verdict = judge(no_slope_known, 0.96, 0.45, hold_s=300, held=0.50)  # 0.6/h: back over 0.9 in under an hour
    assert verdict.outcome == "masked" and "did not remove the cause" in verdict.note


def test_the_unverified_note_says_what_was_missing() -> None:
    assert "nothing could be read" in judge(ERRORS, 0.2, None).note
    assert judge(ERRORS, 0.2, 0.004, hold_s=300, held=None, firing_held=None).outcome == "holding"
    assert judge(ERRORS, 0.2, 0.004, hold_s=300, held=None, firing_held=True).outcome == "unverified"


def test_a_reading_inside_the_signals_own_range_window_is_read_again_after_it() -> None:
    # a rate over 5 minutes still averages the replaced pods' samples until the window has passed
    from datetime import UTC, datetime

    from agents.signal import settle_s
    from state.alert import Alert
    from state.incident import Diagnosis
    from tools.promql import range_window_s

    assert range_window_s('sum(rate(x{code=~"5.."}[5m])) / sum(rate(x[5m])) > 0.05') == 300
    assert range_window_s("max_over_time(up[1h:5m])") == 3600 and range_window_s("up == 0") == 0
    when = datetime(2026, 1, 1, tzinfo=UTC)
    alert = Alert(source="alertmanager", status="firing", name="A", starts_at=when, fingerprint="f",
                  expression="sum(rate(x[5m])) > 1")  # fmt: skip
    assert settle_s(alert, None) == 300
    cloud = Diagnosis(summary="", cloud_signal={"namespace": "QCE/CVM", "metric": "CPUUsage", "dimensions": {}})
    assert settle_s(alert, cloud) == 0  # Cloud Monitor: its own period, not a PromQL window
    slow = alert.model_copy(update={"expression": "increase(x[1d]) > 0"})
    assert settle_s(slow, None) == 900  # at most 15 minutes


def test_only_a_reading_on_its_way_back_is_worth_waiting_out_the_window_for() -> None:
    from agents.verification import recovering

    cpu = Band(baseline=6.1, threshold=12.0)
    assert recovering(cpu, before=23.6, value=17.7)  # a third of the way back: the window still lags
    assert not recovering(cpu, before=23.6, value=23.4)  # a restart that did nothing
    assert not recovering(cpu, before=23.6, value=None)
    free = Band(baseline=0.4, threshold=0.1, high_is_bad=False)  # free disk: low is bad
    assert recovering(free, before=0.04, value=0.09) and not recovering(free, before=0.04, value=0.03)
