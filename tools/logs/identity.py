"""Who wrote a record: namespace, pod, container and workload, from whatever the shape carries.

Shapes read (public conventions, not our fixtures):

- fluent-bit / fluentd kubernetes filter: ``kubernetes: {namespace_name, pod_name,
  container_name, labels: {app, app.kubernetes.io/name, k8s-app, ...}}``;
- Filebeat / Elastic: ``kubernetes: {namespace, pod: {name}, container: {name},
  deployment|statefulset|daemonset|replicaset: {name}}``;
- Vector ``kubernetes_logs``: ``kubernetes: {pod_namespace, pod_name, container_name,
  pod_owner: "ReplicaSet/x-7d9f8b6c5", pod_labels}``; Loki / Promtail labels ``namespace``,
  ``pod``, ``container``, ``app``; OpenTelemetry resource attributes (dotted keys, nested
  ``resource.attributes`` or OTLP ``[{key, value: {stringValue}}]`` lists) ``k8s.namespace.name``,
  ``k8s.pod.name``, ``k8s.container.name``, ``k8s.deployment.name`` (statefulset, daemonset,
  job, cronjob), ``service.name``, and their Prometheus-style ``k8s_*_name`` spellings;
- Tencent CLS TKE collection ``__TAG__.namespace``, ``__TAG__.pod_name``,
  ``__TAG__.container_name``, ``__TAG__.pod_label_<label>``;
- GKE Cloud Logging ``resource.labels.{namespace_name, pod_name, container_name}``;
- plain ``namespace`` / ``pod`` / ``container`` / ``workload`` / ``service`` / ``app`` fields;
- the kubelet's file names: ``/var/log/pods/<ns>_<pod>_<uid>/<container>/N.log`` and
  ``/var/log/containers/<pod>_<ns>_<container>-<id>.log`` (:func:`from_path`).

Audit events (``objectRef``) and core/v1 Events (``involvedObject``) name their subject
themselves; :mod:`tools.logs.kinds` reads those.

Explicit names come first: workload fields, the pod's labels, its owner, then the
service the record names (``service``, ``service.name``, ``app``). A pod with none of those
resolves to its workload by the names controllers give pods:
``<deployment>-<pod-template-hash>-<5>``, ``<statefulset>-<ordinal>``,
``<daemonset|job>-<5>`` (the 5 characters from Kubernetes' vowel-free alphabet).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple

_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.String alphabet
_DEPLOYMENT_POD = re.compile(r"^(?P<w>[a-z0-9][a-z0-9.-]*?)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_SUFFIXED_POD = re.compile(rf"^(?P<w>[a-z0-9][a-z0-9.-]*?)-[{_SAFE}]{{5}}$")
_ORDINAL_POD = re.compile(r"^(?P<w>[a-z0-9][a-z0-9.-]*?)-\d+$")
_REPLICASET = re.compile(r"^(?P<w>.+)-[a-z0-9]{6,10}$")
# the kubelet's layouts; copies keep them (a log collector, `kubectl cp`, an archive), so the directory
# need not be /var/log: the pod uid directory and the 64-hex container id are what make them unambiguous
_PODS_DIR = re.compile(
    r"(?:^|/)(?P<ns>[a-z0-9][a-z0-9-]*)_(?P<pod>[a-z0-9][a-z0-9.-]*)_[0-9a-f]{8}-[0-9a-f-]{27}/(?P<container>[^/]+)/"
)
_CONTAINERS_FILE = re.compile(
    r"(?:^|/)(?P<pod>[a-z0-9][a-z0-9.-]*)_(?P<ns>[a-z0-9][a-z0-9-]*)_(?P<container>[a-z0-9][a-z0-9-]*)-[0-9a-f]{64}\.log"
)

NAMESPACE_KEYS = (
    "kubernetes.namespace_name",
    "kubernetes.pod_namespace",
    "kubernetes.namespace.name",
    "kubernetes.namespace",
    "k8s.namespace.name",
    "resource.attributes.k8s.namespace.name",
    "resource.labels.namespace_name",
    "__TAG__.namespace",
    "__TAG__.namespace_name",
    "k8s_namespace_name",
    "kubernetes_namespace_name",
    "kubernetes_namespace",
    "namespace_name",
    "namespace",
)
POD_KEYS = (
    "kubernetes.pod_name",
    "kubernetes.pod.name",
    "k8s.pod.name",
    "resource.attributes.k8s.pod.name",
    "resource.labels.pod_name",
    "__TAG__.pod_name",
    "k8s_pod_name",
    "kubernetes_pod_name",
    "pod_name",
    "podName",
    "pod",
)
CONTAINER_KEYS = (
    "kubernetes.container_name",
    "kubernetes.container.name",
    "k8s.container.name",
    "resource.attributes.k8s.container.name",
    "resource.labels.container_name",
    "__TAG__.container_name",
    "k8s_container_name",
    "kubernetes_container_name",
    "container_name",
    "container",
)
_KINDS = ("deployment", "statefulset", "daemonset", "job", "cronjob")
WORKLOAD_KEYS = (
    "workload",
    "workload_name",
    "__TAG__.workload_name",
    *(f"k8s.{kind}.name" for kind in _KINDS),
    *(f"resource.attributes.k8s.{kind}.name" for kind in _KINDS),
    *(f"kubernetes.{kind}.name" for kind in _KINDS),
    *(f"k8s_{kind}_name" for kind in _KINDS),
)
LABEL_KEYS = ("app.kubernetes.io/name", "app", "k8s-app", "app.kubernetes.io/instance", "name")
LABEL_MAPS = ("kubernetes.labels", "kubernetes.pod_labels", "labels")
SERVICE_KEYS = ("service.name", "resource.attributes.service.name", "service_name", "service", "application", "app")
OWNER_KEYS = ("kubernetes.pod_owner",)
_TAG_LABELS = tuple((f"pod_label_{key}", f"__TAG__.pod_label_{key}") for key in LABEL_KEYS)  # CLS TKE labels


class Identity(NamedTuple):
    """What wrote a record (each part None when the shape does not say); a tuple: cheap to make."""

    namespace: str | None = None
    pod: str | None = None
    container: str | None = None
    workload: str | None = None

    def __bool__(self) -> bool:
        return any((self.namespace, self.pod, self.container, self.workload))

    def or_else(self, fallback: Identity) -> Identity:
        """The identity with the parts it lacks taken from ``fallback`` (a record's source)."""
        if not fallback:
            return self
        return Identity(
            self.namespace or fallback.namespace,
            self.pod or fallback.pod,
            self.container or fallback.container,
            self.workload or fallback.workload,
        )


NOBODY = Identity()


@lru_cache(maxsize=4096)
def workload_of(pod: str) -> str:
    """The workload behind a pod name (``checkout-7d9f8b6c5-x2x4q`` → ``checkout``, ``db-0`` → ``db``)."""
    for pattern in (_DEPLOYMENT_POD, _ORDINAL_POD, _SUFFIXED_POD):
        match = pattern.match(pod)
        if match:
            return match["w"]
    return pod


def replicaset_workload(name: str) -> str:
    """The Deployment behind a ReplicaSet name (``checkout-7d9f8b6c5`` → ``checkout``)."""
    match = _REPLICASET.match(name)
    return match["w"] if match else name


@lru_cache(maxsize=1024)
def _plan(path: str) -> tuple[tuple[str, str], ...]:
    """The (head, rest) splits of a dotted path, longest head first."""
    parts = path.split(".")
    return tuple((".".join(parts[:cut]), ".".join(parts[cut:])) for cut in range(len(parts) - 1, 0, -1))


def lookup(record: dict[str, Any], path: str) -> Any:
    """``record``'s value at a dotted ``path``, whether stored flat (``"k8s.pod.name"``) or nested."""
    found = record.get(path)
    if found is not None:
        return found
    for head, rest in _plan(path):
        inner = record.get(head)
        if inner is None:
            continue
        if isinstance(inner, list) and inner and isinstance(inner[0], dict) and "key" in inner[0]:
            inner = _otlp_attributes(inner)
        if isinstance(inner, dict):
            found = lookup(inner, rest)
            if found is not None:
                return found
    return None


def _otlp_attributes(items: list[Any]) -> dict[str, Any]:
    out = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("value"), dict):
            value = item["value"]
            out[str(item.get("key"))] = next(iter(value.values()), None)
    return out


