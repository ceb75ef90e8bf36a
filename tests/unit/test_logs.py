"""Log classification, signatures, streaming readers and the trace chain, on real bytes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.conftest import DEMO_CASE, run_cli
from tools.logs.classify import LogSummary, feed, feed_exact
from tools.logs.reader import file_blocks
from tools.logs.records import kind_of as classify
from tools.logs.signatures import key_of as signature_of
from tools.logs.trace import TraceCollector, build_chains

LOGS = DEMO_CASE / "logs"
AUDIT = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "patch", "objectRef": {"resource": "deployments"}}
EVENT = {"kind": "Event", "apiVersion": "v1", "involvedObject": {"kind": "Pod", "name": "a-1"}, "reason": "BackOff"}


def _classify_lines(lines: list[bytes]) -> LogSummary:
    summary = LogSummary()
    return feed(summary, [("t", b"\n".join(lines) + b"\n")])


def test_kinds_by_content_not_by_name() -> None:
    assert classify(AUDIT) == "audit"
    assert classify(EVENT) == "event"
    assert classify({"level": "info", "msg": "ok"}) == "business"
    assert classify({"remote_addr": "1.2.3.4", "status": 200}) == "standard"


def test_escaped_json_values_are_unwrapped() -> None:
    wrapped = json.dumps({"__TIMESTAMP__": 1, "content": json.dumps({"level": "error", "message": "boom 42"})})
    summary = _classify_lines([wrapped.encode(), json.dumps({"log": json.dumps(AUDIT)}).encode()])
    assert summary.counts == {"business": 1, "event": 0, "audit": 1, "standard": 0}
    assert summary.errors == 1 and summary.ranked()[0].signature == "boom <*>"


def test_signatures_normalize_numbers_ids_and_hex() -> None:
    a = signature_of("order 123 failed for 5f0c7a2e-1111-4abc-8def-0123456789ab at 0xdeadbeef from 10.0.0.1:80")
    b = signature_of("order 9 failed for 00000000-2222-4abc-8def-0123456789ab at 0x1f from 10.9.9.9:443")
    assert a == b == "order <*> failed for <*> at <*> from <*>:<*>"


def test_fast_path_agrees_with_the_exact_decoder() -> None:
    lines = [
        json.dumps({"level": "info", "message": "fine"}),
        json.dumps({"content": json.dumps({"level": "warn", "msg": "slow"})}),
        json.dumps({"level": 50, "msg": "pino error 7"}),
        json.dumps({"status": 200, "path": "/"}),
        json.dumps({"level": "debug"}),
        json.dumps(EVENT),
        json.dumps({"x": json.dumps(AUDIT)}),
        "plain stdout line",
        "2026-11-20T03:00:00Z ERROR worker 12 crashed",
    ]
    fast = _classify_lines([line.encode() for line in lines])
    exact = feed_exact(LogSummary(), [("t", ("\n".join(lines) + "\n").encode())])
    assert fast.counts == exact.counts
    assert fast.errors == exact.errors == 2
    assert {s.signature for s in fast.ranked()} == {
        "pino error <*>",
        "worker <*> crashed",
    }


def test_bad_input_is_reported_not_raised(tmp_path: Path) -> None:
    good = b"".join(json.dumps({"level": "error", "message": f"failed {i}"}).encode() + b"\n" for i in range(2000))
    truncated = tmp_path / "cut.log.gz"
    truncated.write_bytes(gzip.compress(good)[:-200])
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b'{"level": "error", "message": "x"}\n{"level": "info", "mess\n')
    summary = LogSummary()
    feed(summary, file_blocks([truncated, broken, tmp_path / "absent.log"], summary.issue))
    problems = " | ".join(summary.issues)
    assert "truncated gzip" in problems and "not valid JSON" in problems and "no such file" in problems
    assert 1000 < summary.errors <= 2001  # the lines before the cut still count
    assert summary.malformed == 2  # the cut-off last line of the archive, and the broken line


def test_gzip_members_and_directories_stream(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    line = json.dumps({"level": "info", "message": "m"}).encode() + b"\n"
    (tmp_path / "d" / "a.gz").write_bytes(gzip.compress(line * 3) + gzip.compress(line * 2))
    (tmp_path / "d" / "b.log").write_bytes(line.replace(b"\n", b"\r\n") * 4)
    summary = LogSummary()
    feed(summary, file_blocks([tmp_path / "d"], summary.issue))
    assert summary.counts["business"] == 9 and not summary.issues


def test_trace_chain_links_error_events_and_audit() -> None:
    summary, collector = LogSummary(), TraceCollector()
    feed(summary, file_blocks([LOGS], summary.issue), hook=collector)
    chain = build_chains(summary, collector, service="checkout", top=1)[0]
    assert chain["signature"].startswith("payment client: nil response for order <*>")
    assert {e["reason"] for e in chain["events"]} >= {"Unhealthy", "BackOff"}
    assert all("payment" not in e["object"] for e in chain["events"])  # other workloads stay out
    image = [a for a in chain["audit"] if a["change"].startswith("image")]
    assert image[-1]["who"] == "deploy-bot@ci" and image[-1]["change"].endswith(":v2.2")
    assert all(a["verb"] != "get" for a in chain["audit"])  # reads are not changes
    assert all(a["name"] != "payment" for a in chain["audit"])


def test_cli_classify_json_shape(home: Path) -> None:
    done = run_cli("logs", "classify", str(LOGS), "--json", home=home)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert list(doc) == ["counts", "errors", "signatures"]
    assert doc["counts"] == {"business": 21, "event": 6, "audit": 5, "standard": 2}
    assert list(doc["signatures"][0]) == ["signature", "count", "first_seen", "last_seen", "example"]
    assert doc["signatures"][0]["count"] == 9
    missing = run_cli("logs", "classify", "/no/such/dir", home=home)
    assert missing.returncode == 2 and "PATH" in missing.stderr and "Traceback" not in missing.stderr
