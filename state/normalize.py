"""Intake normalisation: a payload becomes something every store, checkpoint and page can hold.

What the intake accepts must be checkpointable (msgpack: integers within 64 bits), storable
(PostgreSQL JSON: no NaN), showable (the API's JSON) and bounded (nesting, string sizes), or
an accepted alert is lost later. So, at the edge:

- integers outside ±2^53 (what a JSON number can carry exactly to every reader) become
  their decimal string: nothing is lost and nothing overflows;
- ``NaN``/``Infinity`` literals (not JSON by RFC 8259, though Python's parser takes them)
  are refused naming the field; a numeric *string* that reads as NaN/Infinity in a field
  alertpilot computes with is dropped (None) and the alert says so (``normalised``);
- nesting deeper than :data:`MAX_DEPTH` is refused naming where; a NUL character (no
  PostgreSQL text column takes one) becomes U+FFFD;
- times are refused outside [:data:`EARLIEST`, :data:`LATEST`); the zero time
  (``0001-01-01T00:00:00Z``, which Grafana sends as ``startsAt``) means "not known" and
  becomes the time the payload was received (a parameter, so a simulated clock passes its own).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

MAX_DEPTH = 32
SAFE_INT = 2**53
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
ZERO_TIMES = frozenset({"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z", "0001-01-01T00:00:00+00:00"})


class Unsafe(ValueError):
    """A value no store can keep; ``path`` names where it is."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


class _NotANumber:
    """What a ``NaN``/``Infinity`` literal decodes to, so the walk can name where it was."""

    def __init__(self, text: str) -> None:
        self.text = text


def not_a_number(text: str) -> _NotANumber:
    """``json.loads(parse_constant=...)``: keep the literal for :func:`json_safe` to refuse by path."""
    return _NotANumber(text)


def json_safe(value: Any, path: str = "body", depth: int = 0) -> Any:
    """``value`` with big integers as strings; :class:`Unsafe` for NaN/Infinity or too deep a nesting."""
    if depth > MAX_DEPTH:
        raise Unsafe(path, f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {
            _text(str(k)): json_safe(v, f"{path}.{k}" if path != "body" else str(k), depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, list):
        return [json_safe(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, _NotANumber):
        raise Unsafe(path, f"{value.text} is not a JSON number")
    if isinstance(value, float) and not math.isfinite(value):
        raise Unsafe(path, f"{value} is not a JSON number")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= SAFE_INT:
        return str(value)
    return value


def _text(value: str) -> str:
    """A string PostgreSQL can store: NUL (which no text column accepts) becomes U+FFFD."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def finite(value: float | None) -> float | None:
    """``value`` when it is a finite number, else None (NaN/Infinity read from a string)."""
    return value if value is None or math.isfinite(value) else None


def in_range(parsed: datetime, field: str) -> datetime:
    """``parsed`` when alertpilot can compute with it, else :class:`Unsafe` naming ``field``."""
    if not EARLIEST <= parsed < LATEST:
        raise Unsafe(field, f"{parsed.isoformat()} is outside {EARLIEST:%Y}-{LATEST:%Y}")
    return parsed
