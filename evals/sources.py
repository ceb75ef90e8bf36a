"""Source adapters for generated cases: the payload each monitoring system really sends.

Given what a case is about (service, namespace, signal, start time, severity), build the
body Alertmanager (webhook v4), Tencent Cloud Monitor (metric or event callback), a CLS
alarm webhook (the template in docs) or the generic JSON form would POST, and the PromQL
that measures that alert's signal (None when the source carries no metric).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from tools.promql import with_labels

CST = timezone(timedelta(hours=8))
ZERO = "0001-01-01T00:00:00Z"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cst(at: datetime) -> str:
    return at.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def _hex(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def tencent_percent(source: str, unit: str) -> float:
    """Cloud Monitor states ratio metrics in percent; the world must answer in the same unit."""
    return 100.0 if source == "tencent" and unit == "%" else 1.0


def signal_query(source: str, promql: str, threshold: float, metric: str, svc: str, ns: str) -> str | None:
    """The PromQL that measures an alert from ``source`` (None for log and event alarms)."""
    if source in ("alertmanager", "generic"):
        return f"{promql} > {threshold:g}"
    if source == "tencent":
        return with_labels(metric, {"namespace": ns, "workload_name": svc})
    return None


def alert_payload(
    source: str,
    *,
    name: str,
    svc: str,
    ns: str,
    severity: str,
    start: datetime,
    summary: str,
    query: str | None,
    metric: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    firing: bool = True,
) -> dict[str, Any]:
    """The body ``source`` POSTs for this alert."""
    extra = extra or {}
    if source == "alertmanager":
        return _alertmanager(name, svc, ns, severity, start, summary, query, extra, firing)
    if source == "generic":
        body: dict[str, Any] = {
            "name": name,
            "status": "firing" if firing else "resolved",
            "severity": severity,
            "service": svc,
            "namespace": ns,
            "summary": summary,
            "starts_at": _iso(start),
            "expression": query,
        }
        return body | extra
    if source == "tencent" and event is not None:
        return _tencent_event(name, svc, ns, severity, start, event, firing)
    if source == "tencent":
        assert metric is not None
        return _tencent_metric(name, svc, ns, severity, start, metric, firing)
    return _cls(name, svc, ns, severity, start, summary, extra, firing)


def _alertmanager(
    name: str,
    svc: str,
    ns: str,
    severity: str,
    start: datetime,
    summary: str,
    query: str | None,
    extra: dict[str, Any],
    firing: bool,
) -> dict[str, Any]:
    labels = {"alertname": name, "service": svc, "namespace": ns, "severity": severity}
    generator = f"http://prometheus.local:9090/graph?g0.expr={quote(query or '', safe='')}&g0.tab=1"
    entry = {
        "status": "firing" if firing else "resolved",
        "labels": labels,
        "annotations": {"summary": summary},
        "startsAt": _iso(start),
        "endsAt": ZERO if firing else _iso(start + timedelta(minutes=20)),
        "generatorURL": generator,
        "fingerprint": _hex(*sorted(f"{k}={v}" for k, v in labels.items())),
    }
    group = {"alertname": name, "service": svc}
    body: dict[str, Any] = {
        "version": "4",
        "groupKey": '{}/{severity=~"critical|warning|info"}:' + "{" + f'alertname="{name}", service="{svc}"' + "}",
        "truncatedAlerts": 0,
        "status": entry["status"],
        "receiver": "alertpilot",
        "notification_reason": "first notification",
        "groupLabels": group,
        "commonLabels": labels,
        "commonAnnotations": {"summary": summary},
        "externalURL": "http://alertmanager.local:9093",
        "alerts": [entry],
    }
    return body | extra


def _tencent_common(svc: str, start: datetime, severity: str, firing: bool) -> dict[str, Any]:
    return {
        "sessionId": f"ses-{_hex(svc, start.isoformat())[:8]}",
        "alarmStatus": "1" if firing else "0",
        "firstOccurTime": _cst(start),
        "durationTime": 300,
        "recoverTime": "0" if firing else _cst(start + timedelta(minutes=20)),
    }


def _tencent_metric(
    name: str, svc: str, ns: str, severity: str, start: datetime, metric: dict[str, Any], firing: bool
) -> dict[str, Any]:
    return _tencent_common(svc, start, severity, firing) | {
        "alarmType": "metric",
        "alarmObjInfo": {
            "region": "gz",
            "namespace": "qce/tke2",
            "appId": "1250000000",
            "uin": "100000000001",
            "dimensions": {
                "objId": f"{ns}/{svc}",
                "objName": svc,
                "tke_cluster_instance_id": "cls-prod01",
                "namespace": ns,
                "workload_kind": "Deployment",
                "workload_name": svc,
            },
        },
        "alarmPolicyInfo": {
            "policyId": f"policy-{_hex(name, svc)[:6]}",
            "policyType": "tke2",
            "policyName": name,
            "policyTypeCName": "容器服务",
            "severity": severity,
            "conditions": {
                "metricName": metric["name"],
                "metricShowName": metric["show"],
                "calcType": ">",
                "calcValue": f"{metric['threshold']:g}",
                "currentValue": f"{metric['current']:g}",
                "unit": metric.get("unit", ""),
                "period": "60",
                "periodNum": "5",
                "alarmNotifyType": "continuousAlarm",
                "alarmNotifyPeriod": 300,
            },
        },
    }


def _tencent_event(
    name: str, svc: str, ns: str, severity: str, start: datetime, event: dict[str, Any], firing: bool
) -> dict[str, Any]:
    pod = f"{svc}-6d9f7c8b5-x2k4p"
    return _tencent_common(svc, start, severity, firing) | {
        "alarmType": "event",
        "alarmObjInfo": {
            "region": "sh",
            "namespace": "qce/tke2",
            "appId": "1250000000",
            "uin": "100000000001",
            "dimensions": {
                "objId": "cls-prod01",
                "objName": "prod-cluster",
                "objDetail": {"clusterId": "cls-prod01", "namespace": ns, "workloadName": svc},
            },
        },
        "alarmPolicyInfo": {
            "policyId": f"policy-{_hex(name, svc)[:6]}",
            "policyType": "tke2",
            "policyName": name,
            "policyTypeCName": "容器服务",
            "severity": severity,
            "conditions": {
                "productName": "tke2",
                "productShowName": "容器服务",
                "eventName": event["name"],
                "eventShowName": event["show"],
                "alarmNotifyType": "singleAlarm",
                "alarmNotifyPeriod": 0,
            },
        },
        "additionalMsg": [{"key": "pod_name", "value": pod}, {"key": "reason", "value": event["reason"]}],
    }


def _cls(
    name: str, svc: str, ns: str, severity: str, start: datetime, summary: str, extra: dict[str, Any], firing: bool
) -> dict[str, Any]:
    labels = {"service": svc, "namespace": ns} | extra.pop("labels", {})
    body = {
        "alarm": name,
        "alarm_id": f"alarm-{_hex(name, svc)[:8]}",
        "topic_id": f"topic-{svc}-business",
        "notify_type": "1" if firing else "2",
        "severity": severity,
        "condition": "$1.errors > 50",
        "detail": summary,
        "start_time_unix": int(start.timestamp() * 1000),
        "labels": labels,
    }
    return body | extra
