"""Classify log records by content and fold errors into normalized signatures, in one streaming pass.

Kinds (by content, never by file name):

- ``audit``: a Kubernetes audit event (``apiVersion: audit.k8s.io/v1``);
- ``event``: a core/v1 (or events.k8s.io/v1) ``Event`` about an object;
- ``business``: an application log record with a level and a message;
- ``standard``: everything else: access logs, plain stdout, JSON without a level.

Error signatures are error messages with numbers, ids, addresses and hex normalized
away, so ``order 123 failed`` and ``order 456 failed`` count as one. Memory is bounded:
at most ``max_signatures`` distinct signatures are kept (the rest are counted as
overflow), so a pass over a terabyte holds the same state as a pass over a kilobyte.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from tools.logs.records import NotJson, decode, first_text, iso, record_time, to_epoch, where

Kind = Literal["business", "event", "audit", "standard"]
KINDS: tuple[Kind, ...] = ("business", "event", "audit", "standard")
LEVEL_KEYS = ("level", "severity", "lvl", "log_level", "levelname", "loglevel")
MESSAGE_KEYS = ("message", "msg", "error", "err", "content", "log")
ERROR_LEVELS = frozenset(
    {"error", "err", "fatal", "critical", "crit", "panic", "alert", "emerg", "emergency", "severe"}
)
_TEXT_ERROR = re.compile(rb"\b(?:ERROR|FATAL|PANIC|CRITICAL|SEVERE)\b")
_ERROR_BYTES = frozenset(level.encode() for level in ERROR_LEVELS)
# Byte scans for the fast path; ``\\?"`` also matches keys inside escaped JSON strings.
_LEVEL = re.compile(rb'"(?:level|severity|lvl|log_level|levelname|loglevel)\\?"\s*:\s*(?:\\?")?([A-Za-z]+|\d+)')
_LEVEL_AT = re.compile(rb'(?:level|severity)(?:name)?\\?"\s*:\s*(?:\\?")?([A-Za-z]+|\d+)')
_SPECIAL = (b"Event", b"k8s.io/")
_MESSAGE = re.compile(rb'"(?:message|msg|error|err|content|log)\\?"\s*:\s*(?:\\?")?[^"\\,}\s]')
# Each normalizer with a cheap test its pattern needs to match (None: always run), in order.
_NORMALIZERS: tuple[tuple[re.Pattern[str], str, Callable[[str], object] | None], ...] = (
    (
        re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        "<uuid>",
        lambda text: "-" in text,
    ),
    (re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"), "<ip>", lambda text: "." in text),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>", lambda text: "0x" in text),
    (
        re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"),
        "<hex>",
        re.compile(r"[0-9a-fA-F]{8}").search,
    ),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>", None),
)
MAX_SIGNATURE = 240
MAX_EXAMPLE = 500
MAX_ISSUES = 50
RecordHook = Callable[[Kind, dict[str, Any]], None]


def classify(record: dict[str, Any]) -> Kind:
    """The kind of a decoded JSON record."""
    api = record.get("apiVersion")
    if isinstance(api, str) and api.startswith("audit.k8s.io/"):
        return "audit"
    if record.get("kind") == "Event" and ("involvedObject" in record or "regarding" in record):
        return "event"
    if first_text(record, MESSAGE_KEYS) is not None and any(record.get(k) is not None for k in LEVEL_KEYS):
        return "business"
    return "standard"


def is_error_level(value: Any) -> bool:
    """Whether a level value means error or worse (names, or pino/bunyan numbers ≥ 50)."""
    if isinstance(value, str):
        return value.strip().lower() in ERROR_LEVELS
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 50


def signature_of(message: str) -> str:
    """``message`` with numbers, ids, IPs and hex replaced by placeholders, whitespace runs as one space."""
    text = message[: MAX_SIGNATURE * 4]
    for pattern, placeholder, needed in _NORMALIZERS:
        if needed is None or needed(text):  # a pattern that cannot match is not run
            text = pattern.sub(placeholder, text)
    return " ".join(text.split())[:MAX_SIGNATURE]  # = re.sub(r"\s+", " ", text).strip()


@dataclass
class Signature:
    """One normalized error message and where/when it was seen."""

    signature: str
    count: int = 0
    first_seen: float | None = None
    last_seen: float | None = None
    example: str = ""
    workloads: dict[str, int] = field(default_factory=dict)

    def add(self, when: float | None, message: str, namespace: str | None, workload: str | None) -> None:
        """Count one occurrence."""
        self.count += 1
        if not self.example:
            self.example = message[:MAX_EXAMPLE]
        if when is not None:
            if self.first_seen is None or when < self.first_seen:
                self.first_seen = when
            if self.last_seen is None or when > self.last_seen:
                self.last_seen = when
        if workload and (workload in self.workloads or len(self.workloads) < 20):
            key = f"{namespace}/{workload}" if namespace else workload
            self.workloads[key] = self.workloads.get(key, 0) + 1

    def public(self) -> dict[str, Any]:
        """The CLI/tool shape: signature, count, first_seen, last_seen, example."""
        return {
            "signature": self.signature,
            "count": self.count,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "example": self.example,
        }


@dataclass
class LogSummary:
    """Counts per kind, error signatures, and what could not be read, for one pass."""

    max_signatures: int = 10_000
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    errors: int = 0
    malformed: int = 0
    overflow: int = 0
    signatures: dict[str, Signature] = field(default_factory=dict)
    issues: list[str] = field(default_factory=list)

    def issue(self, problem: str) -> None:
        """Note a problem reading the input (bounded; later ones are only counted)."""
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(problem)
        elif len(self.issues) == MAX_ISSUES:
            self.issues.append("further problems not listed")

    def error(self, message: str, when: float | None, namespace: str | None, workload: str | None) -> None:
        """Count an error occurrence under its signature."""
        self.errors += 1
        key = signature_of(message)
        entry = self.signatures.get(key)
        if entry is None:
            if len(self.signatures) >= self.max_signatures:
                self.overflow += 1
                return
            entry = self.signatures[key] = Signature(key)
        entry.add(when, message, namespace, workload)

    def ranked(self, top: int | None = None) -> list[Signature]:
        """Signatures, most frequent first (then earliest)."""
        ordered = sorted(self.signatures.values(), key=lambda s: (-s.count, s.first_seen or 0.0, s.signature))
        return ordered[:top] if top else ordered

    def public(self, top: int | None = None) -> dict[str, Any]:
        """``{"counts", "errors", "signatures"}``: the ``logs classify --json`` document."""
        return {
            "counts": dict(self.counts),
            "errors": self.errors,
            "signatures": [s.public() for s in self.ranked(top)],
        }


def _text_error(line: bytes, summary: LogSummary) -> None:
    text = line.decode("utf-8", "replace").strip()
    when = to_epoch(text[:35].split(" ")[0]) if text[:1].isdigit() else None
    summary.error(text, when, None, None)


def _exact(summary: LogSummary, source: str, line: bytes, hook: RecordHook | None) -> None:
    """Decode ``line`` fully and classify it (the slow path: events, audit, errors, doubtful lines)."""
    try:
        record = decode(line)
    except NotJson as exc:
        summary.malformed += 1
        summary.counts["standard"] += 1
        if summary.malformed <= 3:
            summary.issue(f"{source}: a line is not valid JSON, counted as standard: {str(exc)[:80]!r}")
        return
    if record is None:
        summary.counts["standard"] += 1
        if _TEXT_ERROR.search(line, 0, 200):
            _text_error(line, summary)
        return
    kind = classify(record)
    summary.counts[kind] += 1
    if kind == "business" and is_error_level(next((record[k] for k in LEVEL_KEYS if k in record), None)):
        namespace, _pod, workload = where(record)
        summary.error(first_text(record, MESSAGE_KEYS) or "", record_time(record), namespace, workload)
    if hook is not None and kind != "standard":
        hook(kind, record)


def _marked(block: bytes, tokens: tuple[bytes, ...]) -> set[int]:
    """Indexes of the lines of ``block`` that contain any of ``tokens`` (block-wide scans, no per-line work)."""
    marked: set[int] = set()
    for token in tokens:
        pos = block.find(token)
        line_no, last = 0, 0
        while pos >= 0:
            line_no += block.count(b"\n", last, pos)
            last = pos
            marked.add(line_no)
            end = block.find(b"\n", pos)
            if end < 0:
                break
            pos = block.find(token, end)
    return marked


def _fast_kind(line: bytes, special: bool, hook: RecordHook | None) -> Kind | None:
    """The kind of a JSON-looking line from byte scans alone; None when only a full decode can tell.

    ``special`` lines mention ``Event`` or ``k8s.io/``. Business errors, events and audit
    records while ``hook`` wants them decoded, and anything that does not end like a JSON
    object return None.
    """
    if not line.endswith(b"}"):
        return None
    if special:
        if hook is not None:
            return None
        at = line.find(b"audit.k8s.io/")
        if at > 0 and b"apiVersion" in line[max(0, at - 20) : at]:
            return "audit"
        at = line.find(b"Event")
        if at > 0 and b"kind" in line[max(0, at - 12) : at] and b"involvedObject" in line:
            return "event"
        return None
    at = line.find(b"level")
    if at < 0:
        at = line.find(b"severity")
        if at < 0:
            return "standard"
    level = _LEVEL_AT.match(line, at) or _LEVEL.search(line)
    if level is None:
        return None  # "level" is there but its value is no plain word or number: let the decoder tell
    value = level[1].lower()
    if value in _ERROR_BYTES or value == b"null" or (value.isdigit() and int(value) >= 50):
        return None
    if b"message" in line or b"msg" in line or _MESSAGE.search(line):
        return "business"
    return "standard"


def feed_block(summary: LogSummary, source: str, block: bytes, hook: RecordHook | None = None) -> None:
    """Classify every line of one block of whole lines into ``summary``.

    Most lines never need a full decode: block-wide scans mark the few lines that may be
    events or audit records, byte scans find the level of the rest, and only lines that
    may be errors (or that do not end like a JSON object) take the exact path.
    """
    counts = summary.counts
    text_error = _TEXT_ERROR.search
    tally = dict.fromkeys(KINDS, 0)
    marked = _marked(block, _SPECIAL)
    for index, line in enumerate(block.split(b"\n")):
        if line[:1] != b"{":
            if not line or line.isspace():
                continue
            if line[:1] in b" \t\r\x0b\x0c":
                _exact(summary, source, line, hook)
                continue
            tally["standard"] += 1
            if text_error(line, 0, 200):
                _text_error(line, summary)
            continue
        kind = _fast_kind(line, index in marked, hook)
        if kind is None:
            _exact(summary, source, line, hook)
        else:
            tally[kind] += 1
    for kind, n in tally.items():
        counts[kind] += n


def feed(summary: LogSummary, blocks: Iterable[tuple[str, bytes]], hook: RecordHook | None = None) -> LogSummary:
    """Classify every line of ``(source, block)`` pairs into ``summary``.

    See :func:`feed_block`; ``hook`` sees every event, audit and business-error record, decoded.
    """
    for source, block in blocks:
        feed_block(summary, source, block, hook)
    return summary


def feed_exact(summary: LogSummary, blocks: Iterable[tuple[str, bytes]], hook: RecordHook | None = None) -> LogSummary:
    """The simple reference pass: every non-blank line fully decoded (what :func:`feed` must equal)."""
    for source, block in blocks:
        for line in block.split(b"\n"):
            if line and not line.isspace():
                _exact(summary, source, line, hook)
    return summary
