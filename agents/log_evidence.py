"""Log evidence for the diagnosis: the trace chain per configured source, as findings.

A business-error signature, the k8s events of its workload around it, and the audit
writes before it become three linked findings whose ``evidence`` is the structured
chain the report cites. Whatever could not be read (a truncated gzip, a non-JSON line,
a CLS error code, missing credentials) becomes a ``data`` finding that says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from state.alert import Alert
from state.config import LogsConfig
from state.incident import Finding
from tools.registry import ToolSession


@dataclass
class LogEvidence:
    """What the logs showed: findings, plus image changes seen in audit writes (for the release)."""

    findings: list[Finding] = field(default_factory=list)
    image_changes: list[dict[str, Any]] = field(default_factory=list)
    config_changes: list[dict[str, Any]] = field(default_factory=list)  # audited ConfigMap/Secret writes
    dependencies: list[str] = field(default_factory=list)  # hosts the service's errors fail to reach


CONFIG_RESOURCES = frozenset({"configmaps", "secrets"})
WRITE_VERBS = frozenset({"patch", "update", "create"})
# "dial tcp payments-db:5432: connect: connection refused", "connect to redis-billing:6379 timed out", ...
_UNREACHABLE = re.compile(
    r"(?:dial(?: tcp| udp)?|connect(?:ing)? to|lookup)\s+([A-Za-z0-9][A-Za-z0-9_.-]*)(?::\d+)?\b.*?"
    r"(connection refused|i/o timeout|timed? ?out|no such host|connection reset|unreachable|unavailable)",
    re.I,
)


def config_writes(audit: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Audited writes to a ConfigMap or Secret (a config edit a restart would spread)."""
    return [a for a in audit if a.get("resource") in CONFIG_RESOURCES and a.get("verb") in WRITE_VERBS]


def unreachable_hosts(text: str, service: str | None) -> list[str]:
    """Hosts an error message says could not be reached (never the service itself)."""
    hosts = []
    for match in _UNREACHABLE.finditer(text or ""):
        host = match.group(1)
        if host != service and not host.startswith(f"{service}.") and host not in hosts:
            hosts.append(host)
    return hosts


def configured_sources(logs: LogsConfig) -> list[str]:
    """Log sources the config enables, in the order they are read."""
    sources = []
    if logs.files:
        sources.append("files")
    if logs.cos.bucket:
        sources.append("cos")
    if any((logs.cls.topics.business, logs.cls.topics.event, logs.cls.topics.audit)):
        sources.append("cls")
    return sources


def _by_reason(events: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for event in events:
        totals[event["reason"]] = totals.get(event["reason"], 0) + int(event["count"])
    return totals


def _chain_findings(source: str, chain: dict[str, Any]) -> list[Finding]:
    findings = [
        Finding(
            kind="log",
            title=f"{chain['count']}× error '{chain['signature'][:80]}'",
            detail=f"{source}: {chain['first_seen']} → {chain['last_seen']} on "
            f"{', '.join(chain['workloads']) or 'unknown workload'}; e.g. {chain['example'][:200]}",
            severity="critical" if chain["events"] or chain["audit"] else "warning",
            evidence={"source": source, "chain": chain},
        )
    ]
    notable = [e for e in chain["events"] if e["type"] == "Warning"]
    if notable:
        findings.append(
            Finding(
                kind="event",
                title="events: " + ", ".join(f"{reason}×{n}" for reason, n in _by_reason(notable).items()),
                detail="; ".join(
                    f"{e['first']} {e['object']} {e['reason']}: {e['message'][:120]}" for e in notable[:5]
                ),
                severity="warning",
                evidence={"source": source, "signature": chain["signature"], "events": notable},
            )
        )
    if chain["audit"]:
        last = chain["audit"][-1]
        change = f" ({last['change']})" if last["change"] else ""
        findings.append(
            Finding(
                kind="audit",
                title=f"{last['who']} {last['verb']} {last['resource']}/{last['name']}{change}",
                detail="; ".join(
                    f"{a['when']} {a['who']} {a['verb']} {a['resource']}/{a['name']} {a['change']}".strip()
                    for a in chain["audit"]
                ),
                severity="warning",
                evidence={"source": source, "signature": chain["signature"], "audit": chain["audit"]},
            )
        )
    return findings


def _scope(alert: Alert) -> dict[str, str]:
    """Only the subject's records count: its namespace and workload (any of its pods, any container)."""
    subject = alert.subject
    scope = {"service": subject.workload or alert.service or ""}
    if subject.workload:
        scope["workload"] = subject.workload
        if subject.namespace:
            scope["namespace"] = subject.namespace
    return {k: v for k, v in scope.items() if v}


def gather(
    session: ToolSession, alert: Alert, logs: LogsConfig, start: datetime, end: datetime, top: int = 2
) -> LogEvidence:
    """Run ``trace_chain`` on every configured source over [start, end]."""
    evidence = LogEvidence()
    for source in configured_sources(logs):
        result = session.call("trace_chain", **_scope(alert), source=source, start=start.isoformat(),
                              end=end.isoformat(), top=top)  # fmt: skip
        if not result.ok:
            evidence.findings.append(
                Finding(kind="data", title=f"logs unavailable ({source})", detail=result.error, severity="warning")
            )
            continue
        data = result.data or {}
        if data.get("issues"):
            evidence.findings.append(
                Finding(
                    kind="data",
                    title=f"log input problems ({source}): {len(data['issues'])}",
                    detail="; ".join(data["issues"][:5]),
                    severity="warning",
                    evidence={"issues": data["issues"], "malformed_lines": data.get("malformed", 0)},
                )
            )
        counts = data.get("counts", {})
        evidence.findings.append(
            Finding(
                kind="log",
                title=f"{source} logs: "
                + ", ".join(f"{k} {v}" for k, v in counts.items())
                + f"; {data['errors']} errors",
                severity="info",
                evidence={"counts": counts, "errors": data.get("errors", 0), "signatures": data.get("signatures", [])},
            )
        )
        for chain in data.get("chains", []):
            evidence.findings.extend(_chain_findings(source, chain))
            evidence.image_changes.extend(a for a in chain["audit"] if a["change"].startswith("image"))
            evidence.config_changes.extend(config_writes(chain["audit"]))
            for host in unreachable_hosts(chain.get("example", ""), alert.service or alert.workload):
                if host not in evidence.dependencies:
                    evidence.dependencies.append(host)
    return evidence
