"""Every log shape a cluster writes, read and classified the same way by every caller.

The lines live in ``tests/data/logs/formats`` (written from each format's public
documentation); each test states what an SRE reading that file would count.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from state.config import LogsConfig
from tests.conftest import run_cli
from tools.logs.classify import LogSummary, feed, feed_exact, summarize
from tools.logs.parallel import feed_parallel
from tools.logs.reader import file_blocks, stream_blocks
from tools.logs.records import Record
from tools.logs.sources import LogSources
from tools.logs.tools import log_tools
from tools.logs.trace import TraceCollector, build_chains, config_writes
from tools.registry import ToolRegistry

FORMATS = Path(__file__).resolve().parents[1] / "data" / "logs" / "formats"
WINDOW = {"start": "2026-11-20T02:00:00Z", "end": "2026-11-20T04:00:00Z"}
LOGS = sorted(FORMATS.glob("*.log"))


def _records(name: str) -> list[Record]:
    """Every record the reader makes of one fixture file, in order."""
    seen: list[Record] = []
    summary = LogSummary()
    original = summary.add

    def keep(record: Record, hook: Any = None, source: str = "") -> None:
        seen.append(record)
        original(record, hook, source)

    summary.add = keep  # type: ignore[method-assign]
    feed_exact(summary, file_blocks([FORMATS / name], summary.issue))
    assert not summary.issues, summary.issues
    return seen


def _summary(name: str) -> LogSummary:
    summary = LogSummary()
    return feed(summary, file_blocks([FORMATS / name], summary.issue))


def _kinds(records: list[Record]) -> list[tuple[str, bool]]:
    return [(r.kind, r.error) for r in records]


def test_docker_json_file_lines_are_unwrapped_and_joined() -> None:
    records = _records("docker-json-file.log")
    assert _kinds(records) == [("standard", False), ("business", True), ("business", True), ("business", False)]
    assert records[1].message == "payment upstream timeout after 3000ms"  # the JSON inside "log"
    trace = records[2].text or ""
    assert "checkout failed for cart 881" in records[2].message
    assert "IllegalStateException" in trace and "CartController.checkout(CartController.java:17)" in trace
    assert records[3].message.endswith("first piece and its last piece")  # a 16 KiB split joined again


def test_cri_partial_lines_join_and_a_go_panic_is_one_record() -> None:
    records = _records("cri.log")
    assert _kinds(records) == [("business", False), ("business", True), ("business", True), ("business", True)]
    assert records[1].message == "db pool exhausted after 30s waiting for a connection"
    panic = records[2]
    trace = panic.text or ""
    assert panic.level == "fatal" and "goroutine 1 [running]" in trace and "main.go:12" in trace
    assert records[3].message == "cache sync failed"  # logfmt inside CRI, lowercase level
    assert records[0].when == pytest.approx(1795143601.0)


def test_logfmt_lowercase_and_mixed_case_levels() -> None:
    records = _records("logfmt.log")
    assert [r.level for r in records] == ["error", "warn", "info", "fatal"]
    assert records[0].message == "failed to sync cache for shop/checkout"
    assert _summary("logfmt.log").errors == 2


def test_klog_headers() -> None:
    records = _records("klog.log")
    assert [r.level for r in records] == ["error", "info", "warn", "fatal"]
    assert records[0].message.startswith("k8s.io/client-go/informers/factory.go:134: Failed to watch")


def test_syslog_priority_and_program_words() -> None:
    records = _records("syslog.log")
    assert _kinds(records) == [("business", True), ("business", False), ("business", True), ("standard", False)]
    assert records[2].message.startswith("error: maximum authentication attempts exceeded")


def test_apache_and_nginx_error_logs() -> None:
    records = _records("apache-nginx-error.log")
    assert [r.level for r in records] == ["error", "error", "notice", "error", "warn"]
    assert _summary("apache-nginx-error.log").errors == 3


def test_java_and_python_stack_traces_are_one_record_each() -> None:
    records = _records("app-text.log")
    assert [r.level for r in records] == ["error", "info", "warn", "error", "error", "error"]
    java, python = records[0], records[3]
    assert "Caused by: java.sql.SQLTransientConnectionException" in (java.text or "")
    assert "checkout failed for cart 881" in java.message and "\tat " not in java.message
    assert "Traceback (most recent call last)" in (python.text or "") and "payment failed" in python.message
    assert records[4].message == "ERROR:root:worker 3 lost its lease"


def test_json_logging_libraries_levels_and_messages() -> None:
    records = _records("json-libraries.log")  # zap, zerolog, logrus, pino, bunyan, structlog, Serilog, .NET,
    # logstash-logback, ECS as Filebeat nests it, Google Cloud, OpenTelemetry, Monolog
    assert [r.level for r in records] == [
        "error", "info", "warn", "error", "info", "error", "error", "critical", "info", "error", "error", "error",
        "error",
    ]  # fmt: skip
    assert [r.message for r in records if r.error] == [
        "charge declined",
        "db timeout",
        "payment failed",  # structlog's "event"
        "Charge {OrderId} failed",  # Serilog's message template
        "gateway unreachable",
        "refund failed",
        "quota exceeded",
        "inventory lookup failed",
        "Undefined index: cart",
    ]
    assert all(r.when is not None for r in records[:-1])


def test_audit_event_list_items_without_api_version_are_audit() -> None:
    records = _records("audit.log")
    assert [r.kind for r in records] == ["audit"] * 4
    assert [(r.who.namespace, r.who.workload) for r in records] == [
        ("shop", "checkout"),
        ("shop", None),  # a ConfigMap: the namespace only
        ("shop", "checkout"),  # a pod of the checkout ReplicaSet
        ("shop", "payment"),
    ]
    summary, collector = LogSummary(), TraceCollector()
    feed(summary, file_blocks([FORMATS / "audit.log"], summary.issue), hook=collector)
    assert summary.counts["audit"] == 4
    writes = [(a["verb"], a["resource"], a["name"]) for a in collector.audits]
    assert writes == [
        ("patch", "deployments", "checkout"),
        ("update", "configmaps", "checkout-config"),
        ("delete", "pods", "checkout-7d9f8b6c5-x2x4q"),
    ]  # the RequestReceived stage of the scale is not a second row
    assert collector.audits[0]["change"] == "image → registry.local/shop/checkout:v2.2"


def test_core_and_events_k8s_io_events_and_watch_events() -> None:
    records = _records("events.log")
    assert [r.kind for r in records] == ["event"] * 3
    assert [r.who.workload for r in records] == ["checkout", "db", "payment"]
    collector = TraceCollector()
    feed(LogSummary(), file_blocks([FORMATS / "events.log"], print), hook=collector)
    assert [(e["reason"], e["object"]) for e in collector.events] == [
        ("BackOff", "Pod/checkout-7d9f8b6c5-x2x4q"),
        ("OOMKilling", "Pod/db-0"),
        ("SuccessfulCreate", "ReplicaSet/payment-5b6d7c9f4"),
    ]


def test_shipper_metadata_names_the_writer() -> None:
    records = _records("shippers.log")
    who = [(r.who.namespace, r.who.pod, r.who.container, r.who.workload) for r in records]
    assert who == [
        ("shop", "checkout-7d9f8b6c5-x2x4q", "checkout", "checkout"),  # fluent-bit kubernetes filter
        ("shop", "payment-5b6d7c9f4-qq2lp", "payment", "payment"),  # Vector kubernetes_logs
        ("shop", "refund-0", "refund", "refund"),  # Filebeat
        ("shop", "inventory-6f7d8c9b5-t5vwn", "inventory", "inventory"),  # OpenTelemetry resource
        ("shop", "cart-5c6d7e8f9-b9kzt", "cart", "cart"),  # CLS __TAG__ object
        ("shop", "cart-5c6d7e8f9-b9kzt", "cart", "cart"),  # CLS flat __TAG__.* keys
        ("shop", "checkout-7d9f8b6c5-b9kzt", "checkout", "checkout"),  # plain fields
    ]
    assert [r.error for r in records] == [True] * 6 + [False]  # the Chinese "连接异常" has no level: content says
    assert records[5].kind == "standard"


def test_cls_log_json_records_read_like_lines() -> None:
    lines = [line for line in (FORMATS / "shippers.log").read_text().splitlines() if line]
    from_records = summarize(json.loads(line) for line in lines)
    from_lines = _summary("shippers.log")
    assert from_records.public() == from_lines.public()


def test_cos_gzip_archive_reads_like_the_plain_file(tmp_path: Path) -> None:
    plain = b"".join(p.read_bytes() for p in LOGS)
    archive = tmp_path / "2026-11-20.json.gz"
    archive.write_bytes(gzip.compress(plain[: len(plain) // 2]) + gzip.compress(plain[len(plain) // 2 :]))
    from_archive, from_plain = LogSummary(), LogSummary()
    with archive.open("rb") as handle:
        feed(from_archive, (("a", b) for b in stream_blocks(handle, "a", from_archive.issue, chunk=512)))
    feed(from_plain, [("p", plain)])
    assert from_archive.public() == from_plain.public() and not from_archive.issues


def _tool_counts(tool: str, home: Path) -> dict[str, Any]:
    registry = ToolRegistry(log_tools(LogSources(LogsConfig(files=LOGS), {})))
    result = registry.invoke(tool, {"source": "files", **WINDOW})
    assert result.ok, result.error
    return {"counts": result.data["counts"], "errors": result.data["errors"]}


def test_every_caller_counts_the_same(home: Path) -> None:
    blocks = list(file_blocks(LOGS, print))
    exact = feed_exact(LogSummary(), blocks)
    expected = {"counts": exact.counts, "errors": exact.errors}
    assert expected["counts"] == {"business": 48, "event": 3, "audit": 4, "standard": 3}
    assert {"counts": feed(LogSummary(), blocks).counts, "errors": feed(LogSummary(), blocks).errors} == expected
    parallel = feed_parallel(LogSummary(), iter(blocks), 2, batch_bytes=1024, warmup_bytes=512)
    assert parallel.public() == exact.public()
    assert _tool_counts("classify_logs", home) == expected
    assert _tool_counts("trace_chain", home) == expected
    done = run_cli("logs", "classify", *map(str, LOGS), "--json", home=home)
    assert done.returncode == 0, done.stderr
    assert {k: json.loads(done.stdout)[k] for k in ("counts", "errors")} == expected


def test_trace_chain_over_the_formats_links_the_checkout_error_to_its_events_and_audit() -> None:
    summary, collector = LogSummary(), TraceCollector()
    paths = [FORMATS / "shippers.log", FORMATS / "events.log", FORMATS / "audit.log"]
    feed(summary, file_blocks(paths, summary.issue), collector)
    chains = build_chains(summary, collector, top=10, around_s=3600, before_s=7200)
    checkout = next(c for c in chains if c["signature"].startswith("cart: stock service unreachable"))
    assert checkout["workloads"] == ["shop/checkout"]
    assert {e["reason"] for e in checkout["events"]} == {"BackOff"}
    assert {a["name"] for a in checkout["audit"]} >= {"checkout"}
    assert "checkout-config" not in {a["name"] for a in checkout["audit"]}  # a ConfigMap is linked by use, not name
    assert "checkout-config" in {w["name"] for w in config_writes(collector, "shop")}
    assert all(a["name"] != "payment" for a in checkout["audit"])
