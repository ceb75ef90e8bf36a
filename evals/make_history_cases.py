# ruff: noqa: E501  (the case table reads best one case per line)
"""Generate the cases with a history under ``evals/history/`` (``python -m evals.make_history_cases``).

Each case is a scenario of ``evals/make_cases.py`` (or a copy of a corpus case) plus
``history.yaml``: the past incidents of the same alert rule and subject the store holds when
the alert arrives (evals/history.py). They are kept apart from ``evals/cases`` and
``evals/corpus`` so those two sets keep their own numbers.

The expectations are what a careful on-call engineer who read the same history would do:
start with the rung that has held for this subject and this cause, never act on history
alone, and never let history about another cause decide this one.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from evals import make_cases as mc

ROOT = Path(__file__).resolve().parent / "history"
CORPUS = Path(__file__).resolve().parent / "corpus"
MARKER = ".generated"
NOTE = "written by evals/make_history_cases.py\n"


def _attempts(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"action": action, "outcome": outcome} for action, outcome in pairs]


def leak_first_rollback(
    id: str, source: str, svc: str, ns: str, prev: str, leaky: str, at: Any, past: int
) -> tuple[mc.Spec, dict[str, Any]]:
    """A leaking release; ``past`` earlier leaks of the service were fixed only by the rollback (the restart never held)."""
    spec = mc.memory_leak(id, source, svc, ns, prev, leaky, at)
    spec.mutations = [mc.rollback(spec, prev)]
    spec.story += (
        f" The store remembers {past} earlier leaks of {svc} in the last two months: each time the restart did not "
        "hold and the version rollback did. Starting with the rollback saves the restart that history says will not hold."
    )
    history = {
        "shows": "saves",
        "story": f"{past} earlier leaks of {svc}: restart never held, version rollback always did.",
        "incidents": [{"count": past, "days_before": 60, "until_days_before": 6, "pattern": "leak", "release": "v0.1",
                       "known_good": "v0.0", "attempts": _attempts(("restart", "still_firing"), ("version_rollback", "cleared"))}],
    }  # fmt: skip
    return spec, history


def leak_thin(
    id: str, source: str, svc: str, ns: str, prev: str, leaky: str, at: Any
) -> tuple[mc.Spec, dict[str, Any]]:
    """A leaking release with only two earlier leaks on record: too little to reorder the ladder."""
    spec = mc.memory_leak(id, source, svc, ns, prev, leaky, at)
    spec.story += (
        " Two earlier leaks are on record (restart did not hold, the rollback did): fewer verified outcomes than "
        "policy.history.min_outcomes (3), so the ladder keeps its order."
    )
    history = {
        "shows": "thin",
        "story": f"2 earlier leaks of {svc}: too few verified outcomes to count.",
        "incidents": [{"count": 2, "days_before": 30, "until_days_before": 10, "pattern": "leak", "release": "r100",
                       "known_good": "r99", "attempts": _attempts(("restart", "still_firing"), ("version_rollback", "cleared"))}],
    }  # fmt: skip
    return spec, history


def undetermined(id: str, source: str, svc: str, ns: str, at: Any, mapped: bool) -> mc.Spec:
    """An error ratio nothing explains (no recent release, no logs); a restart helps a little, scaling out fixes it."""
    spec = mc.bad_release(id, source, svc, ns, "errors", "v3.3.0", "v3.4.0", at, template="undetermined")
    spec.releases = mc.history(at, ("v3.3.0", 9 * 1440), ("v3.4.0", 3 * 1440))
    spec.signal = {"default": 0.30}
    spec.effects = {"restart": {"multiply": {"error_ratio": 0.8}, "detail": f"rolling restart of {svc}"},
                    "scale": {"multiply": {"error_ratio": 0.1}, "detail": f"{svc} scaled out"}}  # fmt: skip
    spec.root_cause = [svc]
    spec.config = {"policy": {"approval_from_rung": 4}}
    if mapped:  # this team's policy walks restart then scale-out for what nothing explains
        spec.config["policy"]["pattern_rungs"] = {"undetermined": [1, 2]}
        spec.mutations, spec.oracle, spec.outcome = (
            [mc.plain(spec, "scale", delta=2)],
            mc.recovered(spec, None),
            "resolved",
        )
    else:
        spec.mutations, spec.oracle, spec.outcome = [], None, "escalated"
    return spec


def scale_first(id: str, source: str, svc: str, ns: str, at: Any) -> tuple[mc.Spec, dict[str, Any]]:
    """Policy maps 'undetermined' to restart then scale-out; history says the restart never held here."""
    spec = undetermined(id, source, svc, ns, at, mapped=True)
    spec.title = f"{svc}: unexplained error ratio; history says scale-out, not a restart, holds"
    spec.story = (
        f"{svc}'s 5xx ratio sits at 30% with no release, config edit or dependency to blame. The team's policy "
        "maps an unexplained cause to restart, then scale-out. Five earlier incidents of this alert: the restart "
        "never held, the scale-out always did. Start with the scale-out."
    )
    history = {
        "shows": "saves",
        "story": "5 earlier unexplained error spikes: restart never held, scale-out always did.",
        "incidents": [{"count": 5, "days_before": 45, "until_days_before": 4, "pattern": "undetermined", "verdict": "unresolved",
                       "abstain": "nothing explains it", "attempts": _attempts(("restart", "not_baseline"), ("scale", "cleared"))}],
    }  # fmt: skip
    return spec, history


def unmapped(id: str, source: str, svc: str, ns: str, at: Any) -> tuple[mc.Spec, dict[str, Any]]:
    """Nothing explains the errors and today's policy maps no rung to that: history of scale-outs must not act."""
    spec = undetermined(id, source, svc, ns, at, mapped=False)
    spec.title = f"{svc}: unexplained error ratio; history of scale-outs, but no hypothesis and no policy for it"
    spec.story = (
        f"{svc}'s 5xx ratio sits at 30% and nothing explains it. Five earlier incidents were fixed by a scale-out, "
        "under a policy that mapped unexplained causes to rungs; today's policy does not. With no hypothesis the "
        "ladder does not act, whatever history did: escalate with the evidence."
    )
    history = {
        "shows": "misleads",
        "story": "5 earlier unexplained error spikes fixed by scale-out (an old policy allowed it).",
        "incidents": [{"count": 5, "days_before": 80, "until_days_before": 20, "pattern": "undetermined", "verdict": "unresolved",
                       "abstain": "nothing explains it", "attempts": _attempts(("scale", "cleared"))}],
    }  # fmt: skip
    return spec, history


