"""Alert intake: every source's wire format becomes one normalized Alert; bad input names the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from state.alert import MAX_PAYLOAD_BYTES, AlertParseError, detect_source, parse_alerts
from tests.conftest import DEMO_CASE, REFERENCE


def _reference(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text())


def test_alertmanager_sample_from_the_reference() -> None:
    [alert] = parse_alerts(json.dumps(_reference("alertmanager-v4.json")))
    assert alert.source == "alertmanager"
    assert alert.status == "firing"
    assert alert.name == "HighErrorRate"
    assert (alert.service, alert.namespace, alert.severity, alert.version) == ("checkout", "shop", "critical", "v2.2")
    assert alert.fingerprint == "7c1f0a9b3e2d4c55"
    assert alert.ends_at is None  # 0001-01-01 means unresolved
    assert alert.starts_at == datetime(2026, 11, 20, 3, 12, 45, 120000, tzinfo=UTC)
    assert alert.expression == 'sum(rate(http_requests_total{code=~"5.."}[5m]))'
    assert alert.group_key and alert.dedup_key == alert.group_key


def test_alertmanager_group_gives_one_alert_each_and_resolved_keeps_fingerprint() -> None:
    payload = _reference("alertmanager-v4.json")
    second = dict(
        payload["alerts"][0],
        fingerprint="aaaa",
        labels={"alertname": "HighErrorRate", "pod": "checkout-7d9f8b6c5-x2x9k"},
    )
    payload["alerts"].append(second)
    alerts = parse_alerts(payload)
    assert [a.fingerprint for a in alerts] == ["7c1f0a9b3e2d4c55", "aaaa"]
    assert alerts[1].service == "checkout"  # commonLabels fill in what the alert omits
    resolved = _reference("alertmanager-v4.json")
    resolved["status"] = "resolved"
    resolved["alerts"][0] |= {"status": "resolved", "endsAt": "2026-11-20T03:40:00Z"}
    [alert] = parse_alerts(resolved)
    assert alert.status == "resolved" and alert.fingerprint == "7c1f0a9b3e2d4c55"
    assert alert.ends_at == datetime(2026, 11, 20, 3, 40, tzinfo=UTC)


def test_tencent_metric_alarm_parses_string_numbers_and_china_time() -> None:
    [alert] = parse_alerts(_reference("tencent-metric-alarm.json"))
    assert alert.source == "tencent" and alert.status == "firing"
    assert alert.condition is not None
    assert (alert.condition.metric, alert.condition.operator) == ("cpu_usage", ">")
    assert (alert.condition.threshold, alert.condition.current, alert.condition.period_s) == (90.0, 97.5, 60)
    assert alert.starts_at == datetime(2026, 11, 19, 19, 10, tzinfo=UTC)  # 03:10 China Standard Time
    assert alert.ends_at is None
    assert alert.labels["unInstanceId"] == "ins-6pq2x8aa"


def test_tencent_event_alarm_flattens_dimensions_and_additional_msg() -> None:
    [alert] = parse_alerts(_reference("tencent-event-alarm.json"))
    assert alert.name == "PodOOMKilled"
    assert alert.condition is None
    assert (alert.cluster, alert.namespace, alert.workload) == ("cls-7h3k2m1p", "shop", "checkout")
    assert alert.pod == "checkout-6d9f7c8b5-x2k4p"
    assert alert.labels["reason"] == "OOMKilled"


def test_tencent_recovery_with_numeric_status_and_recover_time() -> None:
    payload = _reference("tencent-metric-alarm.json") | {"alarmStatus": 0, "recoverTime": "2026-11-20 03:30:00"}
    [alert] = parse_alerts(payload)
    assert alert.status == "resolved"
    assert alert.ends_at == datetime(2026, 11, 19, 19, 30, tzinfo=UTC)
    firing = parse_alerts(_reference("tencent-metric-alarm.json"))[0]
    assert alert.fingerprint == firing.fingerprint


def test_cls_template_body() -> None:
    body = {
        "alarm": "checkout-error-logs",
        "alarm_id": "alarm-1x2y",
        "topic_id": "topic-9",
        "notify_type": "1",
        "start_time_unix": "1763608365000",
        "condition": "$1.count > 100",
        "query_log": [{"level": "ERROR", "message": "nil pointer"}],
        "labels": {"service": "checkout", "namespace": "shop"},
    }
    [alert] = parse_alerts(body)
    assert alert.source == "cls" and alert.status == "firing" and alert.service == "checkout"
    assert alert.starts_at == datetime.fromtimestamp(1763608365, UTC)
    assert "nil pointer" in alert.annotations["query_log"]
    [recovered] = parse_alerts(body | {"notify_type": "2"})
    assert recovered.status == "resolved" and recovered.fingerprint == alert.fingerprint


def test_generic_form() -> None:
    [alert] = parse_alerts({"name": "DiskFull", "service": "db", "severity": "warn", "expression": "disk > 0.9"})
    assert (alert.source, alert.name, alert.severity, alert.workload) == ("generic", "DiskFull", "warning", "db")


def test_bundled_demo_alert_carries_its_expression() -> None:
    [alert] = parse_alerts((DEMO_CASE / "alert.json").read_bytes())
    assert alert.expression and alert.expression.endswith("> 0.05")


@pytest.mark.parametrize(
    ("body", "source", "field"),
    [
        (b"not json", "auto", "body"),
        (b"", "auto", "body"),
        (b"[1, 2]", "auto", "body"),
        (b'{"hello": 1}', "auto", "source"),
        (b'{"version": "4", "groupKey": "g", "alerts": []}', "auto", "alerts"),
        (b'{"version": "4", "groupKey": "g", "alerts": "x"}', "auto", "alerts"),
        (
            b'{"version": "4", "groupKey": "g", "alerts": [{"status": "firing", "labels": {}}]}',
            "auto",
            "alerts[0].labels.alertname",
        ),
        (
            b'{"version": "4", "groupKey": "g", "alerts": [{"status": "odd", "labels": {"alertname": "a"}}]}',
            "auto",
            "alerts[0].status",
        ),
        (
            b'{"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "a"}, "startsAt": "yesterday"}]}',
            "auto",
            "alerts[0].startsAt",
        ),
        (
            b'{"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": {"x": 1}}}]}',
            "auto",
            "alerts[0].labels.alertname",
        ),
        (b'{"alarmStatus": "7"}', "auto", "alarmStatus"),
        (
            b'{"alarmStatus": "1", "alarmType": "metric", "alarmObjInfo": {}, "alarmPolicyInfo": {"conditions": {"metricName": "cpu", "calcValue": "high"}}, "firstOccurTime": "2026-11-20 03:10:00"}',
            "auto",
            "alarmPolicyInfo.conditions.calcValue",
        ),
        (b'{"alarmStatus": "1", "alarmObjInfo": [], "alarmPolicyInfo": {}}', "auto", "alarmObjInfo"),
        (b'{"name": "x"}', "prometheus", "source"),
        (b'{"alarm": "a", "alarm_id": "b", "topic_id": "t", "notify_type": "9"}', "cls", "notify_type"),
        (b'{"name": "x", "namespace": 5}', "generic", "namespace"),
    ],
)
def test_bad_input_names_the_field(body: bytes, source: str, field: str) -> None:
    with pytest.raises(AlertParseError) as caught:
        parse_alerts(body, source)
    assert caught.value.field == field


def test_payload_over_one_mebibyte_is_refused() -> None:
    body = b'{"name": "x", "pad": "' + b"a" * MAX_PAYLOAD_BYTES + b'"}'
    with pytest.raises(AlertParseError, match="1 MiB"):
        parse_alerts(body)


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("alertmanager-v4.json", "alertmanager"),
        ("tencent-metric-alarm.json", "tencent"),
        ("tencent-event-alarm.json", "tencent"),
    ],
)
def test_auto_detection(name: str, source: str) -> None:
    assert detect_source(_reference(name)) == source


def test_reference_dir_exists() -> None:
    assert Path(REFERENCE).is_dir()
