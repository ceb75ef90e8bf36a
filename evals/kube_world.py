"""A local Kubernetes API for eval worlds: the REST wire format the ``kubernetes`` Python client speaks.

One HTTP server (:class:`KubeServer`, 127.0.0.1 and a free port) over a store of objects:

- :class:`WorldStore` (read-only) shows a simulated world as a cluster would, built at each
  request from the world's current state (evals/kube_objects.py): apps/v1 Deployments,
  StatefulSets, DaemonSets (their pod template with the running image), ReplicaSets per
  release (``deployment.kubernetes.io/revision``, image, ``creationTimestamp``), core/v1 Pods
  of the running release (container statuses from the workload's ``pod_states``), Nodes,
  Namespaces, Events (rollouts, crash-loop back-offs, plus the case's own) in core/v1 and
  events.k8s.io/v1, and the case's ConfigMaps; pod logs from ``kube/logs/``. A rollback the
  executor applies to the world shows at the next request. Writes answer 405: actions go
  through the executor.
- :class:`KubeState` (in memory, writable): the store the kubernetes executor backend's tests
  patch (JSON, merge and strategic merge patches on Deployments; NetworkPolicies created and
  deleted), recording every request so a test can assert exactly what the client sent.

Lists honour ``labelSelector`` (``k=v``, ``k!=v``, ``k``, ``!k``), ``fieldSelector`` (dotted
paths, ``=``/``==``/``!=``) and ``limit``/``continue`` paging.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlparse

if TYPE_CHECKING:
    from tools.world import World

TOKEN_ENV = "ALERTPILOT_EVAL_KUBE_TOKEN"  # the eval world's dummy bearer token (never a real one)
TOKEN = "eval-kube-token"

# resource (plural) → (kind, API group/version)
RESOURCES = {
    "deployments": ("Deployment", "apps/v1"),
    "statefulsets": ("StatefulSet", "apps/v1"),
    "daemonsets": ("DaemonSet", "apps/v1"),
    "replicasets": ("ReplicaSet", "apps/v1"),
    "pods": ("Pod", "v1"),
    "nodes": ("Node", "v1"),
    "namespaces": ("Namespace", "v1"),
    "events": ("Event", "v1"),
    "configmaps": ("ConfigMap", "v1"),
    "networkpolicies": ("NetworkPolicy", "networking.k8s.io/v1"),
}
CLUSTER_SCOPED = frozenset({"nodes", "namespaces"})


class KubeError(Exception):
    """An API error answered as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


class Store(Protocol):
    """Where a :class:`KubeServer` finds objects."""

    def objects(self, resource: str, group: str) -> list[dict[str, Any]]:
        """Every object of ``resource`` (as served under API ``group``)."""
        ...

    def log(self, namespace: str, pod: str, container: str | None, previous: bool) -> str:
        """A container's log text (KubeError 404/400 when there is none)."""
        ...

    def write(
        self, method: str, resource: str, namespace: str, name: str | None, body: Any, ctype: str, dry: bool
    ) -> Any:
        """Apply a write; returns the object to answer with."""
        ...


# --------------------------------------------------------------------------- selectors


def label_matches(labels: dict[str, str], selector: str) -> bool:
    """Whether ``labels`` satisfy an equality-based label selector (``a=b,c!=d,e,!f``)."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, _, value = term.partition("!=")
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, _, value = term.partition("==" if "==" in term else "=")
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _path_value(obj: Any, path: str) -> str:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return "" if obj is None else str(obj)


def field_matches(obj: dict[str, Any], selector: str) -> bool:
    """Whether ``obj`` satisfies a field selector (``involvedObject.name=x,type!=Normal``)."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        negate = "!=" in term
        key, _, value = term.partition("!=" if negate else ("==" if "==" in term else "="))
        if (_path_value(obj, key) == value) == negate:
            return False
    return True


# --------------------------------------------------------------------------- the in-memory store (tests)