def outage_after_rollbacks(
    id: str, source: str, svc: str, ns: str, dep: str, at: Any
) -> tuple[mc.Spec, dict[str, Any]]:
    """A dependency outage on a service whose every earlier incident of this alert was a bad release rolled back."""
    spec = mc.dependency_outage(id, source, svc, ns, dep, at)
    spec.story += (
        f" Every earlier HighErrorRate of {svc} (five in two months) was a bad release fixed by a version rollback in "
        "one attempt. This time the logs name the dependency: history about releases must not roll anything back."
    )
    history = {
        "shows": "misleads",
        "story": f"5 earlier bad releases of {svc}, each rolled back in one attempt.",
        "incidents": [{"count": 5, "days_before": 60, "until_days_before": 5, "pattern": "release", "release": "v3.2.0",
                       "known_good": "v3.1.0", "attempts": _attempts(("version_rollback", "cleared"))}],
    }  # fmt: skip
    return spec, history


def noisy_then_real(id: str, source: str, svc: str, ns: str, at: Any) -> tuple[mc.Spec, dict[str, Any]]:
    """A rule that was noise six times in a row; this time a bad release really broke the service."""
    spec = mc.bad_release(id, source, svc, ns, "errors", "v3.1.0", "v3.2.0", at)
    spec.title = f"{svc}: a noisy rule fires for real after v3.2.0"
    spec.story += (
        " The same rule fired six times before and was back to healthy each time before anyone looked. History of "
        "noise is not evidence now: the signal is bad and a release explains it."
    )
    history = {
        "shows": "misleads",
        "story": "6 earlier firings of this rule that were healthy again at diagnosis (noise).",
        "incidents": [{"count": 6, "days_before": 50, "until_days_before": 2, "pattern": "healthy", "verdict": "noise",
                       "abstain": "the alert's own signal is already healthy at diagnosis; nothing to change"}],
    }  # fmt: skip
    return spec, history


