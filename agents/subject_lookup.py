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

A workload named without its namespace (a rule ``sum by (deployment)`` over the proxies of
every namespace) asks the same two questions for the namespace: the one namespace whose
series of that workload breach the condition is where it runs (a same-named staging copy
that is healthy is not the subject).

A proxy's composite backend name (Traefik's ``<namespace>-<service>-<port>@kubernetes``,
ingress-nginx's ``$proxy_upstream_name`` in the access-log records a log alarm carries; the
controller that wrote them is never the subject) is split where ``services:`` or the cluster
knows the halves: exactly one (namespace, workload) split that exists is the backend.

A blackbox probe's target is asked of the cluster too: when a workload of the name it is
probed by (its ``target`` label, a ``svc`` or ``svc.ns`` host) runs in the cluster, exactly one,
the probe is about that workload, not about an external dependency (``k8s_find_workload``).

Nothing found leaves the subject as it was (the incident escalates saying so).
"""

from __future__ import annotations

import re
from typing import Any

import promql_parser as pq

from agents.alarm_logs import carried_records, record_content
from agents.signal import signal_query
from state.alert import Alert, with_subject
from state.subject import Subject, WorkloadKind, probe_targets, resolve_labels, upstream_parts, upstream_subject
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
_GROUPED_AGGREGATION = re.compile(r"\b(sum|avg|max|min|count)\s+by\s*\(([^)]*)\)\s*\(")
MAX_SELECTORS = 3


def needs_lookup(subject: Subject) -> bool:
    """Whether the labels left the subject open (no workload, node or dependency named)."""
    return subject.kind in ("cluster", "unknown")


def needs_namespace(subject: Subject) -> bool:
    """Whether the labels name a workload but not where it runs."""
    return subject.kind == "workload" and bool(subject.name) and not subject.namespace


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

    def widen(match: re.Match[str]) -> str:  # an existing by (...) keeps its labels and gains the group's
        labels = [label.strip() for label in match.group(2).split(",") if label.strip()]
        labels += [label for label in group if label not in labels]
        return f"{match.group(1)} by ({', '.join(labels)}) ("

    rewritten = _GROUPED_AGGREGATION.sub(widen, expr)
    rewritten = _PLAIN_AGGREGATION.sub(lambda m: f"{m.group(1)} by ({by}) (", rewritten)
    if rewritten == expr:
        return None
    try:
        pq.parse(rewritten)
    except ValueError:
        return None
    return rewritten


# ingress-nginx's access-log field naming the upstream; its catch-all backend is no workload
UPSTREAM_FIELD = "proxy_upstream_name"
_NO_BACKEND = frozenset({"", "-", "upstream-default-backend"})


def carried_upstream(alert: Alert) -> Alert:
    """A log alarm over an ingress controller's access log is about the one upstream its records name."""
    if not needs_lookup(alert.subject):
        return alert
    names = set()
    for record in carried_records(alert):
        content = record_content(record)
        if isinstance(content, dict) and UPSTREAM_FIELD in content:
            names.add(str(content[UPSTREAM_FIELD]).strip())
    names -= _NO_BACKEND
    if len(names) != 1:
        return alert
    where = f"field {UPSTREAM_FIELD} of the alarm's records"
    return with_subject(alert, upstream_subject(names.pop(), where, "ingress-nginx", alert.subject.cluster))


def split_upstream(session: ToolSession, alert: Alert, known: dict[str, str | None] | None = None) -> Alert:
    """The workload behind a composite backend name: the one split ``services:`` or the cluster knows."""
    subject = alert.subject
    name = subject.evidence.get("upstream") if subject.kind != "workload" else None
    if not name:
        return alert
    parts = upstream_parts(name)
    known = known or {}
    found = [(ns, svc) for ns, svc in parts if svc in known and known[svc] in (None, ns)]
    how = "services: config"
    if len(found) != 1 and session.backend.has("k8s_workload"):
        found = [(ns, svc) for ns, svc in parts if session.call("k8s_workload", namespace=ns, workload=svc).ok]
        how = "the cluster runs that Deployment"
    if len(found) != 1:
        return alert  # none known, or the name does not say which split
    namespace, service = found[0]
    why = f"{subject.evidence['name']}; split as {namespace}/{service} ({how})"
    evidence = {"name": why, "namespace": f"the namespace part of {name}", "upstream": name}
    return with_subject(
        alert,
        subject.model_copy(
            update={"kind": "workload", "name": service, "namespace": namespace, "workload_kind": "Deployment",
                    "evidence": evidence}
        ),
    )  # fmt: skip


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


def lookup(session: ToolSession, alert: Alert, known: dict[str, str | None] | None = None) -> Alert:
    """The alert with its subject found from its own series (or the cluster), when the labels left it open.

    ``known``: the configured services and their namespaces (``services:``), to split composite names.
    """
    alert = probed_workload(session, split_upstream(session, carried_upstream(alert), known))
    query = signal_query(alert)
    if query and needs_namespace(alert.subject):
        return _namespace(session, alert, query)
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


def _namespace(session: ToolSession, alert: Alert, query: str) -> Alert:
    """The alert's workload placed in the one namespace whose series of it breach (or the only one it runs in)."""
    subject = alert.subject
    own = {k: v for k, v in alert.labels.items() if k not in _NOT_FROM_SERIES}
    namespaces: set[str] = set()
    for selector in selectors(query)[:MAX_SELECTORS]:
        result = session.call("execute_query", query=narrowed(selector, own))
        for entry in ((result.data or {}).get("result") or []) if result.ok else []:
            namespace = (entry.get("metric") or {}).get("namespace")
            if namespace:
                namespaces.add(str(namespace))
    why = f"the only namespace whose series of {subject.name} answer"
    if len(namespaces) > 1:
        rewritten = per_member(query, ("namespace",))
        per_namespace = session.call("execute_query", query=rewritten) if rewritten else None
        answered = per_namespace.data if per_namespace is not None and per_namespace.ok else None
        breaching = {
            str((entry.get("metric") or {}).get("namespace"))
            for entry in (answered or {}).get("result") or []
            if (entry.get("metric") or {}).get("namespace")
        }
        namespaces = breaching & namespaces
        why = f"of the namespaces running {subject.name}, only this one breaches the alert's condition"
    if len(namespaces) != 1:
        return alert
    namespace = next(iter(namespaces))
    placed = subject.model_copy(update={"namespace": namespace, "evidence": subject.evidence | {"namespace": why}})
    return with_subject(alert, placed)