def _root(path: str) -> str:
    return path.split(".", 1)[0]


_FIELDS = (POD_KEYS, WORKLOAD_KEYS, OWNER_KEYS, SERVICE_KEYS, NAMESPACE_KEYS, CONTAINER_KEYS, LABEL_MAPS)
_ANCHORS = frozenset(
    {path for keys in _FIELDS for path in keys} | {_root(path) for keys in _FIELDS for path in keys} | {"__TAG__"}
)


Plan = tuple[tuple[str, str], ...]  # (top-level key, the rest of the dotted path or "")


@lru_cache(maxsize=512)
def _plan_for(present: frozenset[str]) -> tuple[Plan, ...]:
    """Per field, the paths worth looking up in a record whose top-level keys are ``present``, split at the top."""
    plans = []
    for keys in _FIELDS:
        plan = []
        for path in keys:
            if path in present:
                plan.append((path, ""))
            elif _root(path) in present:
                plan.append((_root(path), path[len(_root(path)) + 1 :]))
        plans.append(tuple(plan))
    return tuple(plans)


def _text(record: dict[str, Any], plan: Plan) -> str | None:
    for head, rest in plan:
        value = record.get(head)
        if rest and value is not None:
            value = lookup(value, rest) if isinstance(value, dict) else None
        if value.__class__ is str and value:
            return value  # type: ignore[no-any-return]
    return None


