"""Classify log records and fold errors into signatures, in one streaming pass: the one classifier.

Every caller (``logs classify``, ``classify_logs``, ``trace_chain``, the assistant, the
parallel path) goes through :func:`feed_block`, so the same input gives the same counts
everywhere. Records are read by :mod:`tools.logs.records` / :mod:`tools.logs.lines`;
kinds and errors are defined there.

Speed: most lines never become a record. :func:`tools.logs.fastpath.quiet_lines` counts
JSON lines at a known non-error level from whole-block byte scans; events and audit
records are counted from their ``apiVersion``/``kind`` bytes (decoded only for a hook);
level-less plain records are counted once decoded, without building a record
(:func:`tools.logs.records.plain_standard`). Everything else (errors, text, Docker/CRI
lines, numeric or unknown levels, wrappers) is read fully. ``feed_exact`` reads every line
through the record reader; tests hold the paths equal.

Signatures: :func:`tools.logs.signatures.key_of` per error (bounded: at most
``max_signatures`` distinct keys, the rest counted as ``overflow``), then
:func:`tools.logs.signatures.templates` groups the keys once, when the summary is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tools.logs.fastpath import quiet_lines
from tools.logs.identity import NOBODY, Identity, from_path
from tools.logs.layouts import excerpt
from tools.logs.lines import LineReader
from tools.logs.records import KINDS, Kind, NotJson, Record, decode, iso, plain_standard, read_object
from tools.logs.signatures import key_of, templates
from tools.logs.subject import Subject

MAX_EXAMPLE = 500
MAX_ISSUES = 50
RecordHook = Callable[[Kind, dict[str, Any]], None]


@dataclass
class Signature:
    """One error signature and where/when it was seen."""

    signature: str
    count: int = 0
    first_seen: float | None = None
    last_seen: float | None = None
    example: str = ""
    workloads: dict[str, int] = field(default_factory=dict)

    def add(self, when: float | None, example: str, who: Identity) -> None:
        """Count one occurrence."""
        self.count += 1
        if not self.example:
            self.example = excerpt(example, MAX_EXAMPLE)
        self.seen(when, when)
        if who.workload:
            key = f"{who.namespace}/{who.workload}" if who.namespace else who.workload
            self.tally(key, 1)

    def seen(self, first: float | None, last: float | None) -> None:
        """Widen first/last seen to include [first, last]."""
        if first is not None and (self.first_seen is None or first < self.first_seen):
            self.first_seen = first
        if last is not None and (self.last_seen is None or last > self.last_seen):
            self.last_seen = last

    def tally(self, workload: str, n: int) -> None:
        """Count ``n`` occurrences from ``workload`` (at most 20 workloads are named)."""
        if workload in self.workloads or len(self.workloads) < 20:
            self.workloads[workload] = self.workloads.get(workload, 0) + n

    def absorb(self, other: Signature) -> None:
        """Fold ``other`` (seen after this one's first occurrence) into this signature."""
        self.count += other.count
        if not self.example:
            self.example = other.example
        self.seen(other.first_seen, other.last_seen)
        for workload, n in other.workloads.items():
            self.tally(workload, n)

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
    """Counts per kind, error signatures, and what could not be read, for one pass.

    ``subject`` (optional) keeps only the records of one namespace/workload/pod/container
    (see :class:`tools.logs.subject.Subject`).
    """

    max_signatures: int = 10_000
    subject: Subject | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    errors: int = 0
    malformed: int = 0
    overflow: int = 0
    signatures: dict[str, Signature] = field(default_factory=dict)  # stage-1 key -> occurrences
    issues: list[str] = field(default_factory=list)

    def issue(self, problem: str) -> None:
        """Note a problem reading the input (bounded; later ones are only counted)."""
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(problem)
        elif len(self.issues) == MAX_ISSUES:
            self.issues.append("further problems not listed")

    def error(self, message: str, when: float | None, who: Identity = NOBODY, example: str | None = None) -> None:
        """Count an error occurrence under its signature key (``example``: the whole record, if longer)."""
        self.errors += 1
        key = key_of(message)
        entry = self.signatures.get(key)
        if entry is None:
            if len(self.signatures) >= self.max_signatures:
                self.overflow += 1
                return
            entry = self.signatures[key] = Signature(key)
        entry.add(when, example or message, who)

    def ranked(self, top: int | None = None) -> list[Signature]:
        """Signatures grouped into templates, most frequent first (then earliest)."""
        mapping = templates({key: s.count for key, s in self.signatures.items()})
        grouped: dict[str, Signature] = {}
        for key, entry in self.signatures.items():  # first-occurrence order: the example is the earliest
            template = mapping[key]
            into = grouped.get(template)
            if into is None:
                into = grouped[template] = Signature(template)
            into.absorb(entry)
        ordered = sorted(grouped.values(), key=lambda s: (-s.count, s.first_seen or 0.0, s.signature))
        return ordered[:top] if top else ordered

    def public(self, top: int | None = None) -> dict[str, Any]:
        """``{"counts", "errors", "signatures"}``: the ``logs classify --json`` document."""
        return {
            "counts": dict(self.counts),
            "errors": self.errors,
            "signatures": [s.public() for s in self.ranked(top)],
        }

    def add(self, record: Record, hook: RecordHook | None = None, source: str = "") -> None:
        """Count one record read from ``source`` (when it belongs to the subject, if there is one).

        ``hook`` also sees the cluster's other events and audit records (the node a pod ran on, the
        ConfigMap it mounts): context for the trace chain, not counts.
        """
        if self.subject is not None and not self.subject.owns(record.who, source):
            if hook is not None and record.fields is not None and record.kind in ("event", "audit"):
                hook(record.kind, record.fields)
            return
        self.counts[record.kind] += 1
        if record.error:
            self.error(record.message, record.when, record.who, record.text)
        if hook is not None and record.fields is not None and (record.kind in ("event", "audit") or record.error):
            hook(record.kind, record.fields)


NODE_OBJECT = (b'"kind":"Node"', b'"kind": "Node"')


def _bad_json(summary: LogSummary, source: str, line: bytes) -> None:
    if summary.subject is not None and not summary.subject.owns_unlabelled(source):
        return
    summary.malformed += 1
    summary.counts["standard"] += 1
    if summary.malformed <= 3:
        text = line[:80].decode("utf-8", "replace")
        summary.issue(f"{source}: a line is not valid JSON, counted as standard: {text!r}")


def _hook_only(line: bytes, hook: RecordHook | None) -> None:
    """Show ``hook`` an event or audit record the byte scans counted (the count stays theirs)."""
    try:
        record = decode(line)
    except NotJson:
        return
    if hook is not None:
        for found in read_object(record or {}):
            if found.kind in ("event", "audit") and found.fields is not None:
                hook(found.kind, found.fields)


def _exact_json(summary: LogSummary, source: str, line: bytes, who: Identity, hook: RecordHook | None) -> None:
    try:
        record = decode(line)
    except NotJson:
        _bad_json(summary, source, line)
        return
    if record is None:
        record = {}
    elif summary.subject is None and plain_standard(record):
        summary.counts["standard"] += 1  # what read_object would say, without building the record
        return
    for found in read_object(record, who):
        summary.add(found, hook, source)


_AUDIT_API = re.compile(rb'apiVersion\\?"\s*:\s*\\?"audit\.k8s\.io/')
_EVENT_KIND = re.compile(rb'"kind\\?"\s*:\s*\\?"Event\\?"')


def _special_kind(line: bytes) -> Kind | None:
    """Audit or event, from the bytes of a line that mentions ``Event``; None when only a full read can tell.

    Audit: ``apiVersion: audit.k8s.io/*``; event: ``kind: Event`` with ``involvedObject``/``regarding``.
    """
    if b"audit" in line:
        kind: Kind | None = "audit" if _AUDIT_API.search(line) else None
    elif _EVENT_KIND.search(line) and (b"involvedObject" in line or b"regarding" in line):
        kind = "event"
    else:
        return None
    return None if b"items" in line else kind  # a list: each item is a record


def _special(summary: LogSummary, source: str, line: bytes, hook: RecordHook | None) -> bool:
    """Count a line the bytes show to be an event or audit record; False when only a full read can tell."""
    kind = _special_kind(line)
    if kind is None:
        return False
    if summary.subject is not None:
        return False  # whom it is about decides whether it counts: read it fully
    summary.counts[kind] += 1
    if hook is not None:
        _hook_only(line, hook)
    return True


def _exact_line(
    summary: LogSummary, source: str, line: bytes, who: Identity, hook: RecordHook | None, reader: LineReader
) -> None:
    """Read one line fully: JSON records here, text and container wrappers through ``reader``."""
    if line[:1] == b"{" and line[1:6] != b'"log"':
        reader.flush()
        _exact_json(summary, source, line, who, hook)
    elif line and not line.isspace():
        reader.line(line)


def feed_block(
    summary: LogSummary, source: str, block: bytes, hook: RecordHook | None = None, *, exact: bool = False
) -> None:
    """Classify every record of one block of whole lines into ``summary``.

    ``hook`` sees every event, audit and business-error record, decoded (it never changes
    what is counted). ``exact`` reads every line fully (the reference the fast path equals).
    """
    who = from_path(source)
    subject = summary.subject
    if subject is not None:
        exact = True
        if not who and not subject.owns_unlabelled(source):
            # no name of the subject on a line: not its record (a Node's events stay: the trace chain's context)
            needles = [*subject.needles(), *(NODE_OBJECT if hook is not None else ())]
            block = b"\n".join(line for line in block.split(b"\n") if any(n in line for n in needles))
    reader = LineReader(lambda r: summary.add(r, hook, source), who, lambda raw: _bad_json(summary, source, raw))
    if exact:
        for line in block.split(b"\n"):
            _exact_line(summary, source, line, who, hook, reader)
        reader.close()
        return
    starts, quiet, events = quiet_lines(block)
    summary.counts["business"] += int(quiet.sum())
    picked = np.flatnonzero(~quiet)
    seen = np.cumsum(quiet)
    gaps = (seen[picked] - np.concatenate(([0], seen[picked[:-1]]))).tolist() if len(picked) else []
    bounds = np.append(starts[1:] - 1, len(block))
    flush, text_line = reader.flush, reader.line
    for gap, start, end, event in zip(
        gaps, starts[picked].tolist(), bounds[picked].tolist(), events[picked].tolist(), strict=True
    ):
        if gap:
            flush()  # a JSON record counted by the byte scan ended the text record before it
        if start == end:
            continue
        line = block[start:end]
        if line[:1] == b"{" and line[1:6] != b'"log"':  # _exact_line, inlined: this runs for every slow line
            flush()
            if not (event and _special(summary, source, line, hook)):
                _exact_json(summary, source, line, who, hook)
        elif not line.isspace():
            text_line(line)
    reader.close()


def feed(
    summary: LogSummary, blocks: Iterable[tuple[str, bytes]], hook: RecordHook | None = None, *, exact: bool = False
) -> LogSummary:
    """Classify every line of ``(source, block)`` pairs into ``summary`` (see :func:`feed_block`)."""
    for source, block in blocks:
        feed_block(summary, source, block, hook, exact=exact)
    return summary


def feed_exact(summary: LogSummary, blocks: Iterable[tuple[str, bytes]], hook: RecordHook | None = None) -> LogSummary:
    """The reference pass: every line read fully (what :func:`feed` must equal)."""
    return feed(summary, blocks, hook, exact=True)


def summarize(records: Iterable[dict[str, Any]], summary: LogSummary | None = None) -> LogSummary:
    """Classify already-decoded records (CLS ``LogJson`` answers) with the same reader."""
    summary = summary or LogSummary()
    for record in records:
        for found in read_object(record):
            summary.add(found)
    return summary


def common_messages(records: Iterable[dict[str, Any]], top: int = 3) -> list[tuple[str, int]]:
    """The ``top`` signatures of decoded records, for a spoken answer: their errors', else all their messages'.

    Read and grouped exactly as ``classify_logs`` does (placeholders as ``<*>``).
    """
    errors, everything = LogSummary(), LogSummary()
    for raw in records:
        for record in read_object(raw):
            errors.add(record)
            if record.message:
                everything.error(record.message, record.when)
    ranked = errors.ranked(top) if errors.errors else everything.ranked(top)
    return [(signature.signature, signature.count) for signature in ranked]
