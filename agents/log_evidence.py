"""Log evidence for the diagnosis: the trace chain per configured source, as findings.

A business-error signature, the k8s events of its workload around it, and the audit
writes before it become three linked findings whose ``evidence`` is the structured
chain the report cites. Whatever could not be read (a truncated gzip, a non-JSON line,
a CLS error code, missing credentials) becomes a ``data`` finding that says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agents.changes import link_text, linked_changes
from agents.kube_evidence import stuck_volume
from state.alert import Alert
from state.config import LogsConfig
from state.incident import Finding
from state.subject import owner_of_pod
from tools.registry import ToolSession


@dataclass
class LogEvidence:
    """What the logs showed: findings, plus image changes seen in audit writes (for the release)."""

    findings: list[Finding] = field(default_factory=list)
    image_changes: list[dict[str, Any]] = field(default_factory=list)
    config_changes: list[dict[str, Any]] = field(default_factory=list)  # audited ConfigMap/Secret writes
    dependencies: list[str] = field(default_factory=list)  # hosts the service's errors fail to reach
    node_down: dict[str, Any] | None = None  # the node the subject's pods lost (node controller events)
    volume_stuck: dict[str, Any] | None = None  # the claim/volume its pods cannot attach or mount (events)
    namespace_changes: list[dict[str, Any]] = field(default_factory=list)  # linked audited namespace writes


CONFIG_RESOURCES = frozenset({"configmaps", "secrets"})
WRITE_VERBS = frozenset({"patch", "update", "create"})
# "dial tcp payments-db:5432: connect: connection refused", "connect to redis-billing:6379 timed out", ...
# How clients across languages say a peer could not be reached (Go net, Java/Netty/Lettuce/JDBC, Python
# redis/requests/psycopg, Node's errno codes, curl): the failure, and the host:port it names.
_FAILURE = re.compile(
    r"connection refused|refused|timed? ?out|timeout|no such host|unknown ?host|name or service not known|"
    r"could not (?:resolve|connect|translate host)|connection reset|unreachable|no route to host|"
    r"econnrefused|enotfound|ehostunreach|etimedout|econnreset|cannot (?:re)?connect|unable to connect|"
    r"failed to connect|connection (?:failure|error|closed)|too many connections|service unavailable|"
    r"bad gateway|gateway time-?out|upstream (?:connect )?error|(?:status|code|http)[ =:\"/]*(?:1\.[01] )?50[234]\b",
    re.I,
)  # the last ones: a peer that answered with a gateway/unavailable error (HTTP 502/503/504) is failing too
_NAMED_PEER = re.compile(
    r"(?:dial(?: tcp| udp)?|connect(?:ing|ed)? to|reconnect to|lookup|getaddrinfo \w+|unknownhostexception:|"
    r"could not translate host name)\s*[\[\"']?(?P<host>[A-Za-z0-9][A-Za-z0-9_.-]*)",
    re.I,
)
_HOST_PORT = re.compile(
    r"(?<![\w.\-])(?:(?<=//)|(?<!/))(?P<host>[a-zA-Z][\w-]*(?:\.[\w-]+)*|\d{1,3}(?:\.\d{1,3}){3})"
    r"(?:/(?:\d{1,3}(?:\.\d{1,3}){3}|<unresolved>))?:(?P<port>\d{2,5})\b"
)
_KEYED_HOST = re.compile(  # logfmt/JSON-ish fields naming the peer: host=api.partner.example upstream="10.0.0.7"
    r"\b(?:host|hostname|upstream|peer|remote|server|endpoint|addr|address|target)[=:] ?[\"']?"
    r"(?P<host>[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+)",
    re.I,
)
_URL_HOST = re.compile(r"\b[a-z][a-z0-9+.-]*://(?:[^\s/@\"']+@)?(?P<host>[A-Za-z0-9][A-Za-z0-9_.-]*)", re.I)
_NOT_A_PEER = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "http", "https", "tcp", "udp", "redis", "mysql",
                         "postgres", "postgresql", "mongodb", "amqp", "jdbc", "grpc", "unix"})  # fmt: skip
_IP = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def config_writes(audit: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Audited writes to a ConfigMap or Secret (a config edit a restart would spread)."""
    return [a for a in audit if a.get("resource") in CONFIG_RESOURCES and a.get("verb") in WRITE_VERBS]


