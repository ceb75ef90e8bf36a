"""What an eval report says about each episode: the calls, the expectations, the pairing, the decisions.

``eval --json`` carries, per episode (case × trial × scored alert), every made call
(tool, args, status, agent), the expected calls, how the two were paired and why a call
was not credited, and the incident's decision log, so a failing case can be read without
re-running it. Pure functions over :class:`~evals.scoring.CaseScore`.
"""

from __future__ import annotations

from typing import Any

from evals.case import Case
from evals.scoring import CaseScore, summarize

CALL_FIELDS = ("seq", "agent", "tool", "args", "status", "mutating", "error")


def notes(scores: list[CaseScore]) -> list[str]:
    """The distinct "tool: note" of every call not credited, sorted."""
    return sorted({f"{v.tool}: {v.note}" for s in scores for v in s.verdicts if not v.correct})


def trial_successes(scores: list[CaseScore]) -> int:
    """Trials in which every scored alert of the case succeeded."""
    trials: dict[int, bool] = {}
    for score in scores:
        trials[score.trial] = trials.get(score.trial, True) and score.success
    return sum(trials.values())


def alert_rows(case: Case, scores: list[CaseScore]) -> list[dict[str, Any]]:
    """One row per scored alert of the case: which alert, its incident, its metrics over the trials."""
    rows = []
    for index, _ in case.expects:
        mine = [s for s in scores if s.alert_index == index]
        alert = case.alerts[index]
        summary = summarize(mine)
        last = mine[-1].episode if mine else None
        rows.append(
            {
                "index": index,
                "fingerprint": alert.fingerprint,
                "alertname": alert.name,
                "incident": last.incident_id if last else None,
                "status": mine[-1].status if mine else None,
                "successes": sum(s.success for s in mine),
                "mcp_call_accuracy": summary["mcp_call_accuracy"],
                "diagnosis_score": summary["diagnosis_score"],
                "mitigation_success": summary["mitigation_success"],
                "notes": notes(mine)[:6],
            }
        )
    return rows


def _call(call: Any) -> dict[str, Any]:
    data = call.model_dump(mode="json", include=set(CALL_FIELDS))
    return {k: data[k] for k in CALL_FIELDS if k in data}


def episode_detail(score: CaseScore) -> dict[str, Any]:
    """One episode as the report shows it: calls, expected calls, pairing, decisions, outcome."""
    episode, expected = score.episode, score.expected
    calls = list(episode.calls) if episode else []
    pairing = [
        {
            "expected": v.expected,
            "call": calls[v.call].seq if v.call is not None and v.call < len(calls) else None,
            "tool": v.tool,
            "kind": v.kind,
            "correct": v.correct,
            "note": v.note,
            "why": v.why,
        }
        for v in score.verdicts
    ]
    want = (
        expected.model_dump(mode="json", include={"reads", "mutations", "root_cause", "mitigation", "outcome"})
        if expected
        else {}
    )
    return {
        "trial": score.trial,
        "alert": score.alert_index,
        "fingerprint": episode.fingerprint if episode else "",
        "alertname": episode.alert_name if episode else "",
        "incident": episode.incident_id if episode else "",
        "status": score.status,
        "success": score.success,
        "error": score.error,
        "clock": episode.clock if episode else {},
        "tokens": score.tokens,
        "model_calls": score.model_calls,
        "wall_s": score.wall_s,
        "entities": list(episode.entities) if episode else [],
        "signal": episode.signal if episode else None,
        "version": episode.version if episode else None,
        "calls": [_call(c) for c in calls],
        "expected": want,
        "pairing": pairing,
        "decisions": list(episode.decisions) if episode else [],
    }