def specs() -> list[tuple[mc.Spec, dict[str, Any]]]:
    """Every generated case with a history."""
    t = mc.at
    return [
        leak_first_rollback("hist-am-cart-leak-rollback-first", "alertmanager", "cart", "shop", "v3.0.0", "v3.0.1", t(4, 1, 0), 4),
        leak_first_rollback("hist-tc-orders-leak-rollback-first", "tencent", "orders", "shop", "v5.5.0", "v5.6.0", t(4, 9, 15), 3),
        scale_first("hist-gen-payments-unexplained-scale-first", "generic", "payments", "pay", t(6, 3, 0)),
        leak_thin("hist-gen-profile-leak-thin-history", "generic", "profile", "users", "r417", "r418", t(4, 18, 10)),
        outage_after_rollbacks("hist-am-checkout-db-outage-after-rollbacks", "alertmanager", "checkout", "shop", "payments-db", t(6, 1, 5)),
        noisy_then_real("hist-am-cart-noisy-rule-real-release", "alertmanager", "cart", "shop", t(3, 3, 12)),
        unmapped("hist-gen-billing-unexplained-no-policy", "generic", "billing", "finance", t(6, 13, 0)),
    ]  # fmt: skip


# A corpus case whose history points at the rollback, while this time no release is to blame.
TKE_GROWTH = (
    "tke-metric-slow-memory-growth-restart",
    "hist-tke-search-api-growth-no-release",
    {
        "shows": "misleads",
        "story": "4 earlier memory alerts of search-api were leaks in a release: restart never held, the rollback did.",
        "incidents": [{"count": 4, "days_before": 70, "until_days_before": 15, "pattern": "leak", "release": "v2.0.3",
                       "known_good": "v2.0.2", "attempts": _attempts(("restart", "masked"), ("version_rollback", "cleared"))}],
    },
    "Four earlier memory alerts of search-api were leaks shipped in a release (the restart did not hold, the "
    "rollback did). This time no release is implicated: every version grows the same way, so there is no version "
    "to return to and the rollback is not on the ladder. History does not add it; the restart is the one rung "
    "that addresses this growth, and it holds.",
)  # fmt: skip


def _write_history(path: Path, history: dict[str, Any], story: str) -> None:
    (path / "history.yaml").write_text(
        "# Past incidents in the store when the alert arrives (evals/history.py)\n"
        + yaml.safe_dump(history, sort_keys=False, allow_unicode=True, width=120)
    )
    readme = path / "README.md"
    readme.write_text(readme.read_text() + f"\n**History** (`history.yaml`, shows `{history['shows']}`). {story}\n")
    for file in path.rglob("*.yaml"):
        file.write_text(
            file.read_text().replace("generated by evals/make_cases.py", "generated by evals/make_history_cases.py")
        )
    (path / MARKER).write_text(NOTE)


def _copy_corpus(source: str, target: str, history: dict[str, Any], story: str, root: Path) -> Path:
    path = root / target
    shutil.copytree(CORPUS / source, path)
    expect = yaml.safe_load((path / "expect.yaml").read_text())
    expect["id"] = target
    (path / "expect.yaml").write_text(f"# {expect['title']} (from evals/corpus/{source}, with a history)\n"
                                      + yaml.safe_dump(expect, sort_keys=False, allow_unicode=True, width=120))  # fmt: skip
    _write_history(path, history, story)
    return path


def main(root: Path = ROOT) -> list[Path]:
    """Regenerate every case with a history (removing stale generated ones) and return their paths."""
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob(f"*/{MARKER}"):
        shutil.rmtree(old.parent)
    paths = []
    for spec, history in specs():
        path = mc.write(spec, root)
        _write_history(path, history, history["story"])
        paths.append(path)
    paths.append(_copy_corpus(*TKE_GROWTH, root=root))
    return paths


if __name__ == "__main__":
    written = main()
    print(f"wrote {len(written)} cases under {ROOT}")