def _label(record: dict[str, Any], maps: Plan) -> str | None:
    for head, rest in maps:
        labels = record.get(head)
        if rest and isinstance(labels, dict):
            labels = lookup(labels, rest)
        if isinstance(labels, dict):
            for key in LABEL_KEYS:
                value = labels.get(key)
                if isinstance(value, str) and value:
                    return value
    tags = record.get("__TAG__")
    for plain, flat in _TAG_LABELS:
        value = tags.get(plain) if isinstance(tags, dict) else record.get(flat)
        if isinstance(value, str) and value:
            return value
    return None


_SEEN: dict[tuple[str, tuple[tuple[str, Any], ...]], Identity] = {}


def from_fields(record: dict[str, Any]) -> Identity:
    """The identity a decoded record carries (see the module docstring for the shapes)."""
    present = _ANCHORS.intersection(record)
    if not present:
        return NOBODY
    if len(present) == 1:  # one shipper object (CLS __TAG__, fluent-bit kubernetes): the same on many lines
        (root,) = present
        tags = record[root]
        if isinstance(tags, dict) and all(value.__class__ is str for value in tags.values()):
            key = (root, tuple(tags.items()))
            known = _SEEN.get(key)
            if known is None:
                if len(_SEEN) > 4096:
                    _SEEN.clear()
                known = _SEEN[key] = _identity(record, present)
            return known
    return _identity(record, present)


def _identity(record: dict[str, Any], present: frozenset[str]) -> Identity:
    pods, workloads, owners, services, namespaces, containers, maps = _plan_for(present)
    pod = _text(record, pods)
    workload = _text(record, workloads) or _label(record, maps)
    if workload is None:
        owner = _text(record, owners)
        if owner and "/" in owner:
            kind, _, name = owner.partition("/")
            workload = replicaset_workload(name) if kind == "ReplicaSet" else name
    if workload is None:  # a service the record names beats a guess from its pod's name
        workload = _text(record, services)
    if workload is None and pod:
        workload = workload_of(pod)
    namespace = _text(record, namespaces)
    container = _text(record, containers)
    if not (namespace or pod or container or workload):
        return NOBODY
    return Identity(namespace, pod, container, workload)


def from_path(name: str) -> Identity:
    """The identity the kubelet's log file name gives (both layouts, wherever the file now lives), else nobody."""
    match = _PODS_DIR.search(name) or _CONTAINERS_FILE.search(name)
    if not match:
        return NOBODY
    return Identity(match["ns"], match["pod"], match["container"], workload_of(match["pod"]))


_WORKLOAD_RESOURCES = frozenset(
    {"deployments", "statefulsets", "daemonsets", "jobs", "cronjobs", "services", "horizontalpodautoscalers"}
)


def object_identity(kind_or_resource: str | None, name: str | None, namespace: str | None) -> Identity:
    """The identity of the object an Event or an audit record is about (a Pod, a Deployment, ...)."""
    what = (kind_or_resource or "").lower()
    if not name:
        return Identity(namespace) if namespace else NOBODY
    if what in ("pod", "pods"):
        return Identity(namespace, name, None, workload_of(name))
    if what in ("replicaset", "replicasets"):
        return Identity(namespace, None, None, replicaset_workload(name))
    if what in ("configmap", "configmaps", "secret", "secrets", "node", "nodes", "namespace", "namespaces"):
        return Identity(namespace) if namespace else NOBODY
    if what.rstrip("s") + "s" in _WORKLOAD_RESOURCES or what in _WORKLOAD_RESOURCES:
        return Identity(namespace, None, None, name)
    return Identity(namespace, None, None, name)


def subject_of(record: dict[str, Any], kind: str) -> Identity:
    """Whom an event (``involvedObject``/``regarding``) or audit record (``objectRef``) is about."""
    if kind == "event":
        ref = record.get("involvedObject") or record.get("regarding") or {}
        meta = record.get("metadata") or {}
        if not isinstance(ref, dict):
            return NOBODY
        namespace = ref.get("namespace") or (meta.get("namespace") if isinstance(meta, dict) else None)
        return object_identity(ref.get("kind"), ref.get("name"), namespace)
    ref = record.get("objectRef") or {}
    if not isinstance(ref, dict):
        return NOBODY
    return object_identity(ref.get("resource"), ref.get("name"), ref.get("namespace"))
