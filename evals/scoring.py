"""Score one episode against its case's expectations; aggregate scores over cases and trials.

Every rule here is stated in evals/README.md ("Scoring"); this module is that text as
code, pure functions over an :class:`Episode` (what the agent did and how the world
ended) and an :class:`~evals.case.Expectation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import comb
from typing import Any

from evals.case import CallExpectation, Expectation, RootCauseEntry
from evals.matchers import (
    IGNORED_MUTATING_ARGS,
    TIME_TOLERANCE_S,
    args_match,
    match_value,
    mismatch,
    normalize_text,
    schema_problems,
)
from state.incident import ToolCall

__all__ = [
    "IGNORED_MUTATING_ARGS",
    "TIME_TOLERANCE_S",
    "CallVerdict",
    "CaseScore",
    "Episode",
    "args_match",
    "diagnosis_score",
    "match_value",
    "normalize_text",
    "pass_hat_k",
    "score_episode",
    "summarize",
]


@dataclass
class Episode:
    """What one run of a case produced, for one of its scored alerts."""

    case_id: str
    trial: int
    calls: list[ToolCall]
    entities: list[str] = field(default_factory=list)
    status: str | None = None
    signal: float | None = None
    version: str | None = None
    review: dict[str, Any] | None = None
    steps: int = 0
    tokens: int = 0
    model_calls: int = 0
    wall_s: float = 0.0
    error: str = ""
    answered: dict[str, int] = field(default_factory=dict)  # prometheus world: metrics reads per answering side
    offset_s: int = 0  # prometheus world: seconds every time in the case moved (time matchers move with it)
    alert_index: int = 0  # which alert of the payload this episode scores
    fingerprint: str = ""
    alert_name: str = ""
    incident_id: str = ""  # the incident the alert went into (alerts joining one incident share it)
    decisions: list[dict[str, Any]] = field(default_factory=list)  # the incident's decision log
    clock: dict[str, str] = field(default_factory=dict)  # the simulated clock: started / ended (RFC 3339)


@dataclass
class CallVerdict:
    """How one made (or one missed expected) call was judged."""

    tool: str
    kind: str  # read | mutating | unknown | missed
    correct: bool
    valid_name: bool = True
    schema_valid: bool = True
    args_ok: bool = True
    note: str = ""
    call: int | None = None  # index of the made call in Episode.calls (None for a missed expected call)
    expected: str | None = None  # the expected call it paired with: "reads[0]", "mutations[1]"
    why: str = ""  # the first matcher or schema rule that failed, in one line


@dataclass
class CaseScore:
    """All metrics of one episode."""

    case_id: str
    trial: int
    noop: bool
    made: int
    correct: int
    union: int
    valid_names: int
    schema_valid: int
    args_ok: int
    read_recall: float
    mutation_strict: bool
    made_mutating: int
    denied: int
    unrecorded: int
    diagnosis: float | None
    mitigated: bool | None
    review_ok: bool | None
    outcome_ok: bool | None
    success: bool
    status: str | None
    steps: int
    tokens: int
    wall_s: float
    verdicts: list[CallVerdict]
    model_calls: int = 0
    error: str = ""
    alert_index: int = 0
    episode: Episode | None = field(default=None, repr=False)
    expected: Expectation | None = field(default=None, repr=False)

    @property
    def accuracy(self) -> float:
        """MCP call accuracy of this episode (1.0 when nothing was expected or made: nothing to get wrong)."""
        return self.correct / self.union if self.union else 1.0


# --------------------------------------------------------------------------- one episode


@dataclass
class _Pairs:
    """Expected reads paired with made read calls (indices into the lists given)."""

    full: dict[int, int] = field(default_factory=dict)
    partial: dict[int, int] = field(default_factory=dict)
    why: dict[int, str] = field(default_factory=dict)  # expected index → why it is not a full match


def _pair_reads(expected: list[CallExpectation], made: list[ToolCall]) -> tuple[_Pairs, list[int]]:
    """Full matches, then wrong-argument pairs, then the missed expected reads (by index)."""
    pairs = _Pairs()
    taken: set[int] = set()
    owner: dict[int, int] = {}  # made index → the expected read it fully matched
    for e_index, want in enumerate(expected):
        reasons = []
        for m_index, call in enumerate(made):
            if call.tool != want.tool:
                continue
            if m_index in taken:
                reasons.append(f"#{call.seq} paired with reads[{owner[m_index]}]")
                continue
            reason = mismatch(want, call, strict=False)
            if not reason:
                pairs.full[e_index] = m_index
                owner[m_index] = e_index
                taken.add(m_index)
                break
            reasons.append(f"#{call.seq} {reason}")
        else:
            pairs.why[e_index] = "; ".join(reasons[:3]) or f"no {want.tool} call made"
    for e_index, want in enumerate(expected):
        if e_index in pairs.full:
            continue
        for m_index, call in enumerate(made):
            if m_index not in taken and call.tool == want.tool:
                pairs.partial[e_index] = m_index
                pairs.why[e_index] = mismatch(want, call, strict=False)
                taken.add(m_index)
                break
    missed = [i for i in range(len(expected)) if i not in pairs.full and i not in pairs.partial]
    return pairs, missed


def _pair_mutations(expected: list[CallExpectation], made: list[ToolCall]) -> tuple[list[tuple[int, int]], list[int]]:
    """In-order pairs (expected index, made index) by tool name; and the made indices left over."""
    pairs: list[tuple[int, int]] = []
    extra: list[int] = []
    j = 0
    for m_index, call in enumerate(made):
        if j < len(expected) and call.tool == expected[j].tool:
            pairs.append((j, m_index))
            j += 1
        else:
            extra.append(m_index)
    return pairs, extra


def _alternatives(entry: RootCauseEntry) -> set[str]:
    return {normalize_text(a) for a in (entry if isinstance(entry, list) else [entry])}


def diagnosis_score(named: list[str], truth: list[RootCauseEntry]) -> float | None:
    """0 if a true root-cause entity (any of its alternatives) is missing, else the precision of the named ones.

    A named entity is true when it is any alternative of any entry.
    """
    if not truth:
        return None
    named_set = {normalize_text(n) for n in named if str(n).strip()}
    entries = [_alternatives(t) for t in truth]
    if any(not (entry & named_set) for entry in entries):
        return 0.0
    true_names = set().union(*entries)
    return len(named_set & true_names) / len(named_set)


def _review_ok(expected: Expectation, review: dict[str, Any] | None) -> bool | None:
    want = expected.review
    if want is None:
        return None
    if not review or review.get("status") != "reviewed":
        return False
    findings = review.get("findings") or []
    categories = {str(f.get("category")) for f in findings}
    files = {str(f.get("file")) for f in findings}
    return (
        (want.release is None or review.get("release") == want.release)
        and set(want.pulls) <= set(review.get("pulls") or [])
        and set(want.categories) <= categories
        and set(want.files) <= files
    )


def _mitigated(expected: Expectation, episode: Episode) -> bool | None:
    oracle = expected.mitigation
    if oracle is None:
        return None
    if episode.signal is None or episode.signal >= oracle.below:
        return False
    return oracle.version is None or episode.version == oracle.version


@dataclass
class _Judged:
    """Intermediate result of judging the calls of one episode."""

    verdicts: list[CallVerdict] = field(default_factory=list)
    correct: int = 0
    missed: int = 0
    recall: float = 1.0
    strict: bool = True
    pair_ok: dict[int, bool] = field(default_factory=dict)  # call index → matchers passed


# Agents whose identical re-reads are by design: verify re-checks the alert's own signal after
# the policy's waits (verify_after_s, then verify_hold_s), the same query at a later time.
RECHECK_AGENTS = frozenset({"verify"})


def _call_key(call: ToolCall) -> str | None:
    """A call's identity for repeat detection (agent, tool, canonical arguments); None when re-reads are by design."""
    import json

    if call.agent in RECHECK_AGENTS:
        return None
    return f"{call.agent}:{call.tool}:{json.dumps(call.args, sort_keys=True, default=str)}"


