"""``get_monitor_data`` through tencentcloud-sdk-python's MonitorClient against a local API 3.0 server.

The server (tests/servers/tencent.py) checks every request's TC3 signature and answers
``GetMonitorData`` in the documented shape (``Period``, ``MetricName``, ``DataPoints[{Dimensions,
Timestamps, Values}]``), so the real client's request and response handling are what is tested.
"""

from __future__ import annotations

from typing import Any

import pytest

from state.config import CloudMonitorConfig, Settings
from tests.servers.tencent import TencentApi
from tools.catalog import cloud_monitor_tools
from tools.registry import ToolRegistry, ToolSession

pytestmark = pytest.mark.integration
SECRET_ID, SECRET_KEY = "AKIDmonitor", "monitor-secret"
LISTENER = {"vip": "119.29.88.16", "loadBalancerPort": "443", "protocol": "https",
            "domain": "api.mall.example.com", "url": "/orders"}  # fmt: skip
ARGS = {"namespace": "qce/loadbalance", "metric": "HttpCode5XX", "dimensions": LISTENER,
        "start": "2026-12-13T12:10:00Z", "end": "2026-12-13T12:13:00Z", "region": "sh"}  # fmt: skip


def _get_monitor_data(params: dict[str, Any]) -> dict[str, Any]:
    if params["MetricName"] != "HttpCode5XX":
        return {"Error": {"Code": "InvalidParameterValue", "Message": f"metric {params['MetricName']} not found"}}
    dims = params["Instances"][0]["Dimensions"]
    stamps = [1797163800, 1797163860, 1797163920, 1797163980]
    return {"Period": params["Period"], "MetricName": params["MetricName"], "StartTime": "2026-12-13 20:10:00",
            "EndTime": "2026-12-13 20:13:00", "Msg": "",
            "DataPoints": [{"Dimensions": dims, "Timestamps": stamps, "Values": [6, 7, 2174, 2190]}]}  # fmt: skip


def _session(api: TencentApi, monkeypatch: pytest.MonkeyPatch) -> ToolSession:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    settings = Settings(cloud_monitor=CloudMonitorConfig(endpoint=api.endpoint))
    return ToolSession(ToolRegistry(cloud_monitor_tools(settings)), agent="diagnosis")


def test_the_sdk_asks_for_the_alarms_object_and_answers_a_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    api = TencentApi({SECRET_ID: SECRET_KEY})
    api.actions["GetMonitorData"] = _get_monitor_data
    with api:
        result = _session(api, monkeypatch).call("get_monitor_data", **ARGS)
    assert result.ok, result.error
    [series] = result.data["result"]
    assert series["metric"] == LISTENER
    assert [float(v) for _, v in series["values"]] == [6, 7, 2174, 2190]
    [call] = api.calls
    assert (call["service"], call["action"], call["version"], call["region"]) == (
        "monitor", "GetMonitorData", "2018-07-24", "ap-shanghai",
    )  # fmt: skip
    params = call["params"]
    assert (params["Namespace"], params["MetricName"], params["Period"]) == ("QCE/LOADBALANCE", "HttpCode5XX", 60)
    assert params["Instances"] == [{"Dimensions": [{"Name": k, "Value": v} for k, v in LISTENER.items()]}]
    assert params["StartTime"].startswith("2026-12-13T12:10:00") and params["EndTime"].startswith("2026-12-13T12:13")


def test_an_api_error_and_missing_credentials_are_sentences(monkeypatch: pytest.MonkeyPatch) -> None:
    api = TencentApi({SECRET_ID: SECRET_KEY})
    api.actions["GetMonitorData"] = _get_monitor_data
    with api:
        session = _session(api, monkeypatch)
        refused = session.call("get_monitor_data", **(ARGS | {"metric": "HttpCode6XX"}))
        monkeypatch.delenv("TENCENTCLOUD_SECRET_KEY")
        fresh = ToolSession(
            ToolRegistry(cloud_monitor_tools(Settings(cloud_monitor=CloudMonitorConfig(endpoint=api.endpoint)))),
            agent="diagnosis",
        )
        unsigned = fresh.call("get_monitor_data", **ARGS)
    assert not refused.ok and "InvalidParameterValue" in refused.error and "HttpCode6XX" in refused.error
    assert not unsigned.ok and "TENCENTCLOUD_SECRET_KEY" in unsigned.error
