"""The webhook bodies as JSON Schema, published in the service's OpenAPI document.

The handlers read the raw body themselves (size limit first, then the parsers of
state/alert.py, which name the offending field), so FastAPI cannot infer a body schema. These
describe what each sender posts, for people and for tools that generate requests from the
schema (the schemathesis fuzz test drives every route from it). They describe, they do not
validate: a body outside them still gets a 4xx naming the field, never a 5xx.
"""

from __future__ import annotations

from typing import Any

_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_TIME = {"type": "string", "description": "RFC 3339; 0001-01-01T00:00:00Z means not set"}

ALERTMANAGER: dict[str, Any] = {
    "type": "object",
    "description": "Alertmanager webhook v4: one notification is one alert group.",
    "required": ["alerts"],
    "properties": {
        "version": {"type": "string"},
        "groupKey": {"type": "string"},
        "truncatedAlerts": {"type": "integer"},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "receiver": {"type": "string"},
        "groupLabels": _STR_MAP,
        "commonLabels": _STR_MAP,
        "commonAnnotations": _STR_MAP,
        "externalURL": {"type": "string"},
        "alerts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "status": {"type": "string", "enum": ["firing", "resolved"]},
                    "labels": _STR_MAP,
                    "annotations": _STR_MAP,
                    "startsAt": _TIME,
                    "endsAt": _TIME,
                    "generatorURL": {"type": "string"},
                    "fingerprint": {"type": "string"},
                },
            },
        },
    },
}

GENERIC: dict[str, Any] = {
    "type": "object",
    "description": "alertpilot's generic alert form.",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "status": {"type": "string", "enum": ["firing", "resolved"]},
        "severity": {"type": "string"},
        **{k: {"type": "string"} for k in ("service", "namespace", "cluster", "workload", "pod", "version")},
        "summary": {"type": "string"},
        "labels": _STR_MAP,
        "annotations": _STR_MAP,
        "starts_at": {"type": ["string", "number"]},
        "fingerprint": {"type": "string"},
        "group_key": {"type": "string"},
        "expression": {"type": "string", "description": "PromQL whose result is the signal."},
        "condition": {
            "type": "object",
            "properties": {
                "metric": {"type": "string"},
                "operator": {"type": "string"},
                "threshold": {"type": "number"},
                "current": {"type": "number"},
            },
        },
    },
}

TENCENT: dict[str, Any] = {
    "type": "object",
    "description": "A Tencent Cloud Monitor alarm callback (numbers may arrive as strings).",
    "required": ["alarmStatus", "alarmObjInfo", "alarmPolicyInfo", "firstOccurTime"],
    "properties": {
        "sessionId": {"type": "string"},
        "alarmStatus": {"type": "string", "enum": ["0", "1"]},
        "alarmType": {"type": "string", "enum": ["metric", "event"]},
        "alarmObjInfo": {
            "type": "object",
            "properties": {
                "region": {"type": "string"},
                "namespace": {"type": "string"},
                "dimensions": {"type": "object"},
            },
        },
        "alarmPolicyInfo": {
            "type": "object",
            "properties": {
                "policyId": {"type": "string"},
                "policyName": {"type": "string"},
                "conditions": {"type": "object"},
            },
        },
        "firstOccurTime": {"type": "string", "description": "YYYY-MM-DD HH:MM:SS, China Standard Time"},
        "durationTime": {"type": ["integer", "string"]},
        "recoverTime": {"type": "string"},
        "additionalMsg": {"type": "array", "items": {"type": "object"}},
    },
}

CLS: dict[str, Any] = {
    "type": "object",
    "description": "A CLS alarm rendered from the template in the README.",
    "required": ["alarm", "alarm_id", "start_time_unix"],
    "properties": {
        "alarm": {"type": "string"},
        "alarm_id": {"type": "string"},
        "notify_type": {"type": "string", "enum": ["1", "2"]},
        "topic_id": {"type": "string"},
        "condition": {"type": "string"},
        "start_time_unix": {"type": ["string", "integer"]},
        "query_log": {"type": ["string", "array", "object"]},
        "labels": _STR_MAP,
    },
}

SCHEMAS = {"alertmanager": ALERTMANAGER, "generic": GENERIC, "tencent": TENCENT, "cls": CLS}


def body_of(source: str) -> dict[str, Any]:
    """``openapi_extra`` for a webhook route: its JSON request body."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": SCHEMAS[source]}}}}
