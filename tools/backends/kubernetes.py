"""The kubernetes executor backend, through the official ``kubernetes`` client.

``version_rollback`` is ``kubectl rollout undo`` done the way kubectl does it
(k8s.io/kubectl/pkg/polymorphichelpers/rollback.go): list the ReplicaSets the
Deployment's selector matches, keep those it controls (ownerReferences), read each
one's ``deployment.kubernetes.io/revision``, refuse a paused Deployment, skip when the
chosen revision's pod template already equals the Deployment's (ignoring
``pod-template-hash``), else send one JSON patch (``application/json-patch+json``) that
replaces ``/spec/template`` and ``/metadata/annotations``.

``restart`` is ``kubectl rollout restart`` (a ``kubectl.kubernetes.io/restartedAt``
template annotation, strategic merge patch); ``config_refresh`` is the same with
``alertpilot.io/config-refreshed-at``. ``scale`` merge-patches ``spec.replicas`` and keeps
the previous count in ``alertpilot.io/replicas-before`` so it can be undone.

``isolate`` takes the service out of traffic without killing it: it creates a
NetworkPolicy ``alertpilot-isolate-<name>`` that selects the Deployment's pods
(``spec.selector``) and allows no ingress, so Service traffic stops reaching them while
they keep running for debugging; ``undo`` deletes it. This needs a CNI that enforces
NetworkPolicy (on TKE: the NetworkPolicy add-on, or VPC-CNI with it enabled).

Undo: ``restart``/``config_refresh``/``version_rollback`` with ``undo`` roll back to the
previous revision (``kubectl rollout undo`` without ``--to-revision``), which is the
template before the action; ``scale`` restores ``alertpilot.io/replicas-before``.
"""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from typing import Any

from tools.execution import ExecutionResult

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REFRESHED_AT = "alertpilot.io/config-refreshed-at"
REPLICAS_BEFORE = "alertpilot.io/replicas-before"
# Deployment annotations kubectl keeps from the Deployment, not from the ReplicaSet.
ANNOTATIONS_TO_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
CHUNK = 500  # kubectl lists ReplicaSets in chunks of 500
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


class RollbackError(Exception):
    """The rollout cannot be undone (paused, no history, unknown revision)."""


# ---------------------------------------------------------------------- kubectl logic (pure)


def selector_string(selector: dict[str, Any]) -> str:
    """A LabelSelector as the ``labelSelector`` query string."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], ",".join(expr.get("values") or [])
        parts.append(
            {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(op, f"!{key}")
        )
    return ",".join(parts)


def owned(deployment: dict[str, Any], replica_sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ReplicaSets whose controller owner reference is this Deployment."""
    uid = deployment["metadata"].get("uid")
    return [
        rs
        for rs in replica_sets
        if any(ref.get("controller") and ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or [])
    ]


