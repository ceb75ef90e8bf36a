"""The eval world's Kubernetes API, read with the official ``kubernetes`` client as the read tools would.

A cart Deployment rolled out v3.1.0 then v3.2.0 (which crash-loops, OOMKilled); a rollback the
executor applies to the world shows at the next request, as it would on a cluster.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from evals.case import CaseError, load_case
from evals.kube_world import serve_world
from evals.worlds import open_world
from tools.world import SimClock, World, WorldSpec

CASES = Path(__file__).resolve().parents[2] / "evals" / "cases"
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
            "pod_states": {
                "v3.2.0": {
                    "ready": False,
                    "waiting": "CrashLoopBackOff",
                    "terminated": "OOMKilled",
                    "restarts": {"start": 1, "slope_per_h": 12},
                }
            },
            "template": {"spec": {"volumes": [{"name": "cfg", "configMap": {"name": "cart-config"}}]}},
            "signals": {"error_ratio": {"default": 0.01}},
        },
        {
            "name": "redis",
            "namespace": "shop",
            "kind": "StatefulSet",
            "replicas": 1,
            "releases": [{"version": "7.2.4", "deployed_at": "2026-10-01T00:00:00Z"}],
        },
        {
            "name": "node-agent",
            "namespace": "kube-system",
            "kind": "DaemonSet",
            "replicas": 3,
            "releases": [{"version": "1.4.0", "deployed_at": "2026-10-01T00:00:00Z"}],
        },
    ],
    "nodes": [{"name": "ip-10-0-3-17", "labels": {"topology.kubernetes.io/zone": "ap-guangzhou-3"}}],
}
FIXTURES = [
    {
        "kind": "Event",
        "metadata": {"name": "cart-config.1", "namespace": "shop"},
        "involvedObject": {"kind": "ConfigMap", "name": "cart-config", "namespace": "shop"},
        "reason": "Updated",
        "message": "configmap cart-config updated by alice",
        "type": "Normal",
        "lastTimestamp": "2026-11-08T02:58:00Z",
    },
    {
        "kind": "Event",
        "metadata": {"name": "old.1", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "name": "cart-old", "namespace": "shop"},
        "reason": "Killing",
        "message": "expired long ago",
        "lastTimestamp": "2026-11-07T01:00:00Z",
    },
    {"kind": "ConfigMap", "metadata": {"name": "cart-config", "namespace": "shop"}, "data": {"POOL_SIZE": "400"}},
]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[World, SimClock, Any, Any]]:
    kube = tmp_path / "kube"
    (kube / "logs").mkdir(parents=True)
    (kube / "fixtures.yaml").write_text(yaml.safe_dump(FIXTURES))
    (kube / "logs" / "cart.previous.log").write_text("java.lang.OutOfMemoryError: Java heap space\n")
    clock = SimClock(NOW)
    world = World(WorldSpec.model_validate(WORLD), tmp_path / "state.json", clock=clock)
    with serve_world(world, kube) as url:
        api = client.ApiClient(client.Configuration(host=url))
        yield world, clock, client.CoreV1Api(api), client.AppsV1Api(api)


def test_deployments_replicasets_and_pods_read_as_on_a_cluster(cluster: tuple[World, SimClock, Any, Any]) -> None:
    _, _, core, apps = cluster
    deployment = apps.read_namespaced_deployment("cart", "shop")
    assert deployment.spec.template.spec.containers[0].image == "registry.example.com/shop/cart:v3.2.0"
    assert deployment.spec.template.spec.volumes[0].config_map.name == "cart-config"  # the workload's template
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    assert (deployment.status.replicas, deployment.status.ready_replicas) == (2, 0)
    sets = apps.list_namespaced_replica_set("shop", label_selector="app=cart").items
    history = sorted(
        (int(rs.metadata.annotations["deployment.kubernetes.io/revision"]), rs.spec.template.spec.containers[0].image)
        for rs in sets
    )
    assert history == [(1, "registry.example.com/shop/cart:v3.1.0"), (2, "registry.example.com/shop/cart:v3.2.0")]
    newest = max(sets, key=lambda rs: rs.metadata.creation_timestamp)
    assert newest.metadata.creation_timestamp == datetime(2026, 11, 8, 2, 50, tzinfo=UTC)
    assert newest.metadata.owner_references[0].kind == "Deployment" and newest.spec.replicas == 2
    pods = core.list_namespaced_pod("shop", label_selector="app=cart").items
    assert len(pods) == 2 and all(p.metadata.name.startswith(newest.metadata.name + "-") for p in pods)
    status = pods[0].status.container_statuses[0]
    assert status.state.waiting.reason == "CrashLoopBackOff" and not status.ready
    assert status.last_state.terminated.reason == "OOMKilled" and status.last_state.terminated.exit_code == 137
    assert status.restart_count == 5  # 1 + 12/h over the 24 minutes since the rollout
    assert pods[0].spec.node_name == "ip-10-0-3-17"
    (redis,) = apps.list_namespaced_stateful_set("shop").items
    assert redis.spec.template.spec.containers[0].image == "redis:7.2.4"
    assert [p.metadata.name for p in core.list_namespaced_pod("shop", label_selector="app=redis").items] == ["redis-0"]
    (agent,) = apps.list_namespaced_daemon_set("kube-system").items  # the client requires every DaemonSetStatus count
    counts = agent.status.desired_number_scheduled, agent.status.number_ready, agent.status.number_misscheduled
    assert counts == (3, 3, 0)


def test_events_configmaps_and_logs(cluster: tuple[World, SimClock, Any, Any]) -> None:
    _, _, core, _ = cluster
    events = core.list_namespaced_event("shop").items
    reasons = [(e.reason, e.involved_object.kind) for e in events]
    assert ("ScalingReplicaSet", "Deployment") in reasons and ("Updated", "ConfigMap") in reasons
    assert ("BackOff", "Pod") in reasons and "Killing" not in {r for r, _ in reasons}  # older than the event TTL
    backoff = next(e for e in events if e.reason == "BackOff")
    assert backoff.type == "Warning" and backoff.message.startswith("Back-off restarting failed container cart in pod")
    pod = backoff.involved_object.name
    only = core.list_namespaced_event("shop", field_selector=f"involvedObject.name={pod}").items
    assert {e.involved_object.name for e in only} == {pod}
    events_v1 = client.EventsV1Api(core.api_client).list_namespaced_event("shop").items
    assert {e.note for e in events_v1} >= {"configmap cart-config updated by alice"}
    assert core.read_namespaced_config_map("cart-config", "shop").data == {"POOL_SIZE": "400"}
    previous = core.read_namespaced_pod_log(pod, "shop", previous=True)
    assert previous == "java.lang.OutOfMemoryError: Java heap space\n"
    with pytest.raises(client.ApiException) as missing:
        core.read_namespaced_pod("cart-nope", "shop")
    assert missing.value.status == 404 and json.loads(missing.value.body)["reason"] == "NotFound"
    with pytest.raises(client.ApiException) as refused:
        core.delete_namespaced_pod(pod, "shop")
    assert refused.value.status == 405  # the world changes only through the executor


def test_a_rollback_in_the_world_shows_at_the_next_request(cluster: tuple[World, SimClock, Any, Any]) -> None:
    world, clock, core, apps = cluster
    world.apply("version_rollback", {"service": "cart", "namespace": "shop", "target": "v3.1.0"}, "k1")
    clock.sleep(120)
    deployment = apps.read_namespaced_deployment("cart", "shop")
    assert deployment.spec.template.spec.containers[0].image.endswith(":v3.1.0")
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "3"  # the old ReplicaSet, anew
    revisions = {
        rs.spec.template.spec.containers[0].image.rsplit(":", 1)[1]: rs.metadata.annotations
        for rs in apps.list_namespaced_replica_set("shop", label_selector="app=cart").items
    }
    assert revisions["v3.1.0"]["deployment.kubernetes.io/revision"] == "3"
    assert revisions["v3.1.0"]["deployment.kubernetes.io/revision-history"] == "1"
    pods = core.list_namespaced_pod("shop", label_selector="app=cart").items
    assert all(p.status.container_statuses[0].ready and p.status.container_statuses[0].restart_count == 0 for p in pods)
    scaled = [e.message for e in core.list_namespaced_event("shop").items if e.reason == "ScalingReplicaSet"]
    assert scaled[-2].startswith("Scaled up replica set cart-") and scaled[-2].endswith(" to 2")


def test_an_episode_points_kubernetes_at_the_world_and_refuses_a_remote_cluster(tmp_path: Path) -> None:
    path = Path(shutil.copytree(CASES / "am-cart-errors-bad-release", tmp_path / "kube-case"))
    world = yaml.safe_load((path / "world.yaml").read_text())
    (path / "world.yaml").write_text(yaml.safe_dump(world | {"image": "registry.example.com/shop/cart"}))
    case = load_case(path)
    with open_world(case, tmp_path / "home", "live") as opened:
        kube = opened.settings.kubernetes
        assert kube is not None and kube.host is not None and kube.host.startswith("http://127.0.0.1:")
        apps = client.AppsV1Api(client.ApiClient(client.Configuration(host=kube.host)))
        image = apps.read_namespaced_deployment("cart", "shop").spec.template.spec.containers[0].image
        assert image == f"registry.example.com/shop/cart:{opened.world.state().version}"  # type: ignore[union-attr]
    config = yaml.safe_load((path / "config.yaml").read_text())
    (path / "config.yaml").write_text(yaml.safe_dump(config | {"kubernetes": {"host": "https://10.0.0.1:6443"}}))
    refused = "kubernetes.host: 'https://10.0.0.1:6443' is not a loopback address"
    with pytest.raises(CaseError, match=refused), open_world(load_case(path), tmp_path / "home2", "live"):
        pass


def test_a_bad_kube_fixture_is_reported_by_file_and_entry(tmp_path: Path) -> None:
    path = Path(shutil.copytree(CASES / "am-cart-errors-bad-release", tmp_path / "kube-case"))
    (path / "kube").mkdir()
    (path / "kube" / "events.yaml").write_text(
        yaml.safe_dump([FIXTURES[0], {"kind": "Secret", "metadata": {"name": "x"}}])
    )
    with pytest.raises(CaseError) as err:
        load_case(path)
    assert str(err.value) == f"{path / 'kube' / 'events.yaml'}: [1].kind: expected one of ['ConfigMap', 'Event']"


def test_times_move_with_the_case_in_the_prometheus_world(tmp_path: Path) -> None:
    from evals.prom_world import Anchor

    anchor = Anchor(offset=timedelta(days=30), now=NOW + timedelta(days=30))
    kube = tmp_path / "kube"
    kube.mkdir()
    (kube / "events.yaml").write_text(yaml.safe_dump(FIXTURES[:1]))
    spec = WorldSpec.model_validate(WORLD).moved(anchor.offset)
    world = World(spec, tmp_path / "state.json", clock=SimClock(anchor.now))
    with serve_world(world, kube, moved=anchor) as url:
        core = client.CoreV1Api(client.ApiClient(client.Configuration(host=url)))
        updated = next(e for e in core.list_namespaced_event("shop").items if e.reason == "Updated")
    assert updated.last_timestamp == datetime(2026, 12, 8, 2, 58, tzinfo=UTC)
