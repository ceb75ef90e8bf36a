"""The kubernetes backend through the official client against a local apps/v1 server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from tests.servers.kube import KubeServer, KubeState, checkout_cluster, pod_template
from tools.backends.kubernetes import KubernetesBackend

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster() -> Iterator[tuple[KubeState, KubernetesBackend]]:
    state = checkout_cluster()
    with KubeServer(state) as server:
        config = client.Configuration(host=server.url)
        config.api_key = {"BearerToken": "t0ken"}
        config.api_key_prefix = {"BearerToken": "Bearer"}
        yield state, KubernetesBackend(client.ApiClient(config), namespace="shop")


def test_rollout_undo_sends_the_json_patch_kubectl_sends(cluster: tuple[KubeState, KubernetesBackend]) -> None:
    state, backend = cluster
    result = backend.execute("version_rollback", {"service": "checkout"}, None)
    assert result.status == "success", result.error
    assert result.detail == "deployment.apps/checkout rolled back to revision 2"
    listing = next(r for r in state.requests if r.path.endswith("/replicasets"))
    assert listing.query == {"labelSelector": ["app=checkout"], "limit": ["500"]}
    (patch,) = state.patches()
    assert patch.path == "/apis/apps/v1/namespaces/shop/deployments/checkout"
    assert patch.content_type == "application/json-patch+json"
    assert patch.body == [
        {
            "op": "replace",
            "path": "/spec/template",
            "value": pod_template("registry.local/shop/checkout:v2.1", "v2.1", None),  # pod-template-hash removed
        },
        {
            "op": "replace",
            "path": "/metadata/annotations",
            "value": {
                # kept from the Deployment (kubectl's annotationsToSkip)...
                "deployment.kubernetes.io/revision": "3",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                # ...the rest from the ReplicaSet, without desired/max-replicas
                "team": "payments-r2",
            },
        },
    ]
    assert state.deployments[("shop", "checkout")]["spec"]["template"]["spec"]["containers"][0]["image"].endswith(
        ":v2.1"
    )
    assert any(r.path.endswith("/replicasets") for r in state.requests)


def test_target_version_picks_the_revision_running_it_and_ignores_foreign_replica_sets(
    cluster: tuple[KubeState, KubernetesBackend],
) -> None:
    state, backend = cluster
    result = backend.execute("version_rollback", {"service": "checkout", "target": "v2.0"}, None)
    assert result.status == "success"
    assert "revision 1" in result.detail
    assert state.patches()[0].body[0]["value"]["metadata"]["labels"]["app.kubernetes.io/version"] == "v2.0"
    foreign = backend.execute("version_rollback", {"service": "checkout", "revision": 9}, None)
    assert foreign.status == "error"
    assert foreign.error == "unable to find specified revision 9 in history"


def test_skips_when_the_template_already_matches(cluster: tuple[KubeState, KubernetesBackend]) -> None:
    state, backend = cluster
    result = backend.execute("version_rollback", {"service": "checkout", "revision": 3}, None)
    assert result.status == "success"
    assert result.detail == "deployment.apps/checkout skipped rollback (current template already matches revision 3)"
    assert state.patches() == []


def test_refuses_a_paused_deployment() -> None:
    state = checkout_cluster(paused=True)
    with KubeServer(state) as server:
        backend = KubernetesBackend(client.ApiClient(client.Configuration(host=server.url)), namespace="shop")
        result = backend.execute("version_rollback", {"service": "checkout"}, None)
    assert result.status == "error"
    assert "cannot rollback a paused deployment" in result.error
    assert state.patches() == []


def test_restart_scale_isolate_and_their_undo(cluster: tuple[KubeState, KubernetesBackend]) -> None:
    state, backend = cluster
    assert backend.execute("restart", {"service": "checkout"}, None).status == "success"
    restart = state.patches()[-1]
    assert restart.content_type == "application/strategic-merge-patch+json"
    annotations = restart.body["spec"]["template"]["metadata"]["annotations"]
    assert list(annotations) == ["kubectl.kubernetes.io/restartedAt"]

    scaled = backend.execute("scale", {"service": "checkout", "delta": 2}, None)
    assert scaled.detail == "deployment.apps/checkout scaled from 3 to 5 replicas"
    assert state.patches()[-1].content_type == "application/merge-patch+json"
    assert backend.execute("scale", {"service": "checkout", "undo": True}, None).detail.endswith("from 5 to 3 replicas")

    isolated = backend.execute("isolate", {"service": "checkout"}, None)
    assert isolated.status == "success"
    policy = state.network_policies[("shop", "alertpilot-isolate-checkout")]
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"app": "checkout"}},
        "policyTypes": ["Ingress"],
        "ingress": [],
    }
    assert backend.execute("isolate", {"service": "checkout", "undo": True}, None).status == "success"
    assert state.network_policies == {}


def test_unknown_deployment_is_an_error_result_not_a_crash(cluster: tuple[KubeState, KubernetesBackend]) -> None:
    _, backend = cluster
    result = backend.execute("restart", {"service": "nope"}, None)
    assert result.status == "error"
    assert result.error == 'kubernetes API 404: deployments.apps "nope" not found'  # as kube-apiserver says it


def test_server_side_dry_run_changes_nothing() -> None:
    state = checkout_cluster()
    with KubeServer(state) as server:
        backend = KubernetesBackend(client.ApiClient(client.Configuration(host=server.url)), "shop", dry_run=True)
        assert backend.execute("version_rollback", {"service": "checkout"}, None).status == "success"
    assert state.patches()[0].query["dryRun"] == ["All"]
    assert (
        state.deployments[("shop", "checkout")]["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"]
        == "v2.2"
    )


def test_the_executor_policy_bounds_a_delta_by_the_deployments_real_count(
    cluster: tuple[KubeState, KubernetesBackend],
) -> None:
    from server.executor_policy import ExecutorPolicy, Refusal

    _, backend = cluster
    assert backend.current_replicas("checkout", "shop") == 3
    assert backend.current_replicas("nope", "shop") is None
    policy = ExecutorPolicy(default_namespace="shop", min_replicas=1, max_replicas=6)
    with pytest.raises(Refusal, match="leaves 0, below this executor's floor of 1"):
        policy.admit("scale", {"service": "checkout", "delta": -3}, backend.current_replicas)
    admitted = policy.admit("scale", {"service": "checkout", "delta": 2}, backend.current_replicas)
    assert admitted == {"service": "checkout", "replicas": 5}
    assert backend.execute("scale", admitted, None).detail == "deployment.apps/checkout scaled from 3 to 5 replicas"
