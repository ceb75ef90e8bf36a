"""What version the subject runs, and what it ran before: a version history from any telemetry.

Sources, in order of evidence (the first that shows a history wins; the alert's own label
only says what runs now). Before these, diagnosis reads the alert's own series when they carry
a version label (a rule ``by (version)``, OTLP's promoted ``service_version``):

1. the configured version metric by service (``build_info{service="cart"}``), the convention
   most services follow;
2. any version-carrying metric Prometheus knows (``*_build_info``, ``*_info`` such as
   ``app_info``/``target_info``, ``*version*``) whose series belong to the subject (its
   namespace and a workload/pod/application identity label), read from ``list_metrics``;
3. ``kube_pod_container_info{image}`` and cAdvisor's ``container_*{image}`` (an image tag);
4. the Deployment's rollout history from the Kubernetes API (ReplicaSets: revision, image,
   creation time), when a cluster is configured;
5. audited image changes (``kubectl set image``, a Helm upgrade) in the audit log.

Each series is cut into runs of consecutive samples, so a version deployed again later
(A → B → A) is a change when it comes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from state.alert_fields import rfc3339
from state.subject import Subject, owner_of_pod, pod_pattern, version_of
from tools.promql import range_step, with_labels
from tools.registry import ToolSession

STEP_S = 60
# metric names that carry a version in real exporters' and frameworks' conventions
_VERSION_METRIC = re.compile(r"(^|_)build_info$|(^|_)(app|application|service|version|target)_info$|_version(_info)?$")
_IMAGE_METRICS = ("kube_pod_container_info", "container_start_time_seconds", "container_memory_working_set_bytes")
MAX_PROBES = 6
_IDENTITY_KEYS = (
    "deployment", "statefulset", "daemonset", "k8s_deployment_name", "k8s_statefulset_name", "k8s_daemonset_name",
    "application", "service_name", "app", "app_kubernetes_io_name", "k8s_app", "service", "job", "container",
    "workload", "workload_name",
)  # fmt: skip


@dataclass(frozen=True)
class VersionRun:
    """One stretch of time a version ran (from its first to its last sample of that stretch)."""

    version: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ReleaseChange:
    """A version change: ``version`` replaced ``previous`` at ``at``."""

    version: str
    previous: str | None
    at: datetime


@dataclass
class VersionHistory:
    """The subject's versions over time, and where that was read."""

    runs: list[VersionRun] = field(default_factory=list)
    source: str = ""
    query: str | None = None

    @property
    def current(self) -> str | None:
        """The version of the latest run."""
        return self.runs[-1].version if self.runs else None

    def changes(self) -> list[ReleaseChange]:
        """Every change between consecutive runs of different versions."""
        return [
            ReleaseChange(b.version, a.version, b.start)
            for a, b in zip(self.runs, self.runs[1:], strict=False)
            if a.version != b.version
        ]


# --------------------------------------------------------------------------- pure parts


def belongs(labels: dict[str, str], subject: Subject) -> bool:
    """Whether a series' labels describe the subject (its namespace, and a workload identity)."""
    name = subject.name
    if not name:
        return False
    namespace = labels.get("namespace") or labels.get("k8s_namespace_name")
    if namespace and subject.namespace and namespace != subject.namespace:
        return False
    for key in _IDENTITY_KEYS:
        value = labels.get(key, "")
        if value and (value == name or value.rsplit("/", 1)[-1] == name):
            return True
    pod = labels.get("pod") or labels.get("k8s_pod_name") or ""
    owner = owner_of_pod(pod) if pod else None
    return bool(owner and owner[0] == name)


def runs_of(series: list[dict[str, Any]], subject: Subject | None = None) -> list[VersionRun]:
    """Version runs in a Prometheus matrix (only the subject's series when ``subject`` is given).

    A gap longer than 1.5 steps ends a run, so a version that comes back is a new run.
    """
    stamps: list[tuple[str, list[float]]] = []
    for entry in series:
        labels = entry.get("metric", {}) or {}
        if subject is not None and not belongs(labels, subject):
            continue
        found = version_of(labels)
        if found and entry.get("values"):
            stamps.append((found[0], sorted(float(t) for t, _ in entry["values"])))
    gaps = [b - a for _, ts in stamps for a, b in zip(ts, ts[1:], strict=False) if b > a]
    step = min(gaps, default=float(STEP_S))
    pieces: list[tuple[float, float, str]] = []
    for version, ts in stamps:
        begin = ts[0]
        for a, b in zip(ts, ts[1:], strict=False):
            if b - a > 1.5 * step:
                pieces.append((begin, a, version))
                begin = b
        pieces.append((begin, ts[-1], version))
    pieces.sort()
    merged: list[list[Any]] = []
    for begin, end, version in pieces:
        if merged and merged[-1][2] == version and begin <= merged[-1][1] + 1.5 * step:
            merged[-1][1] = max(merged[-1][1], end)  # several pods (series) of one version: one run
        else:
            merged.append([begin, end, version])
    return [VersionRun(v, datetime.fromtimestamp(b, UTC), datetime.fromtimestamp(e, UTC)) for b, e, v in merged]


