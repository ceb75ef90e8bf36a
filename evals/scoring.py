"""Score one episode against its case's expectations; aggregate scores over cases and trials.

Every rule here is stated in evals/README.md ("Scoring"); this module is that text as
code, pure functions over an :class:`Episode` (what the agent did and how the world
ended) and an :class:`~evals.case.Expectation`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from math import comb
from typing import Any

from evals.case import CallExpectation, Expectation
from state.incident import ToolCall

TIME_TOLERANCE_S = 60.0
IGNORED_MUTATING_ARGS = frozenset({"idempotency_key"})


@dataclass
class Episode:
    """What one run of a case produced."""

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
    wall_s: float = 0.0
    error: str = ""
    answered: dict[str, int] = field(default_factory=dict)  # prometheus world: metrics reads per answering side
    offset_s: int = 0  # prometheus world: seconds every time in the case moved (time matchers move with it)


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
    error: str = ""

    @property
    def accuracy(self) -> float:
        """MCP call accuracy of this episode (1.0 when nothing was expected or made)."""
        return self.correct / self.union if self.union else 1.0


# --------------------------------------------------------------------------- matchers


def normalize_text(value: Any) -> str:
    """Free text compared case- and punctuation-insensitively (NFKC, lower, punctuation → space)."""
    text = unicodedata.normalize("NFKC", str(value)).lower()
    return " ".join(re.sub(r"[^\w.\-/:]+|(?<!\w)[.\-/:]|[.\-/:](?!\w)", " ", text).split())


def _when(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def match_value(matcher: Any, actual: Any) -> bool:
    """Whether ``actual`` satisfies one argument ``matcher`` (see CallExpectation)."""
    if isinstance(matcher, dict) and len(matcher) in (1, 2) and set(matcher) - {"tolerance_s"}:
        kind = next(k for k in matcher if k != "tolerance_s")
        want = matcher[kind]
        match kind:
            case "exact":
                return bool(actual == want)
            case "text":
                return normalize_text(actual) == normalize_text(want)
            case "number":
                got = _number(actual)
                return got is not None and got == float(want)
            case "time":
                got, expected = _when(actual), _when(want)
                tolerance = float(matcher.get("tolerance_s", TIME_TOLERANCE_S))
                return got is not None and expected is not None and abs(got - expected) <= tolerance
            case "promql":
                return isinstance(actual, str) and re.sub(r"\s+", "", actual) == re.sub(r"\s+", "", str(want))
            case "contains":
                return isinstance(actual, str) and str(want) in actual
            case "any":
                return actual is not None
        raise ValueError(f"unknown matcher {kind!r}")
    if matcher is None:
        return actual is None
    if isinstance(matcher, bool):
        return actual is matcher
    if isinstance(matcher, int | float):
        got = _number(actual)
        return got is not None and got == float(matcher)
    return bool(actual == matcher)  # identifiers: exact


def args_match(expected: CallExpectation, call: ToolCall, *, strict: bool) -> bool:
    """Whether ``call`` carries every expected argument (and, when ``strict``, nothing else)."""
    for name, matcher in expected.args.items():
        absent_ok = matcher is None and name not in call.args
        if not absent_ok and (name not in call.args or not match_value(matcher, call.args[name])):
            return False
    if strict:
        made = {k for k, v in call.args.items() if k not in IGNORED_MUTATING_ARGS and v is not None}
        return made == {k for k, v in expected.args.items() if v is not None}
    return True


# --------------------------------------------------------------------------- schema checks


def schema_problems(call: ToolCall, schemas: dict[str, dict[str, Any]]) -> tuple[bool, bool, str]:
    """(schema_valid, args_ok, note) of ``call`` against its tool's input JSON schema."""
    import jsonschema

    schema = schemas[call.tool]
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(call.args), key=lambda e: list(e.path))
    properties = set(schema.get("properties", {}))
    outside = sorted(set(call.args) - properties) if properties or "properties" in schema else []
    missing = [r for r in schema.get("required", []) if r not in call.args]
    note = "; ".join(
        [*(f"schema: {e.message}" for e in errors[:1]), *(f"unknown argument {k}" for k in outside[:2])]
        + [f"missing {m}" for m in missing[:2]]
    )
    return not errors, not outside and not missing and not errors, note


# --------------------------------------------------------------------------- one episode


