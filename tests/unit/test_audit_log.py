"""The hash-chained audit log: any edited, removed or reordered record is detected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.audit_log import AuditLog, head_path, verify


@pytest.fixture
def log(tmp_path: Path) -> Path:
    audit = AuditLog(tmp_path / "audit.jsonl")
    for n in range(4):
        audit.append({"operation": "restart", "params": {"service": f"s{n}"}, "status": "success"})
    return audit.path


def _rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines))


def test_intact_log_verifies(log: Path) -> None:
    verdict = verify(log)
    assert verdict.ok and verdict.records == 4
    first = json.loads(log.read_text().splitlines()[0])
    assert first["prev"] == "0" * 64 and first["seq"] == 1


def test_edited_record_is_detected(log: Path) -> None:
    lines = log.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"success"', '"error"')
    _rewrite(log, lines)
    verdict = verify(log)
    assert not verdict.ok and verdict.problem == "line 2: hash mismatch (the record was edited)"


def test_removed_record_is_detected(log: Path) -> None:
    lines = log.read_text().splitlines(keepends=True)
    _rewrite(log, lines[:1] + lines[2:])
    assert verify(log).problem.startswith("line 2: seq 3")


def test_reordered_records_are_detected(log: Path) -> None:
    lines = log.read_text().splitlines(keepends=True)
    _rewrite(log, [lines[0], lines[2], lines[1], lines[3]])
    assert not verify(log).ok


def test_removed_tail_is_detected_by_the_head(log: Path) -> None:
    lines = log.read_text().splitlines(keepends=True)
    _rewrite(log, lines[:-1])
    verdict = verify(log)
    assert not verdict.ok and "records removed" in verdict.problem
    assert head_path(log).exists()


def test_recomputed_hash_without_fixing_the_chain_is_detected(log: Path) -> None:
    from server.audit_log import record_hash

    lines = log.read_text().splitlines(keepends=True)
    record = json.loads(lines[1])
    record["status"] = "error"
    record["hash"] = record_hash(record)
    lines[1] = json.dumps(record) + "\n"
    _rewrite(log, lines)
    assert verify(log).problem == "line 3: prev does not match the hash of the record before"