def version_metric_candidates(names: list[str], already: set[str]) -> list[str]:
    """Metric names that may carry the subject's version, best conventions first, at most MAX_PROBES."""
    picked = [n for n in names if _VERSION_METRIC.search(n) and n not in already and not n.startswith("kube_")]
    picked.sort(key=lambda n: (0 if n.endswith("build_info") else 1 if n.endswith("_info") else 2, n))
    return picked[:MAX_PROBES]


def _subject_selector(subject: Subject) -> dict[str, str]:
    return {"namespace": subject.namespace} if subject.namespace else {}


def _pod_selector(subject: Subject) -> str:
    parts = [f'namespace="{subject.namespace}"'] if subject.namespace else []
    parts.append(f'pod=~"{pod_pattern(subject.name or "", subject.workload_kind)}"')
    if subject.container:
        parts.append(f'container="{subject.container}"')
    return ",".join(parts)


# --------------------------------------------------------------------------- reading


def _range(session: ToolSession, query: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    result = session.call(
        "execute_range_query",
        query=query,
        start=start.isoformat(),
        end=end.isoformat(),
        step=range_step(start, end, STEP_S),
    )
    return ((result.data or {}).get("result") or []) if result.ok else []


def discover(
    session: ToolSession,
    subject: Subject,
    version_metric: str,
    start: datetime,
    end: datetime,
    names: list[str] | None = None,
) -> VersionHistory:
    """The subject's version history over [start, end] from the first source that shows one.

    ``names``: the metric names Prometheus knows, when already read (else ``list_metrics`` is asked).
    """
    if subject.kind != "workload" or not subject.name:
        return VersionHistory()
    query = with_labels(version_metric, {"service": subject.name})
    runs = runs_of(_range(session, query, start, end), subject=None)
    if runs:
        return VersionHistory(runs, f"{version_metric} by service", query)
    names = names if names is not None else metric_names(session)
    tried = {version_metric}
    for name in version_metric_candidates(names, tried):
        # by the namespace label first; frameworks that name it otherwise (k8s_namespace_name): all, filtered here
        for query in dict.fromkeys((with_labels(name, _subject_selector(subject)), name)):
            runs = runs_of(_range(session, query, start, end), subject)
            if runs:
                return VersionHistory(runs, f"{name} (a version label)", query)
    for name in _IMAGE_METRICS:
        if names and name not in names:
            continue
        query = f"count by (image, pod) ({name}{{{_pod_selector(subject)}}})"
        runs = runs_of(_range(session, query, start, end), subject)
        if runs:
            return VersionHistory(runs, f"{name} (image tag)", query)
    return VersionHistory()


def metric_names(session: ToolSession) -> list[str]:
    """Every metric name the metrics source knows (empty when it cannot say)."""
    result = session.call("list_metrics")
    data = result.data if result.ok else None
    return [str(n) for n in data] if isinstance(data, list) else []


def history_from_rollouts(replicasets: list[dict[str, Any]], now: datetime) -> VersionHistory:
    """A history from a Deployment's ReplicaSets (revision order; a run lasts until the next revision)."""
    ordered = sorted(
        (rs for rs in replicasets if rs.get("version") and rs.get("created")),
        key=lambda rs: (int(rs.get("revision") or 0), str(rs["created"])),
    )
    runs = []
    for index, rs in enumerate(ordered):
        begin = rfc3339(str(rs["created"]))
        end = rfc3339(str(ordered[index + 1]["created"])) if index + 1 < len(ordered) else now
        if begin is not None and end is not None:
            runs.append(VersionRun(str(rs["version"]), begin, end))
    return VersionHistory(runs, "Kubernetes rollout history (ReplicaSets)", None)


def history_from_audit(image_changes: list[dict[str, Any]], now: datetime) -> VersionHistory:
    """A history from audited image changes (``image: old → new``) before ``now``."""
    runs: list[VersionRun] = []
    for write in sorted(image_changes, key=lambda w: str(w.get("when") or "")):
        when = rfc3339(str(write.get("when") or ""))
        change = str(write.get("change") or "")
        tag = change.rsplit(":", 1)[-1].strip() if ":" in change else ""
        if when is None or not tag or when > now:
            continue
        previous = _previous_image_tag(change)
        if previous and not runs:
            runs.append(VersionRun(previous, when - timedelta(seconds=1), when - timedelta(seconds=1)))
        if runs:
            runs[-1] = VersionRun(runs[-1].version, runs[-1].start, when)
        runs.append(VersionRun(tag, when, now))
    return VersionHistory(runs, "audited image changes", None) if runs else VersionHistory()


def _previous_image_tag(change: str) -> str | None:
    """``image a:v1 → a:v2`` names the previous tag too."""
    parts = re.split(r"\s*(?:→|->)\s*", change)
    if len(parts) == 2 and ":" in parts[0]:
        return parts[0].rsplit(":", 1)[-1].strip() or None
    return None
