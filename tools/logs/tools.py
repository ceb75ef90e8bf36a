"""Read-only log tools: ``search_logs``, ``classify_logs``, ``trace_chain`` (registry tools, MCP-exposed).

Every answer carries ``issues``: what could not be read (a truncated gzip, a non-JSON
line, an SDK error code), so the diagnosis can say so instead of stopping.

``classify_logs`` and ``trace_chain`` take an optional subject (``namespace``, ``workload``,
``pod``, ``container``): then only the subject's records count: those whose identity
(shipper metadata, the kubelet's file name, an event's ``involvedObject``, an audit
record's ``objectRef``) agrees with it. Records that carry no identity at all are kept
only from sources configured as the subject's in ``logs.owners`` (source-name prefix →
``namespace/workload``), for example ``{"/var/log/checkout/": "shop/checkout"}``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from tools.logs.classify import LogSummary, feed
from tools.logs.records import KINDS, NotJson, decode, iso, read_json, read_text
from tools.logs.sources import LogSources, SourceName
from tools.logs.subject import Subject, subject_for
from tools.logs.trace import TraceCollector, build_chains, config_writes, namespace_changes, subject_events
from tools.metrics import parse_when
from tools.registry import Tool, ToolError

MAX_MATCH_CHARS = 2_000


class _Window(BaseModel):
    source: SourceName = Field(default="files", description="files (logs.files), cos (archives) or cls (topics).")
    start: str | None = Field(default=None, description="RFC 3339 or Unix time; default end - logs.window_min.")
    end: str | None = Field(default=None, description="RFC 3339 or Unix time; default now.")
    paths: list[str] | None = Field(default=None, description="Files or directories instead of logs.files.")


class SearchLogs(_Window):
    """Arguments of ``search_logs``."""

    query: str = Field(default="", description="Substring (files, COS) or CLS query; empty = everything.")
    kind: Literal["business", "event", "audit", "standard"] | None = Field(default=None, description="Only this kind.")
    limit: int = Field(default=50, ge=1, le=500)


class _Subject(BaseModel):
    namespace: str | None = Field(default=None, description="Only records of this namespace.")
    workload: str | None = Field(default=None, description="Only records of this deployment/statefulset/app.")
    pod: str | None = Field(default=None, description="Only records of this pod.")
    container: str | None = Field(default=None, description="Only records of this container.")


class ClassifyLogs(_Window, _Subject):
    """Arguments of ``classify_logs``."""

    top: int = Field(default=10, ge=1, le=200, description="How many error signatures to return.")


class WorkloadReferences(_Window):
    """Arguments of ``workload_references``."""

    workload: str = Field(min_length=1, description="The Deployment/StatefulSet/DaemonSet/CronJob name.")
    namespace: str | None = Field(default=None, description="Its namespace.")


class TraceChain(_Window, _Subject):
    """Arguments of ``trace_chain``."""

    service: str | None = Field(default=None, description="Workload to match when error records name no pod.")
    top: int = Field(default=3, ge=1, le=20, description="How many error signatures to trace.")
    around_min: float = Field(default=10, ge=0, le=240, description="Events this close to the errors.")
    before_min: float = Field(default=30, ge=0, le=1440, description="Audit writes this long before the errors.")


def log_tools(sources: LogSources, clock: Any = None) -> list[Tool]:
    """The read-only log tools over ``sources``."""
    now = clock or (lambda: datetime.now(UTC))

    def window(start: str | None, end: str | None) -> tuple[datetime, datetime]:
        stop = parse_when(end) if end else now()
        begin = parse_when(start) if start else stop - timedelta(minutes=sources.config.window_min)
        if begin > stop:
            raise ToolError(f"start: {start} is after end {end}")
        return begin, stop

    def search_logs(
        source: SourceName,
        start: str | None,
        end: str | None,
        paths: list[str] | None,
        query: str,
        kind: Any,
        limit: int,
    ) -> dict[str, Any]:
        begin, stop = window(start, end)
        return _search(sources, source, begin, stop, paths, query, kind, limit)

    def subject(namespace: str | None, workload: str | None, pod: str | None, container: str | None) -> Subject | None:
        return subject_for(sources.config.owners, namespace=namespace, workload=workload, pod=pod, container=container)

    def classify_logs(
        source: SourceName,
        start: str | None,
        end: str | None,
        paths: list[str] | None,
        top: int,
        namespace: str | None = None,
        workload: str | None = None,
        pod: str | None = None,
        container: str | None = None,
    ) -> dict[str, Any]:
        """Counts per kind and the top error signatures (of the subject, when one is named)."""
        begin, stop = window(start, end)
        summary = LogSummary(subject=subject(namespace, workload, pod, container))
        feed(summary, sources.blocks(source, begin, stop, summary.issue, paths=paths))
        return _summary_doc(summary, top, source)

    def trace_chain(
        source: SourceName,
        start: str | None,
        end: str | None,
        paths: list[str] | None,
        service: str | None,
        top: int,
        around_min: float,
        before_min: float,
        namespace: str | None = None,
        workload: str | None = None,
        pod: str | None = None,
        container: str | None = None,
    ) -> dict[str, Any]:
        """Per top error signature (of the subject, when one is named): events around it, audit writes before it.

        Records without identity count only from sources ``logs.owners`` gives to the subject.
        """
        begin, stop = window(start, end)
        around, before = around_min * 60, before_min * 60
        summary = LogSummary(subject=subject(namespace, workload, pod, container))
        collector = TraceCollector(begin.timestamp() - before - around, stop.timestamp() + around)
        feed(summary, sources.blocks(source, begin, stop, summary.issue, paths=paths), hook=collector)
        chains = build_chains(
            summary, collector, service=workload or service, top=top, around_s=around, before_s=before
        )
        doc = _summary_doc(summary, top, source)
        doc.update(chains=chains, events_seen=len(collector.events), audit_writes_seen=len(collector.audits))
        doc["config_writes"] = config_writes(collector, namespace)
        doc["namespace_changes"] = namespace_changes(collector, namespace) if namespace else []
        doc["subject_events"], doc["node_events"] = subject_events(collector, namespace, workload or service)
        return doc

    def workload_references(
        source: SourceName,
        start: str | None,
        end: str | None,
        paths: list[str] | None,
        workload: str,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """The ConfigMaps/Secrets ``workload`` uses, per the audited writes of its object (latest first)."""
        begin, stop = window(start, end)
        summary = LogSummary()
        collector = TraceCollector(begin.timestamp(), stop.timestamp())
        feed(summary, sources.blocks(source, begin, stop, summary.issue, paths=paths), hook=collector)
        writes = [
            a
            for a in collector.audits
            if a.get("references")
            and (a.get("workload") or a.get("name")) == workload
            and (namespace is None or a.get("namespace") in (None, namespace))
        ]
        writes.sort(key=lambda a: a["when"] or 0.0)
        latest = writes[-1] if writes else None
        return {
            "workload": workload,
            "namespace": namespace,
            "references": latest["references"] if latest else [],
            "seen": {"resource": latest["resource"], "name": latest["name"], "when": iso(latest["when"])}
            if latest
            else None,
        }

    return [
        Tool("search_logs", "Find log records (files, COS archives or CLS) by text and kind.", SearchLogs, search_logs),
        Tool(
            "classify_logs",
            "Count log records by kind (business/event/audit/standard) and rank normalized error signatures. "
            "namespace/workload/pod/container keep only that subject's records (records naming no writer count "
            "only from sources logs.owners gives to it).",
            ClassifyLogs,
            classify_logs,
        ),
        Tool(
            "workload_references",
            "The ConfigMaps and Secrets a workload's pods use (volumes, envFrom, env valueFrom), read from the "
            "audited writes of its Deployment/StatefulSet/DaemonSet/CronJob object in the window (the latest one).",
            WorkloadReferences,
            workload_references,
        ),
        Tool(
            "trace_chain",
            "For each top business-error signature: k8s events of the same workload around it, then the audit "
            "records (who, verb, resource, change) that modified it just before; with a namespace, also the "
            "audited writes to its NetworkPolicies, quotas, Services and RBAC (namespace_changes). "
            "namespace/workload/pod/container "
            "scope every count to that subject (records naming no writer count only from sources logs.owners "
            "gives to it).",
            TraceChain,
            trace_chain,
        ),
    ]


def _search(
    sources: LogSources,
    source: SourceName,
    begin: datetime,
    stop: datetime,
    paths: list[str] | None,
    query: str,
    kind: str | None,
    limit: int,
) -> dict[str, Any]:
    """``search_logs``: up to ``limit`` lines containing ``query`` (files, COS) or matching it (CLS)."""
    summary = LogSummary()
    needle = query.lower().encode()
    matches: list[dict[str, Any]] = []
    scanned = 0
    for name, block in sources.blocks(source, begin, stop, summary.issue, paths=paths, query=query, limit=limit * 4):
        for line in block.split(b"\n"):
            if not line.strip():
                continue
            scanned += 1
            if source != "cls" and needle and needle not in line.lower():
                continue
            match = _match(name, line, kind, begin.timestamp(), stop.timestamp())
            if match is not None:
                matches.append(match)
                if len(matches) >= limit:
                    return {"matches": matches, "scanned": scanned, "issues": summary.issues}
    return {"matches": matches, "scanned": scanned, "issues": summary.issues}


def _summary_doc(summary: LogSummary, top: int, source: str) -> dict[str, Any]:
    doc = summary.public(top)
    doc.update(source=source, malformed=summary.malformed, issues=summary.issues, overflow=summary.overflow)
    return doc


def _match(name: str, line: bytes, kind: str | None, lo: float, hi: float) -> dict[str, Any] | None:
    try:
        record = decode(line)
    except NotJson:
        record = None
    if record is None:
        plain = read_text(line.decode("utf-8", "replace").rstrip())
        if kind and plain.kind != kind:
            return None
        return {
            "source": name,
            "kind": plain.kind,
            "time": iso(plain.when),
            "text": line[:MAX_MATCH_CHARS].decode("utf-8", "replace"),
        }
    read = read_json(record)
    found, when = read.kind, read.when
    if (kind and found != kind) or (when is not None and not lo <= when <= hi):
        return None
    text = line[:MAX_MATCH_CHARS].decode("utf-8", "replace")
    return {"source": name, "kind": found, "time": iso(when), "text": text}


__all__ = ["KINDS", "log_tools"]
