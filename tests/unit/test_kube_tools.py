"""The Kubernetes read tools, through the real ``kubernetes`` client against a local API server.

The server is the eval world's (evals/kube_world.py): a cart Deployment that rolled out v3.1.0
then v3.2.0, whose pods crash-loop (OOMKilled) on one node; the diagnosis-side reading of it
(agents/kube_evidence.py) must find the pods, the rollout history as versions, and the
ConfigMap the pods mount.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.kube_evidence import gather
from evals.kube_world import serve_world
from state.config import KubernetesConfig
from state.subject import Subject
from tools.backends.kubernetes import api_client_from
from tools.kube import kube_tools
from tools.registry import ToolRegistry, ToolSession
from tools.world import SimClock, World, WorldSpec

NOW = datetime(2026, 11, 8, 3, 14, tzinfo=UTC)
WORLD = {
    "workloads": [
        {
            "name": "cart",
            "namespace": "shop",
            "image": "registry.example.com/shop/cart",
            "replicas": 2,
            "releases": [
                {"version": "v3.1.0", "deployed_at": "2026-11-01T10:00:00Z"},
                {"version": "v3.2.0", "deployed_at": "2026-11-08T02:50:00Z"},
            ],
            "pod_states": {"v3.2.0": {"ready": False, "waiting": "CrashLoopBackOff", "terminated": "OOMKilled"}},
            "template": {"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "cart-config"}}]}},
        },
        {
            "name": "cart-worker",
            "namespace": "shop",
            "releases": [{"version": "v1", "deployed_at": "2026-11-01T00:00:00Z"}],
        },
    ],
    "nodes": [{"name": "ip-10-0-3-17"}],
}
CART = Subject(kind="workload", name="cart", namespace="shop", workload_kind="Deployment")


@pytest.fixture
def session(tmp_path: Path) -> Iterator[ToolSession]:
    clock = SimClock(NOW)
    world = World(WorldSpec.model_validate(WORLD), tmp_path / "state.json", clock=clock)
    with serve_world(world, tmp_path / "kube") as url:
        config = KubernetesConfig(host=url, verify_ssl=False)
        registry = ToolRegistry(kube_tools(lambda: api_client_from(config, "t"), clock))
        yield ToolSession(registry, agent="diagnosis")


def test_pods_of_a_workload_are_its_own_with_their_container_states(session: ToolSession) -> None:
    answer = session.call("k8s_pods", namespace="shop", workload="cart")
    assert answer.ok, answer.error
    pods = answer.data["pods"]
    assert len(pods) == 2 and all(
        p["name"].startswith("cart-") and not p["name"].startswith("cart-worker") for p in pods
    )
    container = pods[0]["containers"][0]
    assert (container["waiting"], container["last_terminated"], pods[0]["ready"]) == (
        "CrashLoopBackOff",
        "OOMKilled",
        False,
    )
    assert pods[0]["node"] == "ip-10-0-3-17"


def test_rollout_history_owner_workload_and_node(session: ToolSession) -> None:
    history = session.call("k8s_rollout_history", namespace="shop", deployment="cart").data["revisions"]
    assert [(r["revision"], r["images"]) for r in history] == [
        (1, ["registry.example.com/shop/cart:v3.1.0"]),
        (2, ["registry.example.com/shop/cart:v3.2.0"]),
    ]
    pod = session.call("k8s_pods", namespace="shop", workload="cart").data["pods"][0]["name"]
    chain = session.call("k8s_owner", namespace="shop", pod=pod).data["chain"]
    assert [c["kind"] for c in chain] == ["Pod", "ReplicaSet", "Deployment"] and chain[-1]["name"] == "cart"
    workload = session.call("k8s_workload", namespace="shop", workload="cart").data
    assert workload["references"] == [{"resource": "configmaps", "name": "cart-config", "how": "volume cfg"}]
    node = session.call("k8s_node", node="ip-10-0-3-17").data
    assert node["ready"] == "True" and node["unschedulable"] is False


def test_an_unknown_workload_is_a_sentence_not_a_crash(session: ToolSession) -> None:
    answer = session.call("k8s_workload", namespace="shop", workload="nope")
    assert answer.status == "error" and "404" in answer.error and "nope" in answer.error


def test_diagnosis_reads_pods_versions_and_the_config_in_use(session: ToolSession) -> None:
    evidence = gather(session, CART, NOW)
    assert evidence is not None
    assert [r.version for r in evidence.history.runs] == ["v3.1.0", "v3.2.0"]  # versions from the rollouts
    assert evidence.references[0]["name"] == "cart-config"
    assert "CrashLoopBackOff" in evidence.findings[0].title
    assert evidence.node_down is None  # the node is Ready: not the cause
    assert gather(session, CART.model_copy(update={"kind": "node"}), NOW) is None


def test_the_observability_mcp_server_exposes_the_kubernetes_tools(tmp_path: Path) -> None:
    import asyncio
    import json

    from state.config import Settings
    from tools.mcp.observability import build

    world = World(WorldSpec.model_validate(WORLD), tmp_path / "state.json", clock=SimClock(NOW))
    with serve_world(world, tmp_path / "kube") as url:
        settings = Settings(kubernetes=KubernetesConfig(host=url, verify_ssl=False))
        server = build(settings)

        async def talk() -> tuple[set[str], str]:
            names = {tool.name for tool in await server.list_tools()}
            answer = await server.call_tool("k8s_pods", {"namespace": "shop", "workload": "cart"})
            blocks = answer[0] if isinstance(answer, tuple) else answer
            return names, "".join(getattr(block, "text", "") for block in blocks)

        names, text = asyncio.run(talk())
    assert {"k8s_pods", "k8s_events", "k8s_rollout_history", "k8s_pod_logs", "search_logs"} <= names
    answer = json.loads(text)
    pods = answer["data"]["pods"]
    assert answer["status"] == "success" and len(pods) == 2
    assert all(p["name"].startswith("cart-") and not p["name"].startswith("cart-worker") for p in pods)
