"""The log records an alarm carries itself: a log alarm's evidence before any log source is read.

A CLS alarm's ``{{.QueryLog}}`` holds the latest records each of its queries matched (an array
per query of ``{"content": {...}, "fileName", "time", "topicId", ...}``; ``content`` may be an
object, escaped JSON or a plain line). They are the business errors the alarm counted, so
diagnosis reads them like any log source: the subject's own records (TKE's ``__TAG__.*``
metadata or the kubelet's file name says whose), their error signatures, and the peers their
errors (and stack traces) say cannot be reached.

Pure: the payload is already here; nothing is fetched.
"""

from __future__ import annotations

import json
from typing import Any

from agents.log_evidence import LogEvidence, chain_findings, unreachable_hosts
from state.alert import Alert
from tools.logs.classify import LogSummary
from tools.logs.identity import from_path
from tools.logs.records import read_json, read_text
from tools.logs.subject import subject_for

MAX_RECORDS = 200


def carried_records(alert: Alert) -> list[dict[str, Any]]:
    """The records of the alarm's ``query_log`` as ``{"content": dict | str, "fileName", "time"}`` (bounded)."""
    text = alert.annotations.get("query_log")
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError:
        return []
    found: list[dict[str, Any]] = []
    stack: list[Any] = [data]
    while stack and len(found) < MAX_RECORDS:
        item = stack.pop(0)
        if isinstance(item, list):
            stack[:0] = item
        elif isinstance(item, dict):
            found.append(item if "content" in item else {"content": item})
        elif isinstance(item, str) and item.strip():
            found.append({"content": item})
    return found


def record_content(record: dict[str, Any]) -> dict[str, Any] | str:
    """A carried record's content: its fields (JSON text decoded), else its text."""
    content = record.get("content")
    if isinstance(content, str) and content[:1] == "{":
        try:
            decoded = json.loads(content)
        except ValueError:
            return content
        return decoded if isinstance(decoded, dict) else content
    return content if isinstance(content, dict) else str(content or "")


def carried_evidence(alert: Alert) -> LogEvidence | None:
    """The subject's records among those the alarm carries: error signatures and unreachable peers."""
    records = carried_records(alert)
    if not records:
        return None
    subject = alert.subject
    scope = subject_for({}, namespace=subject.namespace, workload=subject.workload)
    summary = LogSummary()
    for record in records:
        content = record_content(record)
        source = from_path(str(record.get("fileName") or ""))
        read = read_json(content, source) if isinstance(content, dict) else read_text(content, source=source)
        if scope is not None and read.who and not scope.owns(read.who, ""):
            continue  # another workload's record in a shared alarm query
        if read.when is None and isinstance(record.get("time"), int | float):
            read.when = float(record["time"]) / (1000 if record["time"] > 1e11 else 1)
        summary.counts[read.kind] += 1
        summary.error(read.message, read.when, read.who, read.text)  # what the alarm's query matched
    evidence = LogEvidence()
    for signature in summary.ranked(3):
        chain = {**signature.public(), "workloads": sorted(signature.workloads), "events": [], "audit": []}
        evidence.findings.extend(chain_findings("alarm", chain))
        for host in unreachable_hosts(signature.example, subject.workload or alert.service):
            if host not in evidence.dependencies:
                evidence.dependencies.append(host)
    return evidence if evidence.findings else None
