"""The chart's RBAC is exactly the least-privilege set: what the executor's code calls, nothing more.

The executor's Role is compared with the API calls the real kubernetes backend makes
(tools/backends/kubernetes.py through the official client, against tests/servers/kube.py)
for every ladder operation and its undo, so a new call in the backend without a rule in
the chart, or a rule no code needs, fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from kubernetes import client

from state.policy import MUTATING_OPERATIONS
from tests.deploy.tooling import NAMESPACE, RELEASE, objects, of_kind
from tests.servers.kube import KubeServer, checkout_cluster
from tools.backends.kubernetes import KubernetesBackend

Permission = tuple[str, str, str]  # (apiGroup, resource, verb)
PATH = re.compile(r"^/(?:api|apis/(?P<group>[^/]+))/v\d\w*/namespaces/[^/]+/(?P<resource>[^/]+)(?P<name>/[^/]+)?$")
VERBS = {"GET": "get", "PATCH": "patch", "POST": "create", "DELETE": "delete", "PUT": "update"}
READ_ONLY = {"get", "list", "watch"}


def calls_of(operation: str) -> set[Permission]:
    """The permissions ``operation`` and its undo use, recorded from the real backend's requests."""
    used: set[Permission] = set()
    for params in ({"service": "checkout"}, {"service": "checkout", "undo": True}):
        state = checkout_cluster()
        # ReplicaSets and an isolation to undo: the undo paths must reach their API calls too.
        with KubeServer(state) as server:
            backend = KubernetesBackend(client.ApiClient(client.Configuration(host=server.url)), namespace="shop")
            if params.get("undo") and operation == "scale":
                backend.execute("scale", {"service": "checkout", "replicas": 5}, None)
            result = backend.execute(operation, params, None)
        assert result.status == "success", (operation, params, result.error)
        for request in state.requests:
            match = PATH.match(request.path)
            assert match, request.path
            verb = VERBS[request.method]
            if verb == "get" and not match["name"]:
                verb = "list"
            used.add((match["group"] or "", match["resource"], verb))
    return used


def granted(role: dict[str, Any]) -> set[Permission]:
    """Every (apiGroup, resource, verb) a Role's rules grant."""
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def roles(scenario: str, suffix: str) -> list[dict[str, Any]]:
    return [r for r in of_kind(objects(scenario), "Role") if r["metadata"]["name"].endswith(suffix)]


def allowed_namespaces(scenario: str) -> list[str]:
    import yaml

    (config_map,) = of_kind(objects(scenario), "ConfigMap")
    return list(yaml.safe_load(config_map["data"]["alertpilot.yaml"])["policy"]["allowed_namespaces"])


@pytest.mark.parametrize("scenario", ["default", "full"])
def test_the_executor_role_grants_exactly_what_the_ladder_calls_in_each_allowed_namespace(scenario: str) -> None:
    needed = set().union(*(calls_of(op) for op in MUTATING_OPERATIONS))
    # The backend needs no pods/delete (restart patches the template) and no deployments/scale
    # (scale patches spec.replicas): neither may be granted.
    assert needed == {
        ("apps", "deployments", "get"),
        ("apps", "deployments", "list"),
        ("apps", "deployments", "patch"),
        ("apps", "replicasets", "list"),
        ("networking.k8s.io", "networkpolicies", "create"),
        ("networking.k8s.io", "networkpolicies", "delete"),
    }
    executor_roles = roles(scenario, "-executor")
    assert sorted(r["metadata"]["namespace"] for r in executor_roles) == sorted(allowed_namespaces(scenario))
    for role in executor_roles:
        assert granted(role) == needed, role["metadata"]["namespace"]


def test_a_ladder_that_only_scales_gets_only_deployments_get_and_patch() -> None:
    (role,) = roles("scale-only", "-executor")
    assert granted(role) == calls_of("scale") == {("apps", "deployments", "get"), ("apps", "deployments", "patch")}


def test_the_tke_backend_gets_no_kubernetes_permissions_at_all() -> None:
    docs = objects("tke")
    assert of_kind(docs, "Role") == [] and of_kind(docs, "RoleBinding") == []
    executor = next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-executor"))
    assert executor["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


@pytest.mark.parametrize("scenario", ["default", "full"])
def test_the_diagnosis_side_reads_pods_events_deployments_replicasets_and_logs_only(scenario: str) -> None:
    read_roles = roles(scenario, "-read")
    assert read_roles
    for role in read_roles:
        assert granted(role) == {
            (group, resource, verb)
            for group, resource in [
                ("", "pods"),
                ("", "pods/log"),
                ("", "events"),
                ("events.k8s.io", "events"),
                ("apps", "deployments"),
                ("apps", "replicasets"),
            ]
            for verb in READ_ONLY
        }


def test_full_scenario_reads_where_asked_and_acts_only_where_policy_allows() -> None:
    assert sorted(r["metadata"]["namespace"] for r in roles("full", "-read")) == ["ingress-nginx", "payments", "shop"]
    assert sorted(r["metadata"]["namespace"] for r in roles("full", "-executor")) == ["payments", "shop"]


@pytest.mark.parametrize("scenario", ["default", "full", "tke", "scale-only"])
def test_no_wildcard_no_secrets_nothing_cluster_wide(scenario: str) -> None:
    docs = objects(scenario)
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    service_accounts = {sa["metadata"]["name"] for sa in of_kind(docs, "ServiceAccount")}
    for role in of_kind(docs, "Role"):
        for rule in role["rules"]:
            words = rule["apiGroups"] + rule["resources"] + rule["verbs"] + rule.get("resourceNames", [])
            assert "*" not in "".join(words), role["metadata"]
            assert "secrets" not in rule["resources"], role["metadata"]
            assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"])
    for binding in of_kind(docs, "RoleBinding"):
        assert binding["roleRef"]["kind"] == "Role"
        for subject in binding["subjects"]:
            # Only the chart's own service accounts, never a group or a user.
            assert subject["kind"] == "ServiceAccount"
            assert subject["namespace"] == NAMESPACE and subject["name"] in service_accounts
    # Writes are the executor's alone: every other Role is read-only.
    for role in of_kind(docs, "Role"):
        if not role["metadata"]["name"].endswith("-executor"):
            assert {verb for _, _, verb in granted(role)} <= READ_ONLY


@pytest.mark.parametrize("scenario", ["default", "full"])
def test_each_service_account_is_bound_to_its_own_roles(scenario: str) -> None:
    docs = objects(scenario)
    for binding in of_kind(docs, "RoleBinding"):
        (subject,) = binding["subjects"]
        executor = binding["roleRef"]["name"].endswith("-executor")
        assert subject["name"].endswith("-executor") == executor
    pods = {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in of_kind(docs, "Deployment")}
    executor_sa = pods[f"{RELEASE}-executor"]["serviceAccountName"]
    assert all(
        spec["serviceAccountName"] != executor_sa for name, spec in pods.items() if not name.endswith("executor")
    )
