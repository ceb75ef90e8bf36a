"""Who an alert is about when its labels do not say: ask the alert's own series.

A rule that aggregates its identity away (``sum by (instance)``, a gRPC method, an Ingress,
or no labels at all) still reads series that carry their scrape target's identity
(``namespace``, ``pod``, ``application``, ``exported_service``...). Two questions, through the
recorded metrics tools, the way an SRE would ask them:

1. **Whose series are these?** Each selector of the alert's expression, narrowed by the
   alert's own labels, is read; when every series it answers belongs to one workload, that
   workload is the subject.
2. **Which member breaches?** When the series belong to several workloads, the expression is
   evaluated per workload (its plain aggregations grouped by the identity labels the series
   share); when exactly one member breaches the alert's own condition, it is the subject.

A blackbox probe's target is asked of the cluster too: when a workload of the name it is
probed by (its ``target`` label, a ``svc`` or ``svc.ns`` host) runs in the cluster, exactly one,
the probe is about that workload, not about an external dependency (``k8s_find_workload``).

Nothing found leaves the subject as it was (the incident escalates saying so).
"""

from __future__ import annotations

import re
from typing import Any

import promql_parser as pq

from agents.signal import signal_query
from state.alert import Alert, with_subject
from state.subject import Subject, WorkloadKind, probe_targets, resolve_labels
from tools.registry import ToolSession

# labels a rule or Alertmanager adds (never on the series the rule reads)
_NOT_FROM_SERIES = frozenset({"alertname", "severity", "prometheus", "alertstate", "team", "receiver", "cluster"})
# identity label groups, most specific first: the first group every series carries is the breakdown
IDENTITY_GROUPS: tuple[tuple[str, ...], ...] = (
    ("exported_namespace", "exported_service"),
    ("namespace", "deployment"),
    ("namespace", "statefulset"),
    ("namespace", "daemonset"),
    ("k8s_namespace_name", "k8s_deployment_name"),
    ("namespace", "application"),
    ("service_namespace", "service_name"),
    ("namespace", "service"),
    ("application",),
    ("service_name",),
    ("namespace", "job"),
    ("job",),
)
_PLAIN_AGGREGATION = re.compile(r"\b(sum|avg|max|min|count)\s*\(")
MAX_SELECTORS = 3


def needs_lookup(subject: Subject) -> bool:
    """Whether the labels left the subject open (no workload, node or dependency named)."""
    return subject.kind in ("cluster", "unknown")


def selectors(expr: str) -> list[str]:
    """The vector selectors an expression reads, as PromQL text (offsets and @ dropped)."""
    try:
        tree = pq.parse(expr)
    except ValueError:
        return []
    found: list[str] = []
    _collect(tree, found)
    return list(dict.fromkeys(found))


def _collect(node: Any, found: list[str]) -> None:
    kind = type(node).__name__
    if kind == "VectorSelector":
        matchers = ",".join(_matcher_text(m) for m in node.matchers.matchers if m.name != "__name__")
        name = node.name or ""
        found.append(f"{name}{{{matchers}}}" if matchers or not name else name)
        return
    if kind == "MatrixSelector":
        _collect(node.vector_selector, found)
        return
    for attr in ("expr", "lhs", "rhs"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, str | int | float):
            _collect(child, found)
    for arg in getattr(node, "args", None) or []:
        _collect(arg, found)


def _matcher_text(matcher: Any) -> str:
    op = "!~"
    for known, text in ((pq.MatchOp.Equal, "="), (pq.MatchOp.NotEqual, "!="), (pq.MatchOp.Re, "=~")):
        if matcher.op == known:
            op = text
    value = str(matcher.value).replace("\\", "\\\\").replace('"', '\\"')
    return f'{matcher.name}{op}"{value}"'


def narrowed(selector: str, labels: dict[str, str]) -> str:
    """``selector`` with the alert's own labels as equality matchers (those it does not constrain yet)."""
    extra = ",".join(
        f'{k}="{v}"' for k, v in sorted(labels.items()) if f"{k}=" not in selector and f"{k}!" not in selector
    )
    if not extra:
        return selector
    if selector.endswith("}"):
        body = selector[:-1]
        return f"{body}{',' if not body.endswith('{') else ''}{extra}}}"
    return f"{selector}{{{extra}}}"


