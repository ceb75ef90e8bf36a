"""The fast (byte-scan) and parallel (process pool) classify paths give the simple path's answer."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from tools.logs.classify import LogSummary, feed, feed_exact
from tools.logs.parallel import feed_parallel
from tools.logs.reader import stream_blocks

PODS = ["checkout-7d9f8b6c5-x2x4q", "payment-5b6d7c9f4-qq2lp", "db-0"]
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
]


def _cls(inner: dict[str, object], rng: random.Random) -> str:
    """A CLS -> COS archive line: the record as an escaped-JSON ``content`` value."""
    tag = {"pod_name": rng.choice(PODS), "namespace": "shop"}
    return json.dumps(
        {"__TIMESTAMP__": 1795000000000 + rng.randint(0, 10**6), "__TAG__": tag, "content": json.dumps(inner)}
    )


EVENT = {"kind": "Event", "apiVersion": "v1", "involvedObject": {"kind": "Pod", "name": "checkout-0"}}
AUDIT = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "verb": "patch"}
# One shape a line: (rng, n, uuid) -> the line. Wrapped and plain JSON, every kind, errors, bad input.
SHAPES = [
    lambda r, n, u: _cls({"time": n, "level": "info", "message": f"handled cart {n}"}, r),
    lambda r, n, u: _cls({"time": n, "level": "error", "message": f"order {n} failed for {u}"}, r),
    lambda r, n, u: _cls({"time": n, "level": "error", "message": f"{r.choice(WORDS)} {r.choice(WORDS)} {n}"}, r),
    lambda r, n, u: json.dumps({"level": "warn", "msg": f"slow {n}ms", "pod": r.choice(PODS)}),
    lambda r, n, u: json.dumps({"level": 50, "msg": f"pino error {n}", "time": 1795000000000 + n}),
    lambda r, n, u: json.dumps({"level": 30, "msg": "pino info"}),
    lambda r, n, u: json.dumps({"levelname": "ERROR", "message": f"python failed at 0x{n:x}"}),
    lambda r, n, u: json.dumps({"severity": "CRITICAL", "message": f"db 10.0.{n % 255}.1:5432 refused"}),
    lambda r, n, u: json.dumps({"status": 200, "path": f"/cart/{n}", "remote": "10.1.2.3"}),
    lambda r, n, u: json.dumps({**EVENT, "reason": "BackOff", "message": "back-off restarting"}),
    lambda r, n, u: _cls({**EVENT, "reason": "OOMKilling"}, r),
    lambda r, n, u: json.dumps(AUDIT) if r.random() < 0.5 else _cls(AUDIT, r),
    lambda r, n, u: f"2026-11-20T03:00:{n % 60:02d}Z ERROR worker {n} crashed",
    lambda r, n, u: f'10.0.0.{n % 255} - - [20/Nov/2026:03:00:00 +0000] "GET /x HTTP/1.1" 200 {n}',
    lambda r, n, u: json.dumps({"log": json.dumps({"level": "fatal", "msg": f"panic: {u}"})}),
    lambda r, n, u: json.dumps({"level": "info", "message": "fine", "ctx": {"user": n}}),
    lambda r, n, u: '{"level": "info", "message": "cut off mid-',  # a truncated line
    lambda r, n, u: json.dumps({"level": None, "message": f"no level {n}"}),
    lambda r, n, u: "  " + json.dumps({"level": "error", "msg": f"indented {n}"}),
    lambda r, n, u: json.dumps({"level": "ERROR", "message": "order   failed\ttwice"}) + "\r",
    lambda r, n, u: json.dumps({"kind": "Event", "message": "an Event without an object"}),
    lambda r, n, u: "",
    lambda r, n, u: json.dumps({"level": "debug", "content": f"plain content {n}"}),
]


def _line(rng: random.Random) -> str:
    uuid = f"{rng.getrandbits(32):08x}-1111-4abc-8def-{rng.getrandbits(48):012x}"
    return str(rng.choice(SHAPES)(rng, rng.randint(1, 10**6), uuid))


def _sample(path: Path, lines: int, seed: int) -> Path:
    rng = random.Random(seed)
    path.write_bytes(gzip.compress("\n".join(_line(rng) for _ in range(lines)).encode() + b"\n"))
    return path


def _run(how: str, path: Path, **kwargs: object) -> LogSummary:
    """One pass over ``path`` read in small pieces, so the parallel path spreads it over many batches."""
    summary = LogSummary(**kwargs)  # type: ignore[arg-type]
    with path.open("rb") as handle:
        blocks = ((path.name, block) for block in stream_blocks(handle, path.name, summary.issue, chunk=2048))
        if how == "simple":
            return feed_exact(summary, blocks)
        if how == "fast":
            return feed(summary, blocks)
        return feed_parallel(summary, blocks, 2, batch_bytes=16 << 10, warmup_bytes=8 << 10)


def test_fast_and_parallel_paths_equal_the_simple_path(tmp_path: Path) -> None:
    archive = _sample(tmp_path / "varied.jsonl.gz", 6000, seed=3)
    simple, fast, parallel = (_run(how, archive) for how in ("simple", "fast", "parallel"))
    assert simple.counts["business"] > 1000 and simple.errors > 1000 and simple.malformed > 100
    assert all(n > 100 for n in simple.counts.values())  # every kind is in the sample
    for other in (fast, parallel):
        assert other.public() == simple.public()  # counts, errors, every signature with its example and times
        assert other.malformed == simple.malformed and other.issues == simple.issues
        assert {k: s.workloads for k, s in other.signatures.items()} == {
            k: s.workloads for k, s in simple.signatures.items()
        }


def test_parallel_merge_keeps_the_signature_cap_and_first_examples(tmp_path: Path) -> None:
    rng = random.Random(5)
    lines = [
        json.dumps({"level": "error", "message": f"{rng.choice(WORDS)} {rng.choice(WORDS)} failed {i}", "time": i})
        for i in range(1, 4001)
    ]
    archive = tmp_path / "many.jsonl.gz"
    archive.write_bytes(gzip.compress("\n".join(lines).encode()))
    simple = _run("simple", archive, max_signatures=30)
    parallel = _run("parallel", archive, max_signatures=30)
    assert simple.overflow > 0 and len(simple.signatures) == 30
    assert parallel.public() == simple.public() and parallel.overflow == simple.overflow
    first = simple.ranked()[-1]
    assert first.example and first.first_seen is not None


def test_the_plain_standard_shortcut_says_what_the_reader_would(tmp_path: Path) -> None:
    from tools.logs.records import decode, plain_standard, read_object

    rng = random.Random(11)
    formats = Path(__file__).resolve().parents[1] / "data" / "logs" / "formats"
    lines = [_line(rng) for _ in range(3000)]
    lines += [line for path in sorted(formats.glob("*.log")) for line in path.read_text().splitlines()]
    lines += [
        json.dumps({"content": "2026-11-20 03:00:00 ERROR boom"}),  # a level in the text
        json.dumps({"content": "GET /healthz 200", "kind": "Pod"}),
        json.dumps({"content": "a Traceback (most recent call last) here"}),
        json.dumps({"remote": "10.0.0.1", "status": 502}),
        json.dumps({"content": {"nested": 1}}),
    ]
    shortcut = 0
    for line in lines:
        try:
            record = decode(line.encode())
        except Exception:  # noqa: BLE001 - the sample holds broken lines on purpose
            continue
        if record is not None and plain_standard(record):
            shortcut += 1
            assert [(r.kind, r.error) for r in read_object(record)] == [("standard", False)], line
    assert shortcut > 100


def test_the_block_scan_marks_the_lines_the_one_line_rule_marks() -> None:
    from tools.logs.fastpath import quiet_business, quiet_lines

    rng = random.Random(13)
    formats = Path(__file__).resolve().parents[1] / "data" / "logs" / "formats"
    lines = [_line(rng) for _ in range(3000)] + [
        line for path in sorted(formats.glob("*.log")) for line in path.read_text().splitlines()
    ]
    lines += ['{"sublevel": "info", "msg": "x"}', '{"level": "info", "kind": "Event", "involvedObject": {}}']
    block = ("\n".join(lines) + "\n").encode()
    _starts, quiet, _events = quiet_lines(block)
    expected = [quiet_business(line) for line in block.split(b"\n")]
    assert quiet.tolist() == expected and sum(expected) > 500
