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


# ---------------------------------------------------------------------- issue 14: completeness and crash safety


def test_a_cut_tail_with_the_head_deleted_is_a_failure(log: Path) -> None:
    lines = log.read_text().splitlines(keepends=True)
    _rewrite(log, lines[:-2])
    head_path(log).unlink()
    verdict = verify(log)
    assert not verdict.ok and "head audit.jsonl.head is missing" in verdict.problem


def test_an_empty_log_is_a_failure(tmp_path: Path) -> None:
    empty = tmp_path / "audit.jsonl"
    empty.write_text("")
    assert verify(empty) == verify(empty) and not verify(empty).ok
    assert verify(empty).problem == "the log is empty: no record to verify"


@pytest.mark.parametrize(
    "corrupt",
    [
        b"\xff\xfe not utf-8\n",
        b'{"seq": "1", "hash": "x", "prev": "0"}\n',
        b"[1, 2, 3]\n",
        b'{"seq": 1, "hash": 5}\n',
        b'{"seq": 1e400, "hash": "x"}\n',
        b"null\n",
        b'{"seq": true, "hash": "x"}\n',
    ],
)
def test_corrupt_records_are_a_verdict_never_a_traceback(log: Path, corrupt: bytes) -> None:
    with log.open("ab") as handle:
        handle.write(corrupt)
    verdict = verify(log)
    assert not verdict.ok and verdict.records == 4 and verdict.problem.startswith("line 5:")


@pytest.mark.parametrize("head", [b"not json", b'{"seq": "x"}', b"[]", b'{"seq": 4}', b"\xff"])
def test_a_corrupt_head_is_a_verdict_never_a_traceback(log: Path, head: bytes) -> None:
    head_path(log).write_bytes(head)
    verdict = verify(log)
    assert not verdict.ok and "head" in verdict.problem


def test_a_torn_last_write_is_cut_off_before_the_next_append(log: Path) -> None:
    with log.open("ab") as handle:
        handle.write(b'{"seq": 5, "at": "2026-')  # the process died mid-write; nobody got an answer
    assert verify(log).problem == "line 5: torn record at the end (a write was cut off)"
    AuditLog(log).append({"operation": "restart", "status": "success"})
    verdict = verify(log)
    assert verdict.ok and verdict.records == 5


def test_a_crash_between_the_logs_fsync_and_the_heads_rename_does_not_fork_the_chain(log: Path) -> None:
    audit = AuditLog(log)
    before = head_path(log).read_bytes()
    audit.append({"operation": "scale", "status": "success"})
    head_path(log).write_bytes(before)  # the rename never happened: the head is one record behind
    audit.append({"operation": "restart", "status": "success"})
    seqs = [json.loads(line)["seq"] for line in log.read_text().splitlines()]
    assert seqs == [1, 2, 3, 4, 5, 6]  # no two records with the same seq
    assert verify(log).ok


def test_appending_stops_when_the_head_is_ahead_of_the_log(log: Path) -> None:
    from server.audit_log import AuditError

    lines = log.read_text().splitlines(keepends=True)
    _rewrite(log, lines[:-1])  # records removed: appending would paper over the gap
    with pytest.raises(AuditError, match="records removed"):
        AuditLog(log).append({"operation": "restart"})
    assert len(log.read_text().splitlines()) == 3


def test_heads_recorded_by_alertpilot_catch_a_consistent_rewrite_of_log_and_head(log: Path) -> None:
    lines = log.read_text().splitlines(keepends=True)
    recorded = [(n, json.loads(line)["hash"]) for n, line in enumerate(lines, start=1)]
    _rewrite(log, lines[:2])
    last = json.loads(lines[1])
    head_path(log).write_text(json.dumps({"seq": 2, "hash": last["hash"]}))  # the executor hides the cut
    assert verify(log).ok  # the log alone cannot tell
    verdict = verify(log, recorded)
    assert not verdict.ok and verdict.problem == "alertpilot recorded record 3; the log has 2 (records removed)"
    assert verify(log, recorded[:2]).ok
    assert "not the one alertpilot recorded" in verify(log, [(1, "f" * 64)]).problem
