"""A Cloud Monitor alarm that no Prometheus series measures is read from Cloud Monitor itself.

The CLB layer-7 callback below carries what ``GetMonitorData`` needs (namespace, metric, the
listener's dimensions); diagnosis sizes the signal there and blames the release it rose
with; the world's declared Cloud Monitor metrics answer the tool (tools/world_cloud.py).
The real SDK against a local API server is tests/integration/test_monitor_api.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agents import cloud_signal
from agents.diagnosis import investigate
from agents.reporting import write_report
from state.alert import parse_tencent, with_subject
from state.config import Settings
from state.incident import IncidentState
from state.subject import Subject
from tools.cloud_monitor import WorldMonitor, api_region, monitor_tools
from tools.metrics import WorldMetrics, metrics_tools
from tools.registry import ToolRegistry, ToolSession
from tools.world import SimClock, World, WorldSpec

NOW = datetime(2026, 12, 13, 12, 16, tzinfo=UTC)  # 20:16 CST, two minutes into the alarm
LISTENER = {"vip": "119.29.88.16", "loadBalancerPort": "443", "protocol": "https",
            "domain": "api.mall.example.com", "url": "/orders"}  # fmt: skip
ORDER_API = Subject(kind="workload", name="order-api", namespace="mall", workload_kind="Deployment")


def callback(namespace: str = "qce/loadbalance", metric: str = "HttpCode5XX") -> dict[str, Any]:
    dims = {"objId": "lb-2k9xq7mf", "objName": "lb-2k9xq7mf(mall-api)|119.29.88.16:443|api.mall.example.com/orders"}
    return {
        "sessionId": "ses-1", "alarmStatus": "1", "alarmType": "metric",
        "alarmObjInfo": {"region": "sh", "namespace": namespace, "appId": "1", "uin": "1",
                         "dimensions": dims | LISTENER},
        "alarmPolicyInfo": {"policyId": "policy-1", "policyType": "loadbalance_l7", "policyName": "API 5xx",
                            "conditions": {"metricName": metric, "metricShowName": "5xx 状态码", "calcType": ">",
                                           "calcValue": "300", "currentValue": "2174", "unit": "个",
                                           "period": "60", "periodNum": "3"}},
        "firstOccurTime": "2026-12-13 20:14:00", "durationTime": 180, "recoverTime": "0",
    }  # fmt: skip


def world(tmp_path: Path, declared: dict[str, str] | None = None) -> World:
    order_api = {
        "name": "order-api", "namespace": "mall", "image": "ccr.ccs.tencentyun.com/mall/order-api",
        "versions": [{"metric": "kube_pod_container_info", "label": "image",
                      "template": "ccr.ccs.tencentyun.com/mall/order-api:{version}"}],
        "releases": [{"version": "v2.5.3", "deployed_at": "2026-12-01T02:00:00Z"},
                     {"version": "v2.6.0", "deployed_at": "2026-12-13T12:05:30Z"}],
        "signals": {"http5xx": {"default": 6.0, "v2.6.0": 2174.0}},
        "cloud_metrics": [{"namespace": "QCE/LOADBALANCE", "metric": "HttpCode5XX",
                           "dimensions": declared or LISTENER, "signal": "http5xx"}],
    }  # fmt: skip
    return World(WorldSpec.model_validate({"workloads": [order_api]}), tmp_path / "s.json", clock=SimClock(NOW))


def session(w: World, *, cloud: bool = True) -> ToolSession:
    tools = metrics_tools(WorldMetrics(w)) + (monitor_tools(WorldMonitor(w)) if cloud else [])
    return ToolSession(ToolRegistry(tools), agent="diagnosis")


def alarm() -> Any:
    return with_subject(parse_tencent(callback())[0], ORDER_API)  # services: maps domain+url to order-api


def test_the_alarm_names_what_get_monitor_data_is_asked() -> None:
    signal = cloud_signal.of_alert(alarm())
    assert signal is not None
    assert (signal.namespace, signal.metric, signal.period, signal.region) == (
        "QCE/LOADBALANCE",
        "HttpCode5XX",
        60,
        "sh",
    )
    assert signal.dimensions == LISTENER  # objId/objName are the console's, not API dimensions
    assert api_region("sh") == "ap-shanghai" and api_region("ap-guangzhou") == "ap-guangzhou"


def test_tke_metrics_are_not_asked_of_get_monitor_data() -> None:
    # QCE/TKE2 is documented for DescribeStatisticData only: its alarms use their PromQL equivalents
    assert cloud_signal.of_alert(parse_tencent(callback("qce/tke2", "K8sWorkloadCpuCoreUsed"))[0]) is None


def test_diagnosis_sizes_a_cloud_alarm_from_cloud_monitor_and_blames_the_release(tmp_path: Path) -> None:
    s = session(world(tmp_path))
    diagnosis, findings = investigate(s, alarm(), "build_info", NOW)
    assert (diagnosis.pattern, diagnosis.suspected_release, diagnosis.known_good_release) == (
        "release", "v2.6.0", "v2.5.3",
    )  # fmt: skip
    assert diagnosis.signal_value == pytest.approx(2174.0)
    assert diagnosis.cloud_signal is not None and diagnosis.cloud_signal["dimensions"] == LISTENER
    asked = [c.args for c in s.calls if c.tool == "get_monitor_data"]
    assert asked and all(a["namespace"] == "QCE/LOADBALANCE" and a["metric"] == "HttpCode5XX" for a in asked)
    # the report's promQL lists PromQL only: the Cloud Monitor reading is evidence, not a query to paste
    report = write_report(IncidentState(incident_id="i", alert=alarm(), diagnosis=diagnosis, findings=findings),
                          Settings(language="en"), "en")  # fmt: skip
    assert not any(q.startswith("QCE/") for q in report.prom_ql)
    assert any("QCE/LOADBALANCE HttpCode5XX" in str(e.get("query")) for e in report.evidence)


def test_without_cloud_monitor_the_same_alarm_has_no_data_and_nothing_is_done(tmp_path: Path) -> None:
    diagnosis, _ = investigate(session(world(tmp_path), cloud=False), alarm(), "build_info", NOW)
    assert diagnosis.pattern == "no_data" and diagnosis.abstain


def test_the_world_answers_only_the_object_it_declares(tmp_path: Path) -> None:
    w = world(tmp_path, declared={"domain": "api.mall.example.com", "url": "/orders"})
    monitor = WorldMonitor(w)
    start = NOW - timedelta(minutes=15)
    got = monitor.monitor_data("qce/loadbalance", "httpcode5xx", LISTENER, 60, start, NOW, None)
    assert [t % 60 for t, _ in got] == [0.0] * len(got) and len(got) == 16  # one point per period boundary
    assert got[0][1] == 6.0 and got[-1][1] == 2174.0  # v2.6.0 shipped at 12:05:30
    other_url = LISTENER | {"url": "/users"}
    assert monitor.monitor_data("QCE/LOADBALANCE", "HttpCode5XX", other_url, 60, start, NOW, None) == []
    assert monitor.monitor_data("QCE/LOADBALANCE", "HttpCode4XX", LISTENER, 60, start, NOW, None) == []


def test_a_period_the_api_does_not_offer_is_a_sentence_naming_it(tmp_path: Path) -> None:
    s = session(world(tmp_path))
    args = {"namespace": "QCE/LOADBALANCE", "metric": "HttpCode5XX", "dimensions": LISTENER,
            "start": "2026-12-13T12:00:00Z", "end": "2026-12-13T12:10:00Z"}  # fmt: skip
    result = s.call("get_monitor_data", **args, period=7)
    assert not result.ok and "period: 7" in result.error
    ok = s.call("get_monitor_data", **args)
    assert ok.ok and ok.data["result"][0]["metric"] == LISTENER and len(ok.data["result"][0]["values"]) == 11