def revision_of(obj: dict[str, Any]) -> int | None:
    """The ``deployment.kubernetes.io/revision`` annotation as an int (None when absent or bad)."""
    value = (obj["metadata"].get("annotations") or {}).get(REVISION)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def pick_revision(name: str, replica_sets: list[dict[str, Any]], to_revision: int) -> dict[str, Any]:
    """The ReplicaSet to roll back to: ``to_revision``, or the second newest when it is 0."""
    latest: tuple[int, dict[str, Any] | None] = (-1, None)
    previous: tuple[int, dict[str, Any] | None] = (-1, None)
    for rs in replica_sets:
        revision = revision_of(rs)
        if revision is None:
            continue
        if to_revision == 0:
            if latest[0] < revision:
                previous, latest = latest, (revision, rs)
            elif previous[0] < revision:
                previous = (revision, rs)
        elif revision == to_revision:
            return rs
    if to_revision > 0:
        raise RollbackError(f"unable to find specified revision {to_revision} in history")
    if previous[1] is None:
        raise RollbackError(f"no rollout history found for deployment {name!r}")
    return previous[1]


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    clean = copy.deepcopy(template)
    labels = (clean.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return clean


def equal_ignore_hash(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two pod templates are equal apart from the ``pod-template-hash`` label."""
    return _without_hash(a) == _without_hash(b)


def rollback_patch(deployment: dict[str, Any], rs: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON patch kubectl sends: the ReplicaSet's template and merged annotations."""
    template = _without_hash(rs["spec"]["template"])
    current = deployment["metadata"].get("annotations") or {}
    annotations = {k: v for k, v in current.items() if k in ANNOTATIONS_TO_SKIP}
    for key, value in (rs["metadata"].get("annotations") or {}).items():
        if key not in ANNOTATIONS_TO_SKIP:
            annotations[key] = value
    return [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]


def runs_version(rs: dict[str, Any], version: str) -> bool:
    """Whether a ReplicaSet's pods run ``version`` (image tag or version label)."""
    template = rs["spec"]["template"]
    labels = (template.get("metadata") or {}).get("labels") or {}
    if version in (labels.get("app.kubernetes.io/version"), labels.get("version")):
        return True
    for container in (template.get("spec") or {}).get("containers") or []:
        image = container.get("image", "").split("@", 1)[0]
        if image.rsplit("/", 1)[-1].partition(":")[2] == version:
            return True
    return False


def now_rfc3339() -> str:
    """Now as kubectl writes restartedAt (RFC 3339, seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------- the backend


class KubernetesBackend:
    """Executor operations on Deployments, through an ``ApiClient`` passed in."""

    def __init__(self, api_client: Any, namespace: str = "default", default_service: str | None = None,
                 dry_run: bool = False) -> None:  # fmt: skip
        from kubernetes import client

        self.apps: Any = client.AppsV1Api(api_client)  # raw JSON calls (_preload_content=False)
        self.networking: Any = client.NetworkingV1Api(api_client)
        self.namespace = namespace
        self.default_service = default_service
        self.dry_run = dry_run

    def execute(self, method: str, params: dict[str, Any], idempotency_key: str | None) -> ExecutionResult:
        """Run ``method`` on the Deployment named by ``params['service']``."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        started = time.perf_counter()
        name = params.get("service") or self.default_service
        namespace = params.get("namespace") or self.namespace
        try:
            if not name:
                raise RollbackError("params.service: required (no executor.service default)")
            handler = getattr(self, f"_{method}", None)
            if handler is None:
                raise RollbackError(f"unknown operation {method!r}")
            detail = handler(name, namespace, params)
            status, error = "success", ""
        except RollbackError as exc:
            detail, status, error = "", "error", str(exc)
        except ApiException as exc:
            detail, status, error = "", "error", f"kubernetes API {exc.status}: {_api_message(exc)}"
        except HTTPError as exc:
            detail, status, error = "", "error", f"kubernetes API unreachable: {type(exc).__name__}"
        return ExecutionResult(
            status=status, detail=detail, error=error, execution_time=round(time.perf_counter() - started, 4)
        )

    def current_replicas(self, service: str, namespace: str | None) -> int | None:
        """The Deployment's ``spec.replicas`` (the executor's policy bounds a scale's result by it), or None."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        name = service or self.default_service
        if not name:
            return None
        try:
            return int(self._deployment(name, namespace or self.namespace)["spec"].get("replicas", 1))
        except (ApiException, HTTPError, KeyError, TypeError, ValueError):
            return None

    # -------------------------------------------------------------- API calls (raw JSON)

    def _options(self) -> dict[str, Any]:
        return {"dry_run": "All"} if self.dry_run else {}

    def _deployment(self, name: str, namespace: str) -> dict[str, Any]:
        response = self.apps.read_namespaced_deployment(name, namespace, _preload_content=False)
        return dict(json.loads(response.data))

    def _replica_sets(self, deployment: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
        selector = selector_string(deployment["spec"].get("selector") or {})
        items: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(1000):  # bounded paging
            kwargs: dict[str, Any] = {"label_selector": selector, "limit": CHUNK, "_preload_content": False}
            if token:
                kwargs["_continue"] = token
            page = json.loads(self.apps.list_namespaced_replica_set(namespace, **kwargs).data)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
        return owned(deployment, items)

    def _patch(self, name: str, namespace: str, body: Any, content_type: str) -> None:
        self.apps.patch_namespaced_deployment(
            name, namespace, body, _content_type=content_type, _preload_content=False, **self._options()
        )

    # -------------------------------------------------------------- operations

    def undo_rollout(self, name: str, namespace: str, to_revision: int = 0) -> str:
        """``kubectl rollout undo deployment/NAME [--to-revision N]``."""
        deployment = self._deployment(name, namespace)
        rs = pick_revision(name, self._replica_sets(deployment, namespace), to_revision)
        if deployment["spec"].get("paused"):
            raise RollbackError(
                "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"
            )
        revision = revision_of(rs)
        if equal_ignore_hash(rs["spec"]["template"], deployment["spec"]["template"]):
            return f"deployment.apps/{name} skipped rollback (current template already matches revision {revision})"
        self._patch(name, namespace, rollback_patch(deployment, rs), JSON_PATCH)
        return f"deployment.apps/{name} rolled back to revision {revision}"

    def _version_rollback(self, name: str, namespace: str, params: dict[str, Any]) -> str:
        if params.get("undo"):
            return self.undo_rollout(name, namespace)
        if params.get("revision"):
            return self.undo_rollout(name, namespace, int(params["revision"]))
        target = params.get("target")
        if not target:
            return self.undo_rollout(name, namespace)
        deployment = self._deployment(name, namespace)
        matches = [rs for rs in self._replica_sets(deployment, namespace) if runs_version(rs, str(target))]
        revisions = [r for r in (revision_of(rs) for rs in matches) if r is not None]
        if not revisions:
            raise RollbackError(f"target {target!r}: no revision of deployment {name!r} runs it")
        return self.undo_rollout(name, namespace, max(revisions)) + f" ({target})"

    def _full_rollback(self, name: str, namespace: str, params: dict[str, Any]) -> str:
        deployment = self._deployment(name, namespace)
        instance = (deployment["metadata"].get("labels") or {}).get("app.kubernetes.io/instance")
        names = [name]
        if instance:
            listed = self.apps.list_namespaced_deployment(
                namespace, label_selector=f"app.kubernetes.io/instance={instance}", _preload_content=False
            )
            names = sorted(d["metadata"]["name"] for d in json.loads(listed.data).get("items") or []) or [name]
        return "; ".join(self.undo_rollout(each, namespace) for each in names)

    def _restart(self, name: str, namespace: str, params: dict[str, Any], annotation: str = RESTARTED_AT) -> str:
        if params.get("undo"):
            return self.undo_rollout(name, namespace)
        deployment = self._deployment(name, namespace)
        if deployment["spec"].get("paused"):
            raise RollbackError(f"deployments/{name} is paused; resume it first with 'kubectl rollout resume'")
        body = {"spec": {"template": {"metadata": {"annotations": {annotation: now_rfc3339()}}}}}
        self._patch(name, namespace, body, STRATEGIC_PATCH)
        return f"deployment.apps/{name} restarted"

    def _config_refresh(self, name: str, namespace: str, params: dict[str, Any]) -> str:
        return self._restart(name, namespace, params, REFRESHED_AT).replace("restarted", "restarted to reload config")

    def _scale(self, name: str, namespace: str, params: dict[str, Any]) -> str:
        deployment = self._deployment(name, namespace)
        current = int(deployment["spec"].get("replicas", 1))
        annotations = deployment["metadata"].get("annotations") or {}
        if params.get("undo"):
            if REPLICAS_BEFORE not in annotations:
                raise RollbackError(f"deployment {name!r} has no {REPLICAS_BEFORE} annotation to undo")
            wanted = int(annotations[REPLICAS_BEFORE])
        elif params.get("replicas") is not None:
            wanted = int(params["replicas"])
        else:
            wanted = current + int(params.get("delta") or 1)
        if wanted < 0:
            raise RollbackError(f"replicas: {wanted} is below 0")
        body = {"metadata": {"annotations": {REPLICAS_BEFORE: str(current)}}, "spec": {"replicas": wanted}}
        self._patch(name, namespace, body, MERGE_PATCH)
        return f"deployment.apps/{name} scaled from {current} to {wanted} replicas"

    def _isolate(self, name: str, namespace: str, params: dict[str, Any]) -> str:
        from kubernetes.client.exceptions import ApiException

        policy_name = f"alertpilot-isolate-{name}"
        if params.get("undo"):
            try:
                self.networking.delete_namespaced_network_policy(
                    policy_name, namespace, _preload_content=False, **self._options()
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise
            return f"deployment.apps/{name} back in traffic (networkpolicy {policy_name} removed)"
        deployment = self._deployment(name, namespace)
        body = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": policy_name, "labels": {"app.kubernetes.io/managed-by": "alertpilot"}},
            "spec": {"podSelector": deployment["spec"]["selector"], "policyTypes": ["Ingress"], "ingress": []},
        }
        try:
            self.networking.create_namespaced_network_policy(namespace, body, _preload_content=False, **self._options())
        except ApiException as exc:
            if exc.status != 409:  # already isolated: same outcome
                raise
        return f"deployment.apps/{name} isolated (networkpolicy {policy_name} denies all ingress)"


def _api_message(exc: Any) -> str:
    try:
        return str(json.loads(exc.body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)


def api_client_from(config: Any, token: str | None) -> Any:
    """An ``ApiClient`` from ``executor.kubernetes`` config (host+token, kubeconfig or in-cluster)."""
    from kubernetes import client
    from kubernetes import config as kube_config

    if config.host:
        configuration = client.Configuration(host=config.host)
        configuration.verify_ssl = config.verify_ssl
        if token:
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
        return client.ApiClient(configuration)
    if config.kubeconfig is None:
        try:
            kube_config.load_incluster_config()
            return client.ApiClient()
        except kube_config.ConfigException:
            pass
    return kube_config.new_client_from_config(
        config_file=str(config.kubeconfig) if config.kubeconfig else None, context=config.context
    )