def _workloads(series: list[dict[str, Any]]) -> dict[tuple[str | None, str], Subject]:
    found: dict[tuple[str | None, str], Subject] = {}
    for entry in series:
        subject = resolve_labels({k: str(v) for k, v in (entry.get("metric") or {}).items() if k != "__name__"})
        if subject.kind == "workload" and subject.name:
            found.setdefault((subject.namespace, subject.name), subject)
    return found


def _grouping(series: list[dict[str, Any]]) -> tuple[str, ...] | None:
    keys = [set((entry.get("metric") or {}).keys()) for entry in series]
    for group in IDENTITY_GROUPS:
        if keys and all(set(group) <= k for k in keys):
            return group
    return None


def per_member(expr: str, group: tuple[str, ...]) -> str | None:
    """``expr`` with its plain aggregations grouped by ``group`` (None when that does not make valid PromQL)."""
    by = ", ".join(group)
    rewritten = _PLAIN_AGGREGATION.sub(lambda m: f"{m.group(1)} by ({by}) (", expr)
    if rewritten == expr:
        return None
    try:
        pq.parse(rewritten)
    except ValueError:
        return None
    return rewritten


FIND_WORKLOAD = "k8s_find_workload"


def probed_workload(session: ToolSession, alert: Alert) -> Alert:
    """A probe alert about a workload the cluster runs, when exactly one workload has the probed name."""
    subject = alert.subject
    if (
        subject.kind != "dependency"
        or subject.reporter != "blackbox-exporter"
        or not session.backend.has(FIND_WORKLOAD)
    ):
        return alert
    for name, namespace, why in probe_targets(alert.labels):
        result = session.call(FIND_WORKLOAD, workload=name)
        found = [
            w for w in ((result.data or {}).get("workloads") or []) if namespace in (None, w.get("namespace"))
        ] if result.ok else []  # fmt: skip
        if len(found) != 1:
            continue  # none: not the cluster's; several: the name does not say which
        workload = found[0]
        kind: WorkloadKind = workload.get("kind") or "Deployment"
        where = f"{workload['namespace']}/{workload['name']}"
        evidence = {"name": f"{why}: the cluster runs {kind} {where}", "namespace": f"{FIND_WORKLOAD} {name}"}
        return with_subject(
            alert,
            subject.model_copy(
                update={"kind": "workload", "name": workload["name"], "namespace": workload["namespace"],
                        "workload_kind": kind, "evidence": evidence}
            ),
        )  # fmt: skip
    return alert


def lookup(session: ToolSession, alert: Alert) -> Alert:
    """The alert with its subject found from its own series (or the cluster), when the labels left it open."""
    alert = probed_workload(session, alert)
    query = signal_query(alert)
    if not query or not needs_lookup(alert.subject):
        return alert
    own = {k: v for k, v in alert.labels.items() if k not in _NOT_FROM_SERIES}
    seen: list[dict[str, Any]] = []
    for selector in selectors(query)[:MAX_SELECTORS]:
        asked = narrowed(selector, own)
        result = session.call("execute_query", query=asked)
        series = ((result.data or {}).get("result") or []) if result.ok else []
        members = _workloads(series)
        if len(members) == 1:
            found = next(iter(members.values()))
            why = f"every series of {asked} comes from {found.describe()} ({found.evidence.get('name', '')})"
            return with_subject(alert, found.model_copy(update={"evidence": found.evidence | {"name": why}}))
        seen.extend(series)
    return _breakdown(session, alert, query, seen)


def _breakdown(session: ToolSession, alert: Alert, query: str, seen: list[dict[str, Any]]) -> Alert:
    """Evaluate the alert per member; exactly one member breaching its condition is the subject."""
    group = _grouping(seen) if len(_workloads(seen)) > 1 else None
    rewritten = per_member(query, group) if group else None
    if rewritten is None:
        return alert
    result = session.call("execute_query", query=rewritten)
    members = _workloads(((result.data or {}).get("result") or []) if result.ok else [])
    if len(members) != 1:
        return alert
    found = next(iter(members.values()))
    why = f"of the members of {' '.join(group or ())}, only {found.describe()} breaches the alert's condition"
    return with_subject(alert, found.model_copy(update={"evidence": found.evidence | {"name": why}}))
