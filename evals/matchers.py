"""Argument matchers of expected calls (evals/README.md "Argument matchers"), and why a call misses one.

Pure functions: :func:`match_value` judges one argument, :func:`mismatch` says in one
line why a made call does not satisfy an expected one (empty when it does), which the
scorer keeps beside every pairing so a report can say *why* a call was not credited.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from evals.case import CallExpectation
from state.incident import ToolCall

TIME_TOLERANCE_S = 60.0
IGNORED_MUTATING_ARGS = frozenset({"idempotency_key"})


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


def _one_key(matcher: Any) -> bool:
    return isinstance(matcher, dict) and len(matcher) in (1, 2) and bool(set(matcher) - {"tolerance_s"})


def match_value(matcher: Any, actual: Any) -> bool:
    """Whether ``actual`` satisfies one argument ``matcher`` (see CallExpectation)."""
    if _one_key(matcher):
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


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mismatch(expected: CallExpectation, call: ToolCall, *, strict: bool) -> str:
    """Why ``call`` does not carry the expected arguments (and, when ``strict``, nothing else); "" if it does.

    The tool names are the caller's to compare (pairing is by tool name first).
    """
    for name, matcher in expected.args.items():
        if matcher is None and name not in call.args:
            continue
        if name not in call.args:
            return f"{name}: missing, expected {_short(matcher)}"
        if not match_value(matcher, call.args[name]):
            return f"{name}: {_short(call.args[name])} does not match {_short(matcher)}"
    if strict:
        made = {k for k, v in call.args.items() if k not in IGNORED_MUTATING_ARGS and v is not None}
        wanted = {k for k, v in expected.args.items() if v is not None}
        extra = sorted(made - wanted)
        if extra:
            return f"unexpected argument {extra[0]}={_short(call.args[extra[0]])}"
        missing = sorted(wanted - made)
        if missing:
            return f"{missing[0]}: missing"
    return ""


def args_match(expected: CallExpectation, call: ToolCall, *, strict: bool) -> bool:
    """Whether ``call`` carries every expected argument (and, when ``strict``, nothing else)."""
    return not mismatch(expected, call, strict=strict)


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
