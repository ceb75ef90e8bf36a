"""The executor's append-only audit log: JSON lines, each record chained to the previous by hash.

Every record carries ``seq`` (1, 2, ...), ``prev`` (the previous record's ``hash``; 64
zeros for the first) and ``hash`` = SHA-256 of the record's canonical JSON without
``hash``. Editing a record changes its hash; removing or reordering records breaks
``seq`` and ``prev``. Removing records from the *end* leaves a valid shorter chain, so:

- each append rewrites a head file (``<log>.head``: last seq and hash) that :func:`verify`
  requires (a missing head is a failure, so is an empty log);
- the executor returns the head in every answer (``audit: {seq, hash}``), and the agent keeps
  it with the attempt in its own store, where the executor cannot rewrite it together with
  the log; ``audit verify --store`` checks every head alertpilot recorded against the log.

Appending is crash-safe: the log, not the head, says where the chain ends. A torn last line
(a write cut by a crash, never acknowledged) is cut off before the next append, and a head
one record behind (a crash between the log's fsync and the head's rename) is simply
rewritten; a head *ahead* of the log means records were removed, and appending stops
(:class:`AuditError`) rather than fork or hide the gap.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


class AuditError(Exception):
    """The log cannot be appended to without hiding tampering (its head is ahead of it)."""


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the record's canonical JSON, ``hash`` excluded."""
    body = {k: v for k, v in record.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def head_path(path: Path) -> Path:
    """Where the head (last seq and hash) of the log at ``path`` is kept."""
    return path.with_name(path.name + ".head")


def read_head(path: Path) -> tuple[int, str] | None:
    """The head file's (seq, hash), or None when it is missing or unreadable."""
    try:
        data = json.loads(head_path(path).read_text(encoding="utf-8"))
        return int(data["seq"]), str(data["hash"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _last_line(handle: Any, size: int) -> tuple[bytes, int]:
    """The last line of a file open for reading bytes, and the offset where it starts."""
    block, pos, tail = 4096, size, b""
    while pos > 0:
        step = min(block, pos)
        pos -= step
        handle.seek(pos)
        tail = handle.read(step) + tail
        cut = tail.rstrip(b"\n").rfind(b"\n")
        if cut >= 0:
            return tail[cut + 1 :], pos + cut + 1
    return tail, 0


class AuditLog:
    """Appends hash-chained records; safe across threads and processes (flock) and across crashes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def _end(self) -> tuple[int, str]:
        """The chain's last (seq, hash) as the log says, after cutting a torn last line off."""
        if not self.path.exists():
            return 0, GENESIS
        with self.path.open("rb+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0:
                return 0, GENESIS
            line, start = _last_line(handle, size)
            handle.seek(size - 1)
            complete = handle.read(1) == b"\n"
            record = _record(line) if complete else None
            if record is None:  # torn by a crash mid-write: it was never acknowledged
                handle.truncate(start)
                handle.flush()
                os.fsync(handle.fileno())
                if start == 0:
                    return 0, GENESIS
                line, _ = _last_line(handle, start)
                record = _record(line)
                if record is None:
                    raise AuditError(f"{self.path}: unreadable record before the torn end")
            return int(record["seq"]), str(record["hash"])

    def ready(self) -> None:
        """Raise :class:`AuditError` when appending would hide removed records (checked before acting)."""
        with self._lock:
            seq, _ = self._end()
            head = read_head(self.path)
            if head is not None and head[0] > seq:
                raise AuditError(f"{self.path}: head says {head[0]} records, the log has {seq} (records removed)")

    def append(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Append one record made of ``fields`` (plus seq, at, prev, hash) and return it."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        with self._lock, lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            seq, prev = self._end()
            head = read_head(self.path)
            if head is not None and head[0] > seq:
                raise AuditError(f"{self.path}: head says {head[0]} records, the log has {seq} (records removed)")
            record = {"seq": seq + 1, "at": datetime.now(UTC).isoformat(), **fields, "prev": prev}
            record["hash"] = record_hash(record)
            line = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n"
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            target = head_path(self.path)
            tmp = target.with_suffix(".tmp")
            with tmp.open("w", encoding="utf-8") as handle:
                handle.write(json.dumps({"seq": record["seq"], "hash": record["hash"]}))
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(target)
            return record


def _record(line: bytes) -> dict[str, Any] | None:
    """A line as an audit record (a dict with an int seq and a str hash), or None."""
    try:
        record = json.loads(line)
    except ValueError:  # includes UnicodeDecodeError
        return None
    if not isinstance(record, dict):
        return None
    if not isinstance(record.get("seq"), int) or isinstance(record.get("seq"), bool):
        return None
    return record if isinstance(record.get("hash"), str) else None


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a log: ok, how many records, and the first problem."""

    ok: bool
    records: int
    problem: str = ""


def verify(path: Path, recorded: Iterable[tuple[int, str]] = ()) -> Verdict:
    """Check every record's hash, the chain, the sequence, the head file, and heads recorded elsewhere.

    ``recorded`` are (seq, hash) pairs the executor answered with and alertpilot kept: each must
    be the log's record at that seq, so a log cut (or rewritten) past one of them fails.
    Never raises for a corrupt file: the first problem is the verdict.
    """
    if not path.is_file():
        return Verdict(False, 0, f"FILE: no such file {path}")
    try:
        hashes = _chain(path)
    except _Broken as broken:
        return Verdict(False, broken.count, broken.problem)
    except OSError as exc:
        return Verdict(False, 0, f"FILE: cannot read {path}: {exc.strerror}")
    count = len(hashes)
    if count == 0:
        return Verdict(False, 0, "the log is empty: no record to verify")
    head = read_head(path)
    if head is None:
        return Verdict(False, count, f"head {head_path(path).name} is missing or unreadable (records may be removed)")
    if head != (count, hashes[-1]):
        return Verdict(False, count, f"head says {head[0]} records, the log has {count} (records removed)")
    for seq, digest in sorted(set(recorded)):
        if seq > count:
            return Verdict(False, count, f"alertpilot recorded record {seq}; the log has {count} (records removed)")
        if hashes[seq - 1] != digest:
            return Verdict(False, count, f"record {seq} is not the one alertpilot recorded (the log was rewritten)")
    return Verdict(True, count)


class _Broken(Exception):
    def __init__(self, count: int, problem: str) -> None:
        super().__init__(problem)
        self.count, self.problem = count, problem


def _chain(path: Path) -> list[str]:
    """Every record's hash in order; :class:`_Broken` at the first record that breaks the chain."""
    hashes: list[str] = []
    prev = GENESIS
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            count = len(hashes)
            if not raw.endswith(b"\n"):
                raise _Broken(count, f"line {number}: torn record at the end (a write was cut off)")
            if not raw.strip():
                raise _Broken(count, f"line {number}: empty line inside the log")
            record = _record(raw)
            if record is None:
                raise _Broken(count, f"line {number}: not an audit record")
            if record["seq"] != count + 1:
                raise _Broken(count, f"line {number}: seq {record['seq']} where {count + 1} was expected")
            if record.get("prev") != prev:
                raise _Broken(count, f"line {number}: prev does not match the hash of the record before")
            if record_hash(record) != record["hash"]:
                raise _Broken(count, f"line {number}: hash mismatch (the record was edited)")
            prev = record["hash"]
            hashes.append(prev)
    return hashes