def repeated_reads(calls: list[ToolCall]) -> dict[int, int]:
    """Index of each read that repeats an earlier identical one → the earlier call's seq.

    Identical = same agent, tool and arguments, with no executed mutating call in between (an
    action changes what a read answers, so reading again after one is verifying, not repeating).
    """
    seen: dict[str, int] = {}
    repeats: dict[int, int] = {}
    for index, call in enumerate(calls):
        if call.mutating:
            if call.status == "success":
                seen.clear()
            continue
        key = _call_key(call)
        if key is None:
            continue
        if key in seen:
            repeats[index] = seen[key]
        else:
            seen[key] = call.seq
    return repeats


def _judge_reads(
    expected: Expectation, episode: Episode, reads: list[int], checked: dict[int, Any], out: _Judged
) -> None:
    calls = [episode.calls[i] for i in reads]
    pairs, missed = _pair_reads(expected.reads, calls)
    for e_index, local in pairs.full.items():
        ok = checked[reads[local]][0]
        out.pair_ok[reads[local]] = True
        out.correct += ok
        why = "" if ok else checked[reads[local]][2]
        out.verdicts.append(
            CallVerdict(
                calls[local].tool, "read", ok, note="expected", call=reads[local], expected=f"reads[{e_index}]", why=why
            )
        )
    for e_index, local in pairs.partial.items():
        out.pair_ok[reads[local]] = False
        out.verdicts.append(
            CallVerdict(
                calls[local].tool, "read", False, args_ok=False, note="wrong arguments",
                call=reads[local], expected=f"reads[{e_index}]", why=pairs.why[e_index],
            )
        )  # fmt: skip
    repeats = repeated_reads(episode.calls)
    for local, call in enumerate(calls):
        if reads[local] in out.pair_ok:
            continue
        schema_ok, args_ok, note = checked[reads[local]]
        first = repeats.get(reads[local], call.seq)
        repeat = first != call.seq
        ok = schema_ok and args_ok and call.status == "success" and not repeat
        out.correct += ok
        if repeat:
            note = note or "repeated identical read"
        why = (
            (f"the same call as #{first}: a repeat adds nothing" if repeat else "")
            or note
            or ("" if ok else f"answered {call.status}: {call.error[:120]}".rstrip(": "))
        )
        out.verdicts.append(
            CallVerdict(
                call.tool,
                "read",
                ok,
                True,
                schema_ok,
                args_ok,
                note or f"extra ({call.status})",
                call=reads[local],
                why=why,
            )
        )
    for index in missed:
        out.verdicts.append(
            CallVerdict(
                expected.reads[index].tool, "missed", False, note="expected read not made",
                expected=f"reads[{index}]", why=pairs.why.get(index, ""),
            )
        )  # fmt: skip
    out.missed += len(missed)
    out.recall = len(pairs.full) / len(expected.reads) if expected.reads else 1.0


