"""The TKE Helm backend through tencentcloud-sdk-python against a local API 3.0 server."""

from __future__ import annotations

from typing import Any

import pytest

from state.config import TkeConfig
from tests.servers.tencent import TencentApi
from tools.backends.tke import TkeHelmBackend, tke_client_from

pytestmark = pytest.mark.integration

HISTORY = [
    {
        "Name": "checkout",
        "Namespace": "shop",
        "Revision": 5,
        "Status": "deployed",
        "Chart": "checkout-2.2.0",
        "AppVersion": "v2.2",
    },
    {
        "Name": "checkout",
        "Namespace": "shop",
        "Revision": 4,
        "Status": "superseded",
        "Chart": "checkout-2.1.0",
        "AppVersion": "v2.1",
    },
    {
        "Name": "checkout",
        "Namespace": "shop",
        "Revision": 3,
        "Status": "superseded",
        "Chart": "checkout-2.0.0",
        "AppVersion": "v2.0",
    },
]


def _history(_body: dict[str, Any]) -> dict[str, Any]:
    return {"ReleaseHistorySet": HISTORY, "Total": len(HISTORY)}


def _rollback(body: dict[str, Any]) -> dict[str, Any]:
    return {"Release": {"Name": body["Name"], "Namespace": body["Namespace"], "Status": "pending-rollback"}}


def _api(**actions: Any) -> TencentApi:
    api = TencentApi({"AKIDtest": "secret"})  # checks every request's TC3 signature
    api.actions.update(actions)
    return api


def _backend(server: TencentApi) -> TkeHelmBackend:
    client = tke_client_from(TkeConfig(endpoint=server.endpoint), "AKIDtest", "secret")
    return TkeHelmBackend(client, "cls-abc123", namespace="shop")


def test_target_version_rolls_the_release_back_to_its_revision() -> None:
    with _api(DescribeClusterReleaseHistory=_history, RollbackClusterRelease=_rollback) as server:
        result = _backend(server).execute("version_rollback", {"service": "checkout", "target": "v2.1"}, "inc-1:1")
    assert result.status == "success", result.error
    assert result.detail == "Helm release shop/checkout rolled back to revision 4 (pending-rollback)"
    call = server.calls[-1]
    assert (call["action"], call["service"], call["version"]) == ("RollbackClusterRelease", "tke", "2018-05-25")
    assert call["params"] == {
        "ClusterId": "cls-abc123",
        "Name": "checkout",
        "Namespace": "shop",
        "Revision": 4,
        "ClusterType": "tke",
    }


def test_revision_goes_straight_to_rollback_and_undo_goes_to_the_previous() -> None:
    with _api(DescribeClusterReleaseHistory=_history, RollbackClusterRelease=_rollback) as server:
        backend = _backend(server)
        assert backend.execute("version_rollback", {"service": "checkout", "revision": 3}, None).status == "success"
        assert [c["action"] for c in server.calls] == ["RollbackClusterRelease"]
        assert backend.execute("version_rollback", {"service": "checkout", "undo": True}, None).status == "success"
    assert server.calls[-1]["params"]["Revision"] == 4


def test_api_errors_and_unsupported_operations_are_error_results() -> None:
    def failing(_body: dict[str, Any]) -> dict[str, Any]:
        return {"Error": {"Code": "ResourceNotFound.ClusterNotFound", "Message": "cluster cls-abc123 not found"}}

    with _api(DescribeClusterReleaseHistory=failing) as server:
        backend = _backend(server)
        result = backend.execute("version_rollback", {"service": "checkout", "target": "v2.1"}, None)
        restart = backend.execute("restart", {"service": "checkout"}, None)
    assert result.status == "error"
    assert result.error == "TKE ResourceNotFound.ClusterNotFound: cluster cls-abc123 not found"
    assert restart.status == "error" and "not supported by the tke backend" in restart.error