def _peer_name(host: str) -> str:
    """A cluster DNS name as its Service (``redis-cart-master.shop.svc.cluster.local`` → ``redis-cart-master``)."""
    parts = host.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return parts[0]
    return host


def unreachable_hosts(text: str, service: str | None) -> list[str]:
    """Peers an error message says could not be reached (never the service itself), names before addresses.

    A stack trace is read line by line (its ``Caused by:`` lines name the peer): only a line that
    says the call failed names it; a message of one line is read whole.
    """
    if not text or not _FAILURE.search(text):
        return []
    lines = [line for line in text.splitlines() if _FAILURE.search(line)] if "\n" in text else []
    found: list[str] = []
    for part in lines:
        found.extend(h for h in _hosts_in(part, service) if h not in found)
    if not found:
        found = _hosts_in(text, service)
    named = [h for h in found if not _IP.match(h)]
    return named or found


def _is_itself(host: str, service: str) -> bool:
    """Whether a host is the service, one of its DNS names or one of its own pods.

    ``orders-7c9f8d6b5-x2x4q`` is a pod of orders; ``orders-db`` or ``orders-postgresql`` is another service.
    """
    if host == service or host.startswith(f"{service}."):
        return True
    owned = owner_of_pod(host)
    return bool(owned and owned[0] == service)


def _hosts_in(text: str, service: str | None) -> list[str]:
    found: list[str] = []
    matches = [*_NAMED_PEER.finditer(text), *_HOST_PORT.finditer(text), *_URL_HOST.finditer(text)]
    matches += _KEYED_HOST.finditer(text)
    for match in matches:
        host = _peer_name(match.group("host").rstrip("."))
        low = host.lower()
        if low in _NOT_A_PEER or "." in low and low.rsplit(".", 1)[-1] in ("java", "go", "py", "js", "kt", "class"):
            continue
        if service and _is_itself(low, service):
            continue
        if host not in found:
            found.append(host)
    return found


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


def chain_findings(source: str, chain: dict[str, Any]) -> list[Finding]:
    """One trace chain as findings: the error signature, its workload's events, the audit writes before it."""
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
    if subject.kind == "namespace" and subject.namespace:
        return {"namespace": subject.namespace}  # a namespace's own configuration: every record of it
    scope = {"service": subject.workload or alert.service or ""}
    if subject.workload:
        scope["workload"] = subject.workload
        if subject.namespace:
            scope["namespace"] = subject.namespace
    return {k: v for k, v in scope.items() if v}


