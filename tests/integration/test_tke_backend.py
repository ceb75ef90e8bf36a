"""The TKE Helm backend through tencentcloud-sdk-python against a local API 3.0 server."""

from __future__ import annotations

from typing import Any

import pytest

from state.config import TkeConfig
from tests.servers.tencent import TencentServer
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


def _backend(server: TencentServer) -> TkeHelmBackend:
    client = tke_client_from(TkeConfig(endpoint=server.endpoint), "AKIDtest", "secret")
    return TkeHelmBackend(client, "cls-abc123", namespace="shop")


def test_target_version_rolls_the_release_back_to_its_revision() -> None:
    with TencentServer({"DescribeClusterReleaseHistory": _history, "RollbackClusterRelease": _rollback}) as server:
        result = _backend(server).execute("version_rollback", {"service": "checkout", "target": "v2.1"}, "inc-1:1")
    assert result.status == "success", result.error
    assert result.detail == "Helm release shop/checkout rolled back to revision 4 (pending-rollback)"
    action, headers, body = server.requests[-1]
    assert action == "RollbackClusterRelease"
    assert headers["X-TC-Version"] == "2018-05-25"
    assert body == {
        "ClusterId": "cls-abc123",
        "Name": "checkout",
        "Namespace": "shop",
        "Revision": 4,
        "ClusterType": "tke",
    }


def test_revision_goes_straight_to_rollback_and_undo_goes_to_the_previous() -> None:
    with TencentServer({"DescribeClusterReleaseHistory": _history, "RollbackClusterRelease": _rollback}) as server:
        backend = _backend(server)
        assert backend.execute("version_rollback", {"service": "checkout", "revision": 3}, None).status == "success"
        assert [a for a, _, _ in server.requests] == ["RollbackClusterRelease"]
        assert backend.execute("version_rollback", {"service": "checkout", "undo": True}, None).status == "success"
    assert server.requests[-1][2]["Revision"] == 4


def test_api_errors_and_unsupported_operations_are_error_results() -> None:
    def failing(_body: dict[str, Any]) -> dict[str, Any]:
        return {"Error": {"Code": "ResourceNotFound.ClusterNotFound", "Message": "cluster cls-abc123 not found"}}

    with TencentServer({"DescribeClusterReleaseHistory": failing}) as server:
        backend = _backend(server)
        result = backend.execute("version_rollback", {"service": "checkout", "target": "v2.1"}, None)
        restart = backend.execute("restart", {"service": "checkout"}, None)
    assert result.status == "error"
    assert result.error == "TKE ResourceNotFound.ClusterNotFound: cluster cls-abc123 not found"
    assert restart.status == "error" and "not supported by the tke backend" in restart.error