@dataclass
class Seen:
    """One request as the client sent it."""

    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """A JSON merge patch (RFC 7386) applied to ``target`` in place."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def json_patch(target: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    """``replace``/``add`` operations of a JSON patch (RFC 6902) applied to ``target`` in place."""
    for op in ops:
        if op["op"] not in ("replace", "add"):
            raise KubeError(422, "Invalid", f"json patch op {op['op']!r} not supported")
        parts = op["path"].strip("/").split("/")
        node = target
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = copy.deepcopy(op["value"])


@dataclass
class KubeState:
    """Objects in memory (keyed by namespace and name) and every request seen."""

    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    replica_sets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    network_policies: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)

    def patches(self) -> list[Seen]:
        """The PATCH requests seen."""
        return [r for r in self.requests if r.method == "PATCH"]

    def _table(self, resource: str) -> dict[tuple[str, str], dict[str, Any]]:
        tables = {"deployments": self.deployments, "replicasets": self.replica_sets}
        tables["networkpolicies"] = self.network_policies
        if resource not in tables:
            raise KubeError(404, "NotFound", f"the server could not find the requested resource ({resource})")
        return tables[resource]

    def objects(self, resource: str, group: str) -> list[dict[str, Any]]:
        """Objects of ``resource``, each with its namespace and name set."""
        out = []
        for (namespace, name), obj in sorted(self._table(resource).items()):
            obj.setdefault("metadata", {}).setdefault("namespace", namespace)
            obj["metadata"].setdefault("name", name)
            out.append(obj)
        return out

    def log(self, namespace: str, pod: str, container: str | None, previous: bool) -> str:
        """No logs here."""
        raise KubeError(404, "NotFound", f'pods "{pod}" not found')

    def write(
        self, method: str, resource: str, namespace: str, name: str | None, body: Any, ctype: str, dry: bool
    ) -> Any:
        """PATCH a Deployment; POST/DELETE a NetworkPolicy."""
        table = self._table(resource)
        if method == "PATCH":
            obj = table.get((namespace, name or ""))
            if obj is None or resource != "deployments":
                raise KubeError(404, "NotFound", f'{resource}.apps "{name}" not found')
            target = copy.deepcopy(obj)
            if ctype == "application/json-patch+json":
                json_patch(target, body)
            elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                merge(target, body)
            else:
                raise KubeError(415, "UnsupportedMediaType", ctype)
            if not dry:
                table[(namespace, name or "")] = target
            return target
        if method == "POST":
            key = (namespace, body["metadata"]["name"])
            if key in table:
                raise KubeError(409, "AlreadyExists", "exists")
            table[key] = body
            return body
        if table.pop((namespace, name or ""), None) is None:
            raise KubeError(404, "NotFound", "not found")
        return {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200, "message": "deleted"}


# --------------------------------------------------------------------------- the server


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    """A ``Status`` failure object, as the API server answers errors."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@dataclass(frozen=True)
class _Route:
    group: str  # "v1" (core) or "apps/v1" ...
    resource: str
    namespace: str | None
    name: str | None
    sub: str | None  # "log"


def route(path: str) -> _Route:
    """The resource a request path names (KubeError 404 for anything else)."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    else:
        raise KubeError(404, "NotFound", f"the server could not find the requested resource ({path})")
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise KubeError(404, "NotFound", f"the server could not find the requested resource ({path})")
    return _Route(group, rest[0], namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None)


def _list(store: Store, r: _Route, query: dict[str, list[str]]) -> dict[str, Any]:
    items = [
        o
        for o in store.objects(r.resource, r.group)
        if (r.namespace is None or o["metadata"].get("namespace") == r.namespace)
        and label_matches(o["metadata"].get("labels") or {}, query.get("labelSelector", [""])[0])
        and field_matches(o, query.get("fieldSelector", [""])[0])
    ]
    limit = int(query.get("limit", ["0"])[0] or 0)
    start = int(query.get("continue", ["0"])[0] or 0)
    page = items[start : start + limit] if limit else items
    more = bool(limit) and start + limit < len(items)
    kind = RESOURCES.get(r.resource, ("Object", r.group))[0]
    meta = {"resourceVersion": "100", "continue": str(start + limit) if more else ""}
    return {"kind": f"{kind}List", "apiVersion": r.group, "metadata": meta, "items": page}


def _get(store: Store, r: _Route) -> dict[str, Any]:
    for obj in store.objects(r.resource, r.group):
        meta = obj["metadata"]
        if meta.get("name") == r.name and (r.namespace is None or meta.get("namespace") == r.namespace):
            return obj
    group = "" if r.group == "v1" else f".{r.group.split('/')[0]}"
    raise KubeError(404, "NotFound", f'{r.resource}{group} "{r.name}" not found')


class KubeServer:
    """The API server over ``store`` on 127.0.0.1 and a free port (``url``); use it as a context manager."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> KubeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        store = self.store
        seen = getattr(store, "requests", None)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any, ctype: str = "application/json") -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                query = parse_qs(url.query)
                ctype = self.headers.get("Content-Type", "")
                if seen is not None:
                    seen.append(Seen(self.command, url.path, query, ctype, body))
                try:
                    r = route(url.path)
                    if self.command != "GET":
                        answer = store.write(
                            self.command, r.resource, r.namespace or "", r.name, body, ctype, "dryRun" in query
                        )
                        return self._send(201 if self.command == "POST" else 200, answer)
                    if r.sub == "log":
                        container = query.get("container", [None])[0]
                        previous = query.get("previous", ["false"])[0] == "true"
                        text = store.log(r.namespace or "", r.name or "", container, previous)
                        return self._send(200, _tail(text, query), "text/plain")
                    return self._send(200, _get(store, r) if r.name else _list(store, r, query))
                except KubeError as exc:
                    return self._send(exc.code, status(exc.code, exc.reason, exc.message))

            do_GET = do_PATCH = do_POST = do_DELETE = do_PUT = _serve  # noqa: N815 - BaseHTTPRequestHandler's names

        return Handler


