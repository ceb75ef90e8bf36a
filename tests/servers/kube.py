"""A tiny Kubernetes API server speaking apps/v1 (Deployments, ReplicaSets) and networking/v1.

It keeps objects in memory, answers GET/LIST (with ``labelSelector`` equality terms and
``limit``/``continue`` paging), applies JSON patches (``replace``), merge and strategic
merge patches on Deployments, and records every request so tests can assert exactly
what the client sent (method, path, query, Content-Type, body).
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


@dataclass
class KubeState:
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    replica_sets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    network_policies: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)

    def patches(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "PATCH"]


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def json_patch(target: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    for op in ops:
        assert op["op"] in ("replace", "add"), op
        parts = op["path"].strip("/").split("/")
        node = target
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = copy.deepcopy(op["value"])


def matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class KubeServer:
    def __init__(self, state: KubeState) -> None:
        self.state = state
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> KubeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - one small handler class
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> tuple[list[str], dict[str, list[str]], Any]:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                query = parse_qs(url.query)
                state.requests.append(Seen(self.command, url.path, query, self.headers.get("Content-Type", ""), body))
                return url.path.strip("/").split("/"), query, body

            def do_GET(self) -> None:
                parts, query, _ = self._record()
                # apis/apps/v1/namespaces/{ns}/{kind}[/{name}]
                ns, kind = parts[4], parts[5]
                store = {"deployments": state.deployments, "replicasets": state.replica_sets}[kind]
                if len(parts) == 7:
                    obj = store.get((ns, parts[6]))
                    if obj is None:
                        return self._send(404, status(404, "NotFound", f'{kind} "{parts[6]}" not found'))
                    return self._send(200, obj)
                selector = query.get("labelSelector", [""])[0]
                items = [
                    o
                    for (n, _), o in sorted(store.items())
                    if n == ns and matches(o["metadata"].get("labels") or {}, selector)
                ]
                limit = int(query.get("limit", ["0"])[0])
                start = int(query.get("continue", ["0"])[0])
                page = items[start : start + limit] if limit else items
                more = limit and start + limit < len(items)
                meta = {"resourceVersion": "100", "continue": str(start + limit) if more else ""}
                return self._send(200, {"kind": "List", "apiVersion": "apps/v1", "metadata": meta, "items": page})

            def do_PATCH(self) -> None:
                parts, query, body = self._record()
                ns, name = parts[4], parts[6]
                obj = state.deployments.get((ns, name))
                if obj is None:
                    return self._send(404, status(404, "NotFound", f'deployments.apps "{name}" not found'))
                ctype = self.headers.get("Content-Type", "")
                target = copy.deepcopy(obj)
                if ctype == "application/json-patch+json":
                    json_patch(target, body)
                elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                    merge(target, body)
                else:
                    return self._send(415, status(415, "UnsupportedMediaType", ctype))
                if "dryRun" not in query:
                    state.deployments[(ns, name)] = target
                return self._send(200, target)

            def do_POST(self) -> None:
                parts, _, body = self._record()
                ns = parts[4]
                key = (ns, body["metadata"]["name"])
                if key in state.network_policies:
                    return self._send(409, status(409, "AlreadyExists", "exists"))
                state.network_policies[key] = body
                return self._send(201, body)

            def do_DELETE(self) -> None:
                parts, _, _ = self._record()
                key = (parts[4], parts[6])
                if state.network_policies.pop(key, None) is None:
                    return self._send(404, status(404, "NotFound", "not found"))
                return self._send(200, status(200, "Success", "deleted") | {"status": "Success"})

        return Handler


def pod_template(
    image: str, version: str, hash_: str | None, extra_annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    labels = {"app": "checkout", "app.kubernetes.io/version": version}
    if hash_:
        labels["pod-template-hash"] = hash_
    meta: dict[str, Any] = {"labels": labels}
    if extra_annotations:
        meta["annotations"] = extra_annotations
    return {
        "metadata": meta,
        "spec": {
            "containers": [
                {
                    "name": "checkout",
                    "image": image,
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {"limits": {"cpu": "500m"}},
                }
            ],
            "restartPolicy": "Always",
        },
    }


def checkout_cluster(current: int = 3, paused: bool = False) -> KubeState:
    """Deployment checkout (uid d-1) with ReplicaSets for revisions 1..3 (v2.0, v2.1, v2.2), one foreign RS."""
    versions = {1: ("v2.0", "aaa"), 2: ("v2.1", "bbb"), 3: ("v2.2", "ccc")}
    state = KubeState()
    for revision, (version, hash_) in versions.items():
        state.replica_sets[("shop", f"checkout-{hash_}")] = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"checkout-{hash_}",
                "namespace": "shop",
                "labels": {"app": "checkout", "pod-template-hash": hash_},
                "annotations": {
                    "deployment.kubernetes.io/revision": str(revision),
                    "deployment.kubernetes.io/desired-replicas": "3",
                    "deployment.kubernetes.io/max-replicas": "4",
                    "team": f"payments-r{revision}",
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": "checkout",
                        "uid": "d-1",
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "replicas": 3 if revision == current else 0,
                "selector": {"matchLabels": {"app": "checkout", "pod-template-hash": hash_}},
                "template": pod_template(f"registry.local/shop/checkout:{version}", version, hash_),
            },
        }
    # A ReplicaSet that matches the selector but belongs to another controller: must be ignored.
    state.replica_sets[("shop", "checkout-foreign")] = {
        "metadata": {
            "name": "checkout-foreign",
            "namespace": "shop",
            "labels": {"app": "checkout"},
            "annotations": {"deployment.kubernetes.io/revision": "9"},
            "ownerReferences": [{"kind": "Deployment", "name": "other", "uid": "d-2", "controller": True}],
        },
        "spec": {"template": pod_template("registry.local/shop/checkout:v9", "v9", None)},
    }
    version, _ = versions[current]
    state.deployments[("shop", "checkout")] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "checkout",
            "namespace": "shop",
            "uid": "d-1",
            "labels": {"app": "checkout", "app.kubernetes.io/instance": "shop"},
            "annotations": {
                "deployment.kubernetes.io/revision": str(current),
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "team": "payments-now",
            },
        },
        "spec": {
            "replicas": 3,
            "paused": paused,
            "selector": {"matchLabels": {"app": "checkout"}},
            "template": pod_template(f"registry.local/shop/checkout:{version}", version, None),
        },
    }
    return state