def gather(
    session: ToolSession,
    alert: Alert,
    logs: LogsConfig,
    start: datetime,
    end: datetime,
    top: int = 2,
    references: list[dict[str, str]] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> LogEvidence:
    """Run ``trace_chain`` on every configured source over [start, end].

    ``references``: the ConfigMaps/Secrets the subject uses, when the cluster already said (else
    the audited writes of its own object are asked, per source). ``events``: the subject's events
    the cluster gave (what links a quota to it).
    """
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
            evidence.findings.extend(chain_findings(source, chain))
            evidence.image_changes.extend(a for a in chain["audit"] if a["change"].startswith("image"))
            for host in unreachable_hosts(chain.get("example", ""), alert.service or alert.workload):
                if host not in evidence.dependencies:
                    evidence.dependencies.append(host)
        _node_evidence(evidence, source, data)
        mine = [*(events or []), *(data.get("subject_events") or [])]
        changes = linked_changes(alert, data.get("namespace_changes") or [], mine)
        evidence.namespace_changes.extend(changes)
        evidence.findings.extend(_change_findings(source, changes))
        edits = [w for w in data.get("config_writes") or [] if w.get("verb") in WRITE_VERBS]
        if edits and alert.subject.workload:
            linked = _linked(session, alert, source, edits, alert.starts_at - REFERENCE_LOOKBACK, end, references)
            evidence.config_changes.extend(linked)
            evidence.findings.extend(_config_findings(source, linked))
    return evidence


# what the node controller and the kubelet say when a node goes away under a pod
POD_LOST_NODE = frozenset({"NodeNotReady", "TaintManagerEviction", "NodeControllerEviction", "NodeShutdown"})
NODE_DOWN = frozenset({"NodeNotReady", "NodeShutdown", "Rebooted", "NodeHasDiskPressure", "NodeHasMemoryPressure",
                       "NodeHasPIDPressure", "NodeNotSchedulable"})  # fmt: skip


def _node_evidence(evidence: LogEvidence, source: str, data: dict[str, Any]) -> None:
    """The subject's pods lost their node: the node controller's events say which node went away."""
    mine = data.get("subject_events") or []
    lost = [e for e in mine if e.get("reason") in POD_LOST_NODE or "node is not ready" in str(e.get("message")).lower()]
    nodes = {
        str(e["object"]).split("/", 1)[1]: e for e in data.get("node_events") or [] if e.get("reason") in NODE_DOWN
    }
    if mine:
        evidence.findings.append(
            Finding(
                kind="event",
                title="events: " + ", ".join(f"{r}×{n}" for r, n in _by_reason(mine).items()),
                detail="; ".join(f"{e['when']} {e['object']} {e['reason']}: {e['message'][:120]}" for e in mine[-5:]),
                severity="warning",
                evidence={"source": source, "events": mine},
            )
        )
    evidence.volume_stuck = evidence.volume_stuck or stuck_volume(mine, [])
    if lost and len(nodes) == 1:
        node, event = next(iter(nodes.items()))
        evidence.node_down = {"node": node, "reason": event.get("reason"), "when": event.get("when"),
                              "pods": sorted({str(e["object"]).split("/", 1)[-1] for e in lost})}  # fmt: skip


REFERENCE_LOOKBACK = timedelta(hours=72)  # how far back the workload's own audited object is looked for


def _linked(
    session: ToolSession,
    alert: Alert,
    source: str,
    edits: list[dict[str, Any]],
    start: datetime,
    end: datetime,
    known: list[dict[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """The config edits the subject really uses (its object's volumes/env name them: the cluster's or audited)."""
    if known:
        found, seen = known, {"resource": alert.subject.workload_kind or "workload", "name": alert.subject.workload}
    else:
        result = session.call(
            "workload_references", source=source, workload=alert.subject.workload, namespace=alert.subject.namespace,
            start=start.isoformat(), end=end.isoformat(),
        )  # fmt: skip
        found = (result.data or {}).get("references") or []
        seen = (result.data or {}).get("seen") or {}
    uses = {(r["resource"], r["name"]): r["how"] for r in found}
    linked = []
    for edit in edits:
        how = uses.get((str(edit.get("resource")), str(edit.get("name"))))
        if how:
            where = f"{seen.get('resource')}/{seen.get('name')}"
            linked.append({**edit, "linked_by": f"{where} uses {edit['resource']}/{edit['name']} ({how})"})
    return linked


def _config_findings(source: str, linked: list[dict[str, Any]]) -> list[Finding]:
    if not linked:
        return []
    last = linked[-1]
    return [
        Finding(
            kind="audit",
            title=f"{last['who']} {last['verb']} {last['resource']}/{last['name']} ({last.get('change') or 'edit'})",
            detail=f"{last['linked_by']}; "
            + "; ".join(f"{a['when']} {a['who']} {a['verb']} {a['name']}" for a in linked),
            severity="warning",
            evidence={"source": source, "audit": linked},
        )
    ]


def _change_findings(source: str, linked: list[dict[str, Any]]) -> list[Finding]:
    return [
        Finding(
            kind="audit",
            title=f"{w['who']} {w['verb']} {w['resource']}/{w['name']}" + (f" ({w['change']})" * bool(w.get("change"))),
            detail=f"{w['when']}; linked: {link_text(w['linked_by'])}",
            severity="warning",
            evidence={"source": source, "audit": [w]},
        )
        for w in linked[-3:]
    ]
