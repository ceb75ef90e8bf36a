"""The executor's append-only audit log: JSON lines, each record chained to the previous by hash.

Every record carries ``seq`` (1, 2, ...), ``prev`` (the previous record's ``hash``; 64
zeros for the first) and ``hash`` = SHA-256 of the record's canonical JSON without
``hash``. Editing a record changes its hash; removing or reordering records breaks
``seq`` and ``prev``. Removing records from the *end* leaves a valid shorter chain, so
each append also rewrites a small head file (``<log>.head``: last seq and hash) that
:func:`verify` checks. The chain makes tampering evident, not impossible: whoever can
rewrite both files from the first changed record on can forge them, so ship the log
off the host (or keep the head elsewhere) when that matters.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the record's canonical JSON, ``hash`` excluded."""
    body = {k: v for k, v in record.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def head_path(path: Path) -> Path:
    """Where the head (last seq and hash) of the log at ``path`` is kept."""
    return path.with_name(path.name + ".head")


class AuditLog:
    """Appends hash-chained records; safe across threads and processes (flock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def _last(self) -> tuple[int, str]:
        head = head_path(self.path)
        if head.exists():
            data = json.loads(head.read_text())
            return int(data["seq"]), str(data["hash"])
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, GENESIS
        last_line = self.path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1]
        record = json.loads(last_line)
        return int(record["seq"]), str(record["hash"])

    def append(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Append one record made of ``fields`` (plus seq, at, prev, hash) and return it."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        with self._lock, lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            seq, prev = self._last()
            record = {"seq": seq + 1, "at": datetime.now(UTC).isoformat(), **fields, "prev": prev}
            record["hash"] = record_hash(record)
            line = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n"
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            head = head_path(self.path)
            tmp = head.with_suffix(".tmp")
            tmp.write_text(json.dumps({"seq": record["seq"], "hash": record["hash"]}))
            tmp.replace(head)
            return record


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a log: ok, how many records, and the first problem."""

    ok: bool
    records: int
    problem: str = ""


def verify(path: Path) -> Verdict:
    """Check every record's hash, the chain, the sequence, and the head file if present."""
    if not path.is_file():
        return Verdict(False, 0, f"FILE: no such file {path}")
    prev, count = GENESIS, 0
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                return Verdict(False, count, f"line {number}: empty line inside the log")
            try:
                record = json.loads(line)
            except ValueError:
                return Verdict(False, count, f"line {number}: not JSON")
            if not isinstance(record, dict) or "hash" not in record:
                return Verdict(False, count, f"line {number}: not an audit record")
            if record.get("seq") != count + 1:
                return Verdict(False, count, f"line {number}: seq {record.get('seq')} where {count + 1} was expected")
            if record.get("prev") != prev:
                return Verdict(False, count, f"line {number}: prev does not match the hash of the record before")
            if record_hash(record) != record["hash"]:
                return Verdict(False, count, f"line {number}: hash mismatch (the record was edited)")
            prev, count = record["hash"], count + 1
    head = head_path(path)
    if head.exists():
        data = json.loads(head.read_text())
        if int(data.get("seq", -1)) != count or data.get("hash") != prev:
            return Verdict(False, count, f"head says {data.get('seq')} records, the log has {count} (records removed)")
    return Verdict(True, count)