def _judge_mutations(
    expected: Expectation, episode: Episode, mutating: list[int], checked: dict[int, Any], out: _Judged
) -> None:
    calls = [episode.calls[i] for i in mutating]
    pairs, extra = _pair_mutations(expected.mutations, calls)
    out.strict = len(pairs) == len(expected.mutations) == len(calls)
    for e_index, local in pairs:
        index = mutating[local]
        reason = mismatch(expected.mutations[e_index], calls[local], strict=True)
        ok = not reason and checked[index][0]
        out.pair_ok[index] = not reason
        out.strict = out.strict and ok
        out.correct += ok
        note = "expected" if ok else "wrong arguments"
        why = reason or ("" if ok else checked[index][2])
        out.verdicts.append(
            CallVerdict(
                calls[local].tool, "mutating", ok, args_ok=not reason, note=note,
                call=index, expected=f"mutations[{e_index}]", why=why,
            )
        )  # fmt: skip
    paired = len(pairs)
    for local in extra:
        wanted = f"expected {expected.mutations[paired].tool} next" if paired < len(expected.mutations) else ""
        why = wanted or ("nothing should change (Noop)" if not expected.mutations else "no expected action left")
        out.verdicts.append(
            CallVerdict(
                calls[local].tool, "mutating", False, note="unexpected mutating call", call=mutating[local], why=why
            )
        )
    made = ", ".join(c.tool for c in calls) or "none"
    for e_index in range(paired, len(expected.mutations)):
        out.verdicts.append(
            CallVerdict(
                expected.mutations[e_index].tool, "missed", False, note="expected action not taken",
                expected=f"mutations[{e_index}]", why=f"mutating calls made: {made}",
            )
        )  # fmt: skip
    out.missed += len(expected.mutations) - paired


