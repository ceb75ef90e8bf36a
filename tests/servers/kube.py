"""Fixtures for the kubernetes executor backend's tests: a checkout Deployment with three revisions.

The API server itself is evals/kube_world.py (``KubeServer`` over an in-memory ``KubeState``),
shared with the eval worlds.
"""

from __future__ import annotations

from typing import Any

from evals.kube_world import KubeServer, KubeState, Seen

__all__ = ["KubeServer", "KubeState", "Seen", "checkout_cluster", "pod_template"]


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