def _tail(text: str, query: dict[str, list[str]]) -> str:
    lines = text.splitlines(keepends=True)
    tail = query.get("tailLines", [None])[0]
    if tail is not None:
        lines = lines[-int(tail) :] if int(tail) > 0 else []
    out = "".join(lines)
    limit = query.get("limitBytes", [None])[0]
    return out[: int(limit)] if limit is not None else out


# --------------------------------------------------------------------------- the eval world


class WorldStore:
    """A simulated world shown as a cluster (read-only): objects built from its state at each request."""

    def __init__(self, world: World, fixtures: list[dict[str, Any]], logs: dict[str, str]) -> None:
        self.world = world
        self.fixtures = fixtures
        self.logs = logs

    def objects(self, resource: str, group: str) -> list[dict[str, Any]]:
        """The world's objects of ``resource`` now, with the case's fixtures of that kind."""
        from evals.kube_objects import cluster_objects

        if resource not in RESOURCES:
            raise KubeError(404, "NotFound", f"the server could not find the requested resource ({resource})")
        return cluster_objects(self.world, self.fixtures, resource, group)

    def log(self, namespace: str, pod: str, container: str | None, previous: bool) -> str:
        """``kube/logs/<pod>[.previous].log``, else ``kube/logs/<workload>[.previous].log`` for its pods."""
        from evals.kube_objects import pod_owner

        suffix = ".previous" if previous else ""
        for key in (f"{pod}{suffix}", f"{pod_owner(self.world, namespace, pod) or ''}{suffix}"):
            if key in self.logs:
                return self.logs[key]
        if previous:
            raise KubeError(
                400, "BadRequest", f'previous terminated container "{container or pod}" in pod "{pod}" not found'
            )
        _get(self, _Route("v1", "pods", namespace, pod, None))  # 404 for a pod that does not exist
        return ""

    def write(
        self, method: str, resource: str, namespace: str, name: str | None, body: Any, ctype: str, dry: bool
    ) -> Any:
        """Refused: the eval world changes only through the executor."""
        raise KubeError(
            405, "MethodNotAllowed", "the eval world's Kubernetes API is read-only; actions go through the executor"
        )


FIXTURE_KINDS = frozenset({"Event", "ConfigMap"})


def load_fixtures(directory: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The objects of ``kube/*.yaml`` (one object, a list, or a ``kind: List``) and the texts of ``kube/logs/*.log``.

    ValueError naming the file and entry for an object that is not an Event or ConfigMap with a
    ``metadata.name``.
    """
    import yaml

    objects: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text())
        items = data.get("items", []) if isinstance(data, dict) and data.get("kind") == "List" else data
        for n, obj in enumerate(items if isinstance(items, list) else [items]):
            where = f"{path}: [{n}]" if isinstance(items, list) else str(path)
            if not isinstance(obj, dict) or obj.get("kind") not in FIXTURE_KINDS:
                raise ValueError(f"{where}.kind: expected one of {sorted(FIXTURE_KINDS)}")
            if not isinstance(obj.get("metadata"), dict) or not obj["metadata"].get("name"):
                raise ValueError(f"{where}.metadata.name: is required")
            objects.append(obj)
    logs = {p.name.removesuffix(".log"): p.read_text() for p in sorted((directory / "logs").glob("*.log"))}
    return objects, logs


@contextmanager
def serve_world(world: World, directory: Path, moved: Any = None) -> Iterator[str]:
    """The world's Kubernetes API on 127.0.0.1 for one episode; yields its URL.

    ``moved`` (a prom_world.Anchor) moves the fixtures' times with the rest of the case.
    """
    fixtures, logs = load_fixtures(directory) if directory.is_dir() else ([], {})
    if moved is not None:
        from evals.prom_world import moved_line

        fixtures = [moved.record(obj) for obj in fixtures]
        logs = {
            key: "".join(moved_line(line, moved) + "\n" for line in text.splitlines()) for key, text in logs.items()
        }
    with KubeServer(WorldStore(world, fixtures, logs)) as server:
        yield server.url
