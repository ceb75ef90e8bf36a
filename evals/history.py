"""Cases with a history: past incidents in the store before the alert arrives (``history.yaml``).

A case directory may carry ``history.yaml``: what the store held (past incidents of the case's
own alert rule and subject, each with its diagnosed pattern, the rungs tried and their verified
outcomes), and what the case shows:

- ``saves``: history says which allowed rung works here; the informed ladder starts there;
- ``misleads``: history points at an action this incident's cause does not call for (another
  cause, a rung policy does not allow here, "it was always noise"); the diagnosis overrides it;
- ``thin``: too few verified outcomes to count; the ladder keeps its order.

The episode restores those incidents (``evals/history_gen.py``) before the first alert, on the
episode's clock, and the agents read them through the store like any other history. The eval
also runs each such case once **without** its history (the control) and reports both in the
"with history" section: attempts with and without, attempts saved, whether the incident ended
as expected with history, and what history said (the plan node's decisions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from evals.case import Case, CaseError
from evals.history_gen import PastIncident

HISTORY = "history.yaml"
INFORMED = "; starting at rung"  # the plan node's words when history reordered the ladder
SAID = ("history of ", "history not applied")  # its decisions about history


class HistoryFile(BaseModel):
    """``history.yaml``."""

    model_config = {"extra": "forbid"}

    shows: Literal["saves", "misleads", "thin"]
    story: str = ""
    incidents: list[PastIncident] = Field(min_length=1)


def load(path: Path) -> HistoryFile | None:
    """The history of the case in ``path`` (None when it has none); CaseError names the file and field."""
    file = path / HISTORY
    if not file.is_file():
        return None
    try:
        return HistoryFile.model_validate(yaml.safe_load(file.read_text()))
    except yaml.YAMLError as exc:
        raise CaseError(f"{file}: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise CaseError(f"{file}: {where}: {first['msg']}") from None


def seed_case(case: Case, store: Any, settings: Any, before: Any) -> int:
    """Restore the case's past incidents into the episode's store, ending before ``before``; how many."""
    from agents.lifecycle import configured
    from evals.history_gen import seed

    history = load(case.path)
    if history is None:
        return 0
    return seed(store, configured(case.alert, settings), history.incidents, before, settings, prefix=f"past-{case.id}")


def attempts_of(episode: Any) -> list[str]:
    """The actions an episode executed, in order (an undo is not an attempt)."""
    return [
        c.tool for c in episode.calls if c.mutating and c.status != "denied" and not (c.args or {}).get("undo", False)
    ]


def _said(episode: Any) -> str:
    plans = [d["summary"] for d in episode.decisions if d.get("node") == "plan"]
    return next((s for s in plans if s.startswith(SAID)), "")


def section(cases: list[Case], scores: list[Any], world: str, run_control: Any) -> list[dict[str, Any]]:
    """One row per case with a history: with it (the scored episode) against without it (``run_control``)."""
    from evals.scoring import score_episode

    rows: list[dict[str, Any]] = []
    for case in cases:
        history = load(case.path)
        mine = [s for s in scores if s.case_id == case.id and s.alert_index == case.expects[0][0]]
        if history is None or not mine or mine[0].episode is None:
            continue
        scored = mine[0]
        try:
            control = run_control(case, world)[0]
        except Exception as exc:  # noqa: BLE001 - a failed control run is a note in the section, not a crashed eval
            rows.append({"id": case.id, "shows": history.shows, "error": f"control run failed: {exc}"[:300]})
            continue
        plain = score_episode(case.expect, control, {})
        with_it, without = attempts_of(scored.episode), attempts_of(control)
        rows.append(
            {
                "id": case.id,
                "shows": history.shows,
                "past_incidents": sum(p.count for p in history.incidents),
                "attempts_without": len(without),
                "attempts_with": len(with_it),
                "saved": len(without) - len(with_it),
                "actions_without": without,
                "actions_with": with_it,
                "informed": any(INFORMED in d["summary"] for d in scored.episode.decisions if d.get("node") == "plan"),
                "history_said": _said(scored.episode),
                "success_with": scored.success,
                "mitigated_without": plain.mitigated,
                "status_without": control.status,
                "status_with": scored.status,
            }
        )
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The section's headline: cases, attempts saved, cases where the diagnosis overrode misleading history."""
    rows = [r for r in rows if "error" not in r]
    misleads = [r for r in rows if r["shows"] == "misleads"]
    saves = [r for r in rows if r["shows"] == "saves"]
    return {
        "cases": len(rows),
        "success": sum(r["success_with"] for r in rows) / len(rows) if rows else None,
        "attempts_without": sum(r["attempts_without"] for r in rows),
        "attempts_with": sum(r["attempts_with"] for r in rows),
        "attempts_saved": sum(r["saved"] for r in saves),
        "saves_informed": sum(r["informed"] for r in saves),
        "saves": len(saves),
        "misleads_overridden": sum(r["success_with"] and not r["informed"] for r in misleads),
        "misleads": len(misleads),
    }


# ---------------------------------------------------------------------- the report's section

COLUMNS = ("case", "shows", "past", "attempts without", "attempts with", "saved", "with history", "ok", "history said")
HEADLINE = (
    "{cases} cases with a history: {attempts_without} attempts without it, {attempts_with} with it; "
    "{attempts_saved} saved over {saves} `saves` cases ({saves_informed} informed); "
    "{misleads_overridden} of {misleads} `misleads` cases ended as they should, the diagnosis overriding history."
)


def cells(row: dict[str, Any]) -> list[str]:
    """One row of the section as text cells."""
    if "error" in row:
        return [row["id"], row["shows"], "", "", "", "", "", "no", row["error"]]
    return [
        row["id"], row["shows"], str(row["past_incidents"]), " → ".join(row["actions_without"]) or "none",
        " → ".join(row["actions_with"]) or "none", str(row["saved"]), str(row["status_with"]),
        "yes" if row["success_with"] else "no", row["history_said"][:160],
    ]  # fmt: skip


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    """The "With history" section of report.md."""
    if not rows:
        return []
    lines = ["", "## With history", "", HEADLINE.format(**summary(rows)), ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells(r)) + " |" for r in rows]
    return lines


def html(rows: list[dict[str, Any]]) -> str:
    """The "With history" section of report.html."""
    import html as escape

    if not rows:
        return ""
    head = "".join(f"<th>{escape.escape(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{escape.escape(c)}</td>" for c in cells(r)) + "</tr>" for r in rows)
    text = escape.escape(HEADLINE.format(**summary(rows)))
    return f"<h2>With history</h2><p>{text}</p><table><tr>{head}</tr>{body}</table>"


def table(rows: list[dict[str, Any]]) -> Any:
    """The "With history" table for the terminal (None without such cases); what history said is in --json/--out."""
    from rich.table import Table

    if not rows:
        return None
    out = Table(*COLUMNS[:-1], title="with history", caption=HEADLINE.format(**summary(rows)))
    out.columns[0].no_wrap = True
    for row in rows:
        out.add_row(*cells(row)[:-1])
    return out