def _pair_reads(
    expected: list[CallExpectation], made: list[ToolCall]
) -> tuple[dict[int, int], dict[int, int], list[int]]:
    """(full matches, partial pairs, missed) between expected reads and made read calls (indices)."""
    full: dict[int, int] = {}
    taken: set[int] = set()
    for e_index, want in enumerate(expected):
        for m_index, call in enumerate(made):
            if m_index not in taken and call.tool == want.tool and args_match(want, call, strict=False):
                full[e_index] = m_index
                taken.add(m_index)
                break
    partial: dict[int, int] = {}
    for e_index, want in enumerate(expected):
        if e_index in full:
            continue
        for m_index, call in enumerate(made):
            if m_index not in taken and call.tool == want.tool:
                partial[e_index] = m_index
                taken.add(m_index)
                break
    missed = [i for i in range(len(expected)) if i not in full and i not in partial]
    return full, partial, missed


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


def diagnosis_score(named: list[str], truth: list[str]) -> float | None:
    """0 if a true root-cause entity is missing, else the precision of the named entities."""
    if not truth:
        return None
    named_set = {normalize_text(n) for n in named if str(n).strip()}
    truth_set = {normalize_text(t) for t in truth}
    if not truth_set <= named_set:
        return 0.0
    return len(named_set & truth_set) / len(named_set)


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


def _judge_reads(
    expected: Expectation, episode: Episode, reads: list[int], checked: dict[int, Any], out: _Judged
) -> None:
    calls = [episode.calls[i] for i in reads]
    full, partial, missed = _pair_reads(expected.reads, calls)
    for local in full.values():
        ok = checked[reads[local]][0]
        out.pair_ok[reads[local]] = True
        out.correct += ok
        out.verdicts.append(CallVerdict(calls[local].tool, "read", ok, note="expected"))
    for local in partial.values():
        out.pair_ok[reads[local]] = False
        out.verdicts.append(CallVerdict(calls[local].tool, "read", False, args_ok=False, note="wrong arguments"))
    for local, call in enumerate(calls):
        if reads[local] in out.pair_ok:
            continue
        schema_ok, args_ok, note = checked[reads[local]]
        ok = schema_ok and args_ok and call.status == "success"
        out.correct += ok
        out.verdicts.append(
            CallVerdict(call.tool, "read", ok, True, schema_ok, args_ok, note or f"extra ({call.status})")
        )
    for index in missed:
        out.verdicts.append(CallVerdict(expected.reads[index].tool, "missed", False, note="expected read not made"))
    out.missed += len(missed)
    out.recall = len(full) / len(expected.reads) if expected.reads else 1.0


def _judge_mutations(
    expected: Expectation, episode: Episode, mutating: list[int], checked: dict[int, Any], out: _Judged
) -> None:
    calls = [episode.calls[i] for i in mutating]
    pairs, extra = _pair_mutations(expected.mutations, calls)
    out.strict = len(pairs) == len(expected.mutations) == len(calls)
    for e_index, local in pairs:
        matched = args_match(expected.mutations[e_index], calls[local], strict=True)
        ok = matched and checked[mutating[local]][0]
        out.pair_ok[mutating[local]] = matched
        out.strict = out.strict and ok
        out.correct += ok
        out.verdicts.append(
            CallVerdict(
                calls[local].tool, "mutating", ok, args_ok=matched, note="expected" if ok else "wrong arguments"
            )
        )
    for local in extra:
        out.verdicts.append(CallVerdict(calls[local].tool, "mutating", False, note="unexpected mutating call"))
    for e_index in range(len(pairs), len(expected.mutations)):
        out.verdicts.append(
            CallVerdict(expected.mutations[e_index].tool, "missed", False, note="expected action not taken")
        )
    out.missed += len(expected.mutations) - len(pairs)


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
            CallVerdict(episode.calls[index].tool, "unknown", False, False, False, False, "no such tool")
        )
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
        wall_s=episode.wall_s,
        verdicts=judged.verdicts,
        error=episode.error,
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
    by_case: dict[str, list[bool]] = {}
    for score in scores:
        by_case.setdefault(score.case_id, []).append(score.success)
    noop = [s for s in scores if s.noop]
    act = [s for s in scores if not s.noop]
    diagnosis = [s.diagnosis for s in scores if s.diagnosis is not None]
    mitigation = [float(s.mitigated) for s in scores if s.mitigated is not None]
    return {
        "mcp_call_accuracy": sum(s.correct for s in scores) / union if union else 1.0,
        "valid_tool_name_rate": valid / made if made else 1.0,
        "schema_validity": sum(s.schema_valid for s in scores) / valid if valid else 1.0,
        "argument_accuracy": sum(s.args_ok for s in scores) / valid if valid else 1.0,
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
        "wall_s": sum(s.wall_s for s in scores),
        "episodes": len(scores),
    }
