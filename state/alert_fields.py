"""Reading the fields of a sender's payload: typed, bounded, in range, or refused naming the field.

The parsers of state/alert.py read every field through these, so a wrong type, a number
that is not one, or a time outside what alertpilot can compute with is an
:class:`AlertParseError` naming the field (a 4xx, exit 2), never a traceback.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlparse

from state.normalize import ZERO_TIMES, Unsafe, finite, in_range


class AlertParseError(ValueError):
    """A payload that is not a valid alert; ``field`` names what is wrong."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def as_object(value: Any, field: str) -> dict[str, Any]:
    """``value`` when it is a JSON object, else AlertParseError naming ``field``."""
    if not isinstance(value, dict):
        raise AlertParseError(field, f"expected an object, got {type(value).__name__}")
    return value


def str_map(value: Any, field: str) -> dict[str, str]:
    """A flat string map (labels, annotations): scalars become strings; nested values are refused."""
    if value is None:
        return {}
    mapping = as_object(value, field)
    out: dict[str, str] = {}
    for key, item in mapping.items():
        if isinstance(item, dict | list):
            raise AlertParseError(f"{field}.{key}", "expected a string value")
        out[str(key)] = "" if item is None else str(item)
    return out


def required_str(data: dict[str, Any], key: str, field: str) -> str:
    """``data[key]`` as a string; AlertParseError when missing or not a scalar."""
    value = data.get(key)
    if value is None or value == "":
        raise AlertParseError(field, "is required")
    if not isinstance(value, str | int | float):
        raise AlertParseError(field, f"expected a string, got {type(value).__name__}")
    return str(value)


def lenient_float(value: Any, field: str, notes: list[str] | None = None) -> float | None:
    """A number that may arrive as a string; NaN/Infinity is dropped (None) and noted in ``notes``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise AlertParseError(field, f"expected a number, got {type(value).__name__}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise AlertParseError(field, f"expected a number, got {str(value)[:40]!r}") from None
    if finite(number) is None:
        if notes is not None:
            notes.append(f"{field}: {str(value)[:20]!r} is not a finite number; dropped")
        return None
    return number


def lenient_int(value: Any, field: str) -> int | None:
    """An integer that may arrive as a string or a float (see :func:`lenient_float`)."""
    number = lenient_float(value, field)
    return None if number is None else int(number)


def parse_time(value: Any, field: str, *, naive_tz: timezone = UTC, received: datetime | None = None) -> datetime:
    """Parse RFC 3339, ``YYYY-MM-DD HH:MM:SS`` or a Unix time (s or ms) into aware UTC.

    The zero time (``0001-01-01T00:00:00Z``: "not set" in Go, which Grafana sends) is the
    time the payload was ``received``; any other time outside 1970-2200 is refused naming ``field``.
    """
    if isinstance(value, str) and value.strip() in ZERO_TIMES:
        return received or datetime.now(UTC)
    try:
        return in_range(_read_time(value, field, naive_tz), field)
    except Unsafe as exc:
        raise AlertParseError(exc.path, exc.problem) from None


def _read_time(value: Any, field: str, naive_tz: timezone) -> datetime:
    if isinstance(value, bool):
        raise AlertParseError(field, "expected a timestamp, got a boolean")
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            seconds = float(value)
            if seconds > 1e11:  # milliseconds
                seconds /= 1000
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise AlertParseError(field, f"not a Unix time: {str(value)[:40]!r}") from None
    if not isinstance(value, str) or not value.strip():
        raise AlertParseError(field, "expected a timestamp")
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=naive_tz)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise AlertParseError(field, f"not a timestamp: {value[:40]!r}") from None


def rfc3339(text: str) -> datetime | None:
    """An RFC 3339 time as Kubernetes and audit records write it (``Z`` or an offset; naive = UTC), or None."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def stable_hash(*parts: str) -> str:
    """A short, stable digest of ``parts`` (a fingerprint for senders that send none)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def normalize_severity(value: Any) -> str:
    """A sender's severity in alertpilot's words (critical, warning, info), at most 32 characters."""
    text = ("" if value is None else str(value)).strip().lower()[:32]
    aliases = {
        "crit": "critical", "fatal": "critical", "p0": "critical", "p1": "critical",
        "error": "critical", "high": "critical", "严重": "critical", "紧急": "critical",
        "warn": "warning", "p2": "warning", "medium": "warning", "警告": "warning",
        "p3": "info", "low": "info", "notice": "info", "提示": "info",
    }  # fmt: skip
    return aliases.get(text, text or "warning")


def expression_from_generator_url(url: Any) -> str | None:
    """The PromQL in a Prometheus ``generatorURL`` (``g0.expr``), if any."""
    if not url or not isinstance(url, str):
        return None
    query = parse_qs(urlparse(url).query)
    for key in ("g0.expr", "expr"):
        if query.get(key):
            return query[key][0]
    return None
