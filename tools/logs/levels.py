"""Levels in any common spelling, and errors told by content when a record has no level.

Words in any case (``ERROR``, ``error``, ``Err``, ``E``, ``fatal``, ``panic``, ``crit``,
``emerg``, ``severe``, ``dpanic``, Java's ``SEVERE``/``FINE``, .NET's ``Information``...).
Numbers by the key that holds them: pino/bunyan ``level`` (50 error, 60 fatal), Python
``levelno`` (40 error, 50 critical), OpenTelemetry ``severity_number`` (17-20 error, 21-24
fatal), syslog ``priority``/``PRIORITY`` and small ``severity`` numbers (0-3 error or worse),
Google Cloud ``severity`` numbers (500 error and up).
"""

from __future__ import annotations

import re
from typing import Any

ERRORISH = frozenset({"error", "fatal", "panic", "critical", "alert", "emergency"})
_WORDS = {
    "error": "error", "err": "error", "eror": "error", "e": "error", "erro": "error", "severe": "error",
    "fatal": "fatal", "f": "fatal", "fatl": "fatal", "dpanic": "panic", "panic": "panic",
    "critical": "critical", "crit": "critical", "c": "critical",
    "alert": "alert", "emerg": "emergency", "emergency": "emergency",
    "warn": "warn", "warning": "warn", "w": "warn", "wrn": "warn", "warni": "warn",
    "notice": "notice", "n": "notice",
    "info": "info", "information": "info", "informational": "info", "i": "info", "inf": "info", "informative": "info",
    "debug": "debug", "d": "debug", "dbg": "debug", "debu": "debug", "fine": "debug", "config": "debug",
    "trace": "trace", "t": "trace", "trc": "trace", "verbose": "trace", "v": "trace", "finer": "trace",
    "finest": "trace", "default": "info",
}  # fmt: skip
QUIET = frozenset(level.encode() for level, norm in _WORDS.items() if norm not in ERRORISH and len(level) > 1)
_SYSLOG = ("emergency", "alert", "critical", "error", "warn", "notice", "info", "debug")
# Key -> how to read a number held there (the key's own convention).
NUMERIC = {
    "level": "pino", "lvl": "pino", "levelno": "python", "levelNo": "python",
    "severity_number": "otel", "severityNumber": "otel", "SeverityNumber": "otel",
    "priority": "syslog", "PRIORITY": "syslog", "syslog_severity": "syslog", "severity": "severity",
}  # fmt: skip
LEVEL_KEYS = (  # in the order read: the byte-scan tier reads "level"/"levelname" and relies on them coming first
    "level", "levelname", "severity", "lvl", "log_level", "loglevel", "log.level", "levelno", "severity_text",
    "severityText", "SeverityText", "severity_number", "severityNumber", "SeverityNumber", "@l", "LogLevel",
    "Level", "priority", "PRIORITY", "syslog_severity",
)  # fmt: skip
_CONTENT_ERROR = re.compile(
    r"\b(?:ERROR|FATAL|PANIC|CRITICAL|SEVERE)\b|Exception\b|Traceback \(most recent call last\)"
    r"|^panic: |错误|异常|失败|严重|致命|报错"
)


def _number(value: float, how: str) -> str | None:
    if how == "pino":
        if value <= 7:
            how = "syslog"
        else:
            return ("trace", "debug", "info", "warn", "error", "fatal")[min(max(int(value) // 10 - 1, 0), 5)]
    if how == "python":
        return ("debug", "debug", "info", "warn", "error", "critical")[min(max(int(value) // 10, 0), 5)]
    if how == "otel":
        return ("trace", "debug", "info", "warn", "error", "fatal")[min(max((int(value) - 1) // 4, 0), 5)]
    if how == "severity" and value >= 100:  # google.logging.type.LogSeverity
        return ("info", "debug", "info", "notice", "warn", "error", "critical", "alert", "emergency")[
            min(int(value) // 100, 8)
        ]
    if 0 <= value <= 7:
        return _SYSLOG[int(value)]
    return None


def normalize(value: Any, key: str = "level") -> str | None:
    """The level ``value`` (held under ``key``) means: error, fatal, warn, info, ...; None when unknown."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _number(float(value), NUMERIC.get(key, "pino"))
    if isinstance(value, str):
        word = value.strip().lower()
        found = _WORDS.get(word)
        if found is None and word.isdigit():
            return _number(float(word), NUMERIC.get(key, "pino"))
        return found
    return None


def level_of(record: dict[str, Any]) -> tuple[str | None, bool]:
    """``(normalized level, whether a level key is present)`` of a decoded record."""
    for key in LEVEL_KEYS:
        value = record.get(key)
        if value is not None:
            found = normalize(value, key)
            if found is not None:
                return found, True
            if key in ("level", "severity", "levelname", "lvl", "log_level", "loglevel"):
                return None, True  # a level key with a value we do not know: still a level
    nested = record.get("log")  # Elastic Common Schema as Filebeat nests it: {"log": {"level": ...}}
    if isinstance(nested, dict) and nested.get("level") is not None:
        return normalize(nested["level"]), True
    return None, False


def is_error(level: str | None) -> bool:
    """Whether a normalized level is error or worse."""
    return level in ERRORISH


_CONTENT_WORDS = ("ERROR", "FATAL", "PANIC", "CRITICAL", "SEVERE", "Exception", "Traceback", "panic: ")
_CONTENT_WORDS_ZH = ("错误", "异常", "失败", "严重", "致命", "报错")


def content_error(text: str) -> bool:
    """Whether a record without a level says it is an error (English or Chinese)."""
    head = text if len(text) <= 2000 else text[:2000]
    for word in _CONTENT_WORDS if head.isascii() else _CONTENT_WORDS + _CONTENT_WORDS_ZH:
        if word in head:  # substring tests first: the regex is slow
            return _CONTENT_ERROR.search(head) is not None
    return False