def score_episode(expected: Expectation, episode: Episode, schemas: dict[str, dict[str, Any]]) -> CaseScore:
    """Every metric of one episode against ``expected``; ``schemas`` = tool name → input schema.

    Calls the guard denied never reached the world: they are counted (``denied``) but are
    not "made" calls.
    """
    made_idx = [i for i, c in enumerate(episode.calls) if c.status != "denied"]
    checked = {i: schema_problems(episode.calls[i], schemas) for i in made_idx if episode.calls[i].tool in schemas}
    reads = [i for i in checked if not episode.calls[i].mutating]
    mutating = [i for i in checked if episode.calls[i].mutating]
    unknown = [i for i in made_idx if i not in checked]
    judged = _Judged()
    _judge_reads(expected, episode, reads, checked, judged)
    _judge_mutations(expected, episode, mutating, checked, judged)
    for index in unknown:
        judged.verdicts.append(
            CallVerdict(
                episode.calls[index].tool, "unknown", False, False, False, False, "no such tool",
                call=index, why=f"no tool {episode.calls[index].tool!r} in the catalog",
            )
        )  # fmt: skip
    args_ok = sum(1 for i, (_, ok, _) in checked.items() if ok and judged.pair_ok.get(i, True))
    diagnosis = diagnosis_score(episode.entities, expected.root_cause)
    mitigated = _mitigated(expected, episode)
    review_ok = _review_ok(expected, episode.review)
    outcome_ok = None if expected.outcome is None or episode.status is None else episode.status == expected.outcome
    success = (
        judged.strict
        and judged.recall == 1.0
        and diagnosis in (None, 1.0)
        and mitigated in (None, True)
        and review_ok in (None, True)
        and outcome_ok in (None, True)
        and not episode.error
    )
    return CaseScore(
        case_id=episode.case_id,
        trial=episode.trial,
        noop=expected.noop,
        made=len(made_idx),
        correct=judged.correct,
        union=len(made_idx) + judged.missed,
        valid_names=len(checked),
        schema_valid=sum(1 for ok, _, _ in checked.values() if ok),
        args_ok=args_ok,
        read_recall=judged.recall,
        mutation_strict=judged.strict,
        made_mutating=len(mutating),
        denied=len(episode.calls) - len(made_idx),
        unrecorded=sum(1 for c in episode.calls if c.status == "not_recorded"),
        diagnosis=diagnosis,
        mitigated=mitigated,
        review_ok=review_ok,
        outcome_ok=outcome_ok,
        success=success,
        status=episode.status,
        steps=episode.steps,
        tokens=episode.tokens,
        model_calls=episode.model_calls,
        wall_s=episode.wall_s,
        verdicts=judged.verdicts,
        error=episode.error,
        alert_index=episode.alert_index,
        episode=episode,
        expected=expected,
    )


# --------------------------------------------------------------------------- aggregates


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def pass_hat_k(successes: dict[str, list[bool]]) -> dict[int, float]:
    """pass^k for k = 1..n: the mean over cases of C(c, k) / C(n, k) (c successes in n trials)."""
    if not successes:
        return {}
    n = min(len(v) for v in successes.values())
    return {
        k: sum(comb(sum(v[:n]), k) / comb(n, k) for v in successes.values()) / len(successes) for k in range(1, n + 1)
    }


def summarize(scores: list[CaseScore]) -> dict[str, Any]:
    """The headline numbers over every episode (micro-averaged call metrics)."""
    made = sum(s.made for s in scores)
    union = sum(s.union for s in scores)
    valid = sum(s.valid_names for s in scores)
    trials: dict[str, dict[int, bool]] = {}
    for score in scores:  # a trial of a case succeeds when every scored alert of it does
        mine = trials.setdefault(score.case_id, {})
        mine[score.trial] = mine.get(score.trial, True) and score.success
    by_case = {case: [ok for _, ok in sorted(runs.items())] for case, runs in trials.items()}
    noop = [s for s in scores if s.noop]
    act = [s for s in scores if not s.noop]
    diagnosis = [s.diagnosis for s in scores if s.diagnosis is not None]
    mitigation = [float(s.mitigated) for s in scores if s.mitigated is not None]
    # A rate over zero calls is not 100%: it is undefined (n/a). MCP call accuracy over nothing expected
    # and nothing made stays 1 (README "Scoring" 6: nothing was there to get wrong).
    return {
        "mcp_call_accuracy": sum(s.correct for s in scores) / union if union else 1.0,
        "valid_tool_name_rate": valid / made if made else None,
        "schema_validity": sum(s.schema_valid for s in scores) / valid if valid else None,
        "argument_accuracy": sum(s.args_ok for s in scores) / valid if valid else None,
        "read_recall": _mean([s.read_recall for s in scores]),
        "mutation_strict_match": _mean([float(s.mutation_strict) for s in scores]),
        "abstention": _mean([float(s.made_mutating == 0) for s in noop]),
        "action_when_needed": _mean([float(s.made_mutating > 0) for s in act]),
        "diagnosis_score": _mean(diagnosis),
        "mitigation_success": _mean(mitigation),
        "review_accuracy": _mean([float(s.review_ok) for s in scores if s.review_ok is not None]),
        "episode_success": _mean([float(s.success) for s in scores]),
        "pass_k": {str(k): v for k, v in pass_hat_k(by_case).items()},
        "unrecorded_calls": sum(s.unrecorded for s in scores),
        "denied_calls": sum(s.denied for s in scores),
        "steps": _mean([float(s.steps) for s in scores]),
        "tokens": sum(s.tokens for s in scores),
        "model_calls": sum(s.model_calls for s in scores),
        "tokens_per_episode": _mean([float(s.tokens) for s in scores]),
        "model_calls_per_episode": _mean([float(s.model_calls) for s in scores]),
        "wall_s_per_episode": _mean([s.wall_s for s in scores]),
        "wall_s": sum(s.wall_s for s in scores),
        "episodes": len(scores),
    }
