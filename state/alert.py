"""The normalized alert and the parsers that produce it from each source's wire format.

Every source (Alertmanager webhook v4, Tencent Cloud Monitor callbacks, a CLS alarm
webhook rendered from the template in the README, and a generic JSON form) becomes the
same :class:`Alert`. Parsers raise :class:`AlertParseError` naming the offending field;
callers turn it into exit code 2 or an HTTP 4xx, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from state.alert_fields import (
    AlertParseError,
    as_object,
    expression_from_generator_url,
    lenient_float,
    lenient_int,
    normalize_severity,
    parse_time,
    required_str,
    stable_hash,
    str_map,
)
from state.normalize import ZERO_TIMES, Unsafe, json_safe, not_a_number
from state.subject import Subject, resolve_labels, resolve_tencent, version_of

MAX_PAYLOAD_BYTES = 1024 * 1024
AlertSource = Literal["alertmanager", "tencent", "cls", "generic"]
SOURCES: tuple[str, ...] = ("alertmanager", "tencent", "cls", "generic")
# Tencent Cloud reports wall-clock times in China Standard Time without a zone.
TENCENT_TZ = timezone(timedelta(hours=8))
MAX_NAME = 256  # the store's column; a longer alert name is refused at the edge, not lost later
MAX_KEY = 200  # a longer groupKey/fingerprint is kept, and its lane is its digest (the queue's key column)


class MetricCondition(BaseModel):
    """A threshold condition as cloud monitors state it (``cpu_usage > 90``)."""

    metric: str
    operator: str = ">"
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    current: float | None = Field(default=None, allow_inf_nan=False)
    unit: str = ""
    period_s: int | None = None

    def breached(self, value: float) -> bool:
        """Whether ``value`` still violates the condition."""
        if self.threshold is None:
            return value > 0
        return _compare(value, self.operator, self.threshold)


def _compare(value: float, operator: str, threshold: float) -> bool:
    match operator.strip():
        case ">" | "gt":
            return value > threshold
        case ">=" | "ge":
            return value >= threshold
        case "<" | "lt":
            return value < threshold
        case "<=" | "le":
            return value <= threshold
        case "==" | "=" | "eq":
            return value == threshold
        case "!=" | "ne":
            return value != threshold
    return value > threshold


class Alert(BaseModel):
    """One alert, whatever system sent it."""

    source: AlertSource
    status: Literal["firing", "resolved"]
    name: str
    severity: str = "warning"
    service: str | None = None
    namespace: str | None = None
    cluster: str | None = None
    workload: str | None = None
    pod: str | None = None
    version: str | None = Field(default=None, description="Release/image tag the alert names.")
    summary: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    fingerprint: str
    group_key: str | None = None
    expression: str | None = Field(default=None, description="PromQL whose result is the signal.")
    condition: MetricCondition | None = None
    subject: Subject = Field(default_factory=Subject, description="Who the alert is about (never the exporter).")
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @model_validator(mode="after")
    def _subject_from_fields(self) -> Alert:
        """An alert built from fields (not parsed from labels) is about the workload it names."""
        if self.subject.kind == "unknown" and not self.subject.name and (self.workload or self.service):
            name = self.workload or self.service
            self.subject = Subject(
                kind="workload", name=name, namespace=self.namespace, pod=self.pod, cluster=self.cluster,
                evidence={"name": f"the alert's {'workload' if self.workload else 'service'} field"},
            )  # fmt: skip
        return self

    @property
    def dedup_key(self) -> str:
        """The investigation an alert belongs to: its group's alerts about the same subject, else its own.

        An Alertmanager group is a notification, not an incident: each member is investigated on
        its own (a crash-looping cart and a throttled recommender are two problems), except members
        about the very same subject, which are one problem seen twice. Without a group, the
        fingerprint (stable from firing to resolved) is the key; a long key is kept by its digest.
        """
        subject = self.subject
        who = (
            f"{subject.kind}:{subject.namespace or ''}/{subject.name}"
            if subject.name and subject.kind != "unknown"
            else f"alert:{self.fingerprint}"
        )
        key = f"{self.group_key}|{who}" if self.group_key else self.fingerprint
        return key if len(key) <= MAX_KEY else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _identity(subject: Subject) -> dict[str, Any]:
    """The alert's flat identity fields, all taken from its subject."""
    workload = subject.workload
    return {
        "subject": subject,
        "service": workload,
        "workload": workload,
        "namespace": subject.namespace,
        "pod": subject.pod,
        "cluster": subject.cluster,
    }


def with_subject(alert: Alert, subject: Subject) -> Alert:
    """The alert about ``subject`` (its flat identity fields follow)."""
    return alert.model_copy(update=_identity(subject))


def _version(labels: dict[str, str]) -> str | None:
    found = version_of(labels)
    return found[0] if found else None


# --------------------------------------------------------------------------- Alertmanager


def parse_alertmanager(payload: dict[str, Any], received: datetime | None = None) -> list[Alert]:
    """Parse an Alertmanager webhook v4 group into one alert per entry of ``alerts`` (``received``: zero times)."""
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise AlertParseError("alerts", "expected a list")
    if not alerts:
        raise AlertParseError("alerts", "empty group: no alerts")
    common_labels = str_map(payload.get("commonLabels"), "commonLabels")
    common_annotations = str_map(payload.get("commonAnnotations"), "commonAnnotations")
    group_key = payload.get("groupKey")
    if group_key is not None and not isinstance(group_key, str):
        raise AlertParseError("groupKey", "expected a string")
    parsed = []
    for index, entry in enumerate(alerts):
        where = f"alerts[{index}]"
        item = as_object(entry, where)
        labels = common_labels | str_map(item.get("labels"), f"{where}.labels")
        annotations = common_annotations | str_map(item.get("annotations"), f"{where}.annotations")
        status = item.get("status", payload.get("status"))
        if status not in ("firing", "resolved"):
            raise AlertParseError(f"{where}.status", f"expected firing or resolved, got {status!r}")
        name = labels.get("alertname")
        if not name:
            raise AlertParseError(f"{where}.labels.alertname", "is required")
        ends_raw = item.get("endsAt")
        ends_at = None
        if ends_raw and not (isinstance(ends_raw, str) and ends_raw.strip() in ZERO_TIMES):  # zero: not ended
            ends_at = parse_time(ends_raw, f"{where}.endsAt")
        fingerprint = item.get("fingerprint") or stable_hash(*sorted(f"{k}={v}" for k, v in labels.items()))
        generator = item.get("generatorURL")
        parsed.append(
            Alert(
                source="alertmanager",
                status=status,
                name=name,
                severity=normalize_severity(labels.get("severity")),
                **_identity(resolve_labels(labels)),
                version=_version(labels),
                summary=annotations.get("summary") or annotations.get("description", ""),
                labels=labels,
                annotations=annotations,
                starts_at=parse_time(item.get("startsAt"), f"{where}.startsAt", received=received),
                ends_at=ends_at,
                fingerprint=str(fingerprint),
                group_key=group_key,
                expression=annotations.get("expr") or expression_from_generator_url(generator),
                raw=item,
            )
        )
    return parsed


# --------------------------------------------------------------------------- Tencent Cloud Monitor


def _tencent_status(payload: dict[str, Any]) -> Literal["firing", "resolved"]:
    status = str(payload.get("alarmStatus", "")).strip()
    if status == "1":
        return "firing"
    if status == "0":
        return "resolved"
    raise AlertParseError("alarmStatus", f'expected "1" (firing) or "0" (resolved), got {status!r}')


def _tencent_dimensions(obj_info: dict[str, Any]) -> dict[str, str]:
    dims = obj_info.get("dimensions") or {}
    dims = as_object(dims, "alarmObjInfo.dimensions")
    flat: dict[str, str] = {}
    for key, value in dims.items():
        if isinstance(value, dict):  # event alarms nest details under objDetail
            flat.update({str(k): str(v) for k, v in value.items() if not isinstance(v, dict | list)})
        elif value is not None:
            flat[str(key)] = str(value)
    return flat


_TENCENT_LEVELS = {"1": "critical", "2": "warning", "3": "info", "serious": "critical", "warn": "warning",
                   "remind": "info", "严重": "critical", "警告": "warning", "提示": "info"}  # fmt: skip


def _tencent_severity(
    payload: dict[str, Any], policy: dict[str, Any], conditions: dict[str, Any], condition: MetricCondition | None
) -> str:
    """A level the callback states, else how far the value is past its threshold (never a flat critical).

    Callbacks usually carry no level; per-policy levels can be configured (triage.severity_by_policy). A
    percentage is judged against the headroom left to 100% (97.5% over a 90% threshold is three quarters
    of the way: critical); other units by the overshoot (50% past the threshold: critical). Events: warning.
    """
    for value in (payload.get("alarmLevel"), policy.get("severity"), conditions.get("alarmLevel")):
        level = _TENCENT_LEVELS.get(str(value).strip().lower()) if value not in (None, "") else None
        if level:
            return level
    if condition is None or condition.threshold is None or condition.current is None:
        return "warning"
    current, threshold = condition.current, condition.threshold
    below = condition.operator.strip() in ("<", "<=", "lt", "le")
    past = (threshold - current) if below else (current - threshold)
    if past <= 0:
        return "warning"
    if condition.unit.strip() == "%" and not below and threshold < 100:
        share = past / (100 - threshold)
    else:
        share = past / abs(threshold) if threshold else 1.0
    return "critical" if share >= 0.5 else "warning"


def parse_tencent(payload: dict[str, Any], received: datetime | None = None) -> list[Alert]:
    """Parse a Tencent Cloud Monitor alarm callback (metric or event)."""
    status = _tencent_status(payload)
    alarm_type = str(payload.get("alarmType", "metric"))
    if alarm_type not in ("metric", "event"):
        raise AlertParseError("alarmType", f'expected "metric" or "event", got {alarm_type!r}')
    obj_info = as_object(payload.get("alarmObjInfo"), "alarmObjInfo")
    policy = as_object(payload.get("alarmPolicyInfo"), "alarmPolicyInfo")
    conditions = as_object(policy.get("conditions") or {}, "alarmPolicyInfo.conditions")
    dims = _tencent_dimensions(obj_info)
    extra = payload.get("additionalMsg") or []
    if not isinstance(extra, list):
        raise AlertParseError("additionalMsg", "expected a list of {key, value}")
    for index, entry in enumerate(extra):
        pair = as_object(entry, f"additionalMsg[{index}]")
        if "key" in pair:
            dims.setdefault(str(pair["key"]), str(pair.get("value", "")))

    condition = None
    notes: list[str] = []
    if alarm_type == "metric":
        metric = required_str(conditions, "metricName", "alarmPolicyInfo.conditions.metricName")
        condition = MetricCondition(
            metric=metric,
            operator=str(conditions.get("calcType") or ">"),
            threshold=lenient_float(conditions.get("calcValue"), "alarmPolicyInfo.conditions.calcValue", notes),
            current=lenient_float(conditions.get("currentValue"), "alarmPolicyInfo.conditions.currentValue", notes),
            unit=str(conditions.get("unit") or ""),
            period_s=lenient_int(conditions.get("period"), "alarmPolicyInfo.conditions.period"),
        )
        name = str(conditions.get("metricShowName") or metric)
    else:
        name = required_str(conditions, "eventName", "alarmPolicyInfo.conditions.eventName")

    starts_at = parse_time(payload.get("firstOccurTime"), "firstOccurTime", naive_tz=TENCENT_TZ, received=received)
    recover = payload.get("recoverTime")
    ends_at = None
    if recover not in (None, "", "0", 0):
        ends_at = parse_time(recover, "recoverTime", naive_tz=TENCENT_TZ)
    lenient_int(payload.get("durationTime"), "durationTime")

    policy_id = str(policy.get("policyId") or policy.get("policyName") or "")
    obj_id = str(dims.get("objId") or dims.get("unInstanceId") or obj_info.get("region", ""))
    labels = {k: v for k, v in dims.items()}
    labels.update(
        {
            "region": str(obj_info.get("region", "")),
            "policy": str(policy.get("policyName", "")).strip(),
            "policy_type": str(policy.get("policyType", "")).strip(),
            "product": str(obj_info.get("namespace", "")).strip(),
        }
    )
    subject = resolve_tencent(dims, str(obj_info.get("namespace", "")), str(obj_info.get("region", "")))
    annotations = {
        k: str(v)
        for k, v in {
            "policyTypeCName": policy.get("policyTypeCName"),
            "eventShowName": conditions.get("eventShowName"),
            "metricShowName": conditions.get("metricShowName"),
            "objName": dims.get("objName"),
        }.items()
        if v
    }
    if notes:  # a value alertpilot could not compute with was dropped: say so beside the alert
        annotations["alertpilot_normalised"] = "; ".join(notes)
    return [
        Alert(
            source="tencent",
            status=status,
            name=name,
            severity=_tencent_severity(payload, policy, conditions, condition),
            **_identity(subject),
            summary=f"{policy.get('policyName', '')}: {conditions.get('eventShowName') or name}".strip(": "),
            labels=labels,
            annotations=annotations,
            starts_at=starts_at,
            ends_at=ends_at,
            fingerprint=stable_hash("tencent", policy_id, obj_id, name),
            group_key=None,
            condition=condition,
            raw=payload,
        )
    ]


# --------------------------------------------------------------------------- CLS


def parse_cls(payload: dict[str, Any], received: datetime | None = None) -> list[Alert]:
    """Parse a CLS alarm webhook rendered from the template documented in the README."""
    alarm = required_str(payload, "alarm", "alarm")
    alarm_id = required_str(payload, "alarm_id", "alarm_id")
    notify = str(payload.get("notify_type", "1")).strip()
    if notify not in ("1", "2"):
        raise AlertParseError("notify_type", f'expected "1" (alarm) or "2" (recovery), got {notify!r}')
    labels = str_map(payload.get("labels"), "labels")
    topic = str(payload.get("topic_id") or "")
    query_log = payload.get("query_log")
    annotations = {"condition": str(payload.get("condition", "")), "topic_id": topic}
    if query_log is not None:
        annotations["query_log"] = (
            query_log if isinstance(query_log, str) else json.dumps(query_log, ensure_ascii=False)
        )
    return [
        Alert(
            source="cls",
            status="firing" if notify == "1" else "resolved",
            name=alarm,
            severity=normalize_severity(payload.get("severity") or labels.get("severity")),
            **_identity(resolve_labels(labels)),
            version=_version(labels),
            summary=str(payload.get("detail") or payload.get("condition") or alarm),
            labels=labels | {"topic_id": topic},
            annotations=annotations,
            starts_at=parse_time(payload.get("start_time_unix"), "start_time_unix", received=received),
            fingerprint=stable_hash("cls", alarm_id, topic),
            raw=payload,
        )
    ]


# --------------------------------------------------------------------------- generic


def parse_generic(payload: dict[str, Any], received: datetime | None = None) -> list[Alert]:
    """Parse the generic JSON form (see README: name, status, severity, service, ...)."""
    name = required_str(payload, "name", "name")
    status = payload.get("status", "firing")
    if status not in ("firing", "resolved"):
        raise AlertParseError("status", f"expected firing or resolved, got {status!r}")
    labels = str_map(payload.get("labels"), "labels")
    annotations = str_map(payload.get("annotations"), "annotations")
    condition = None
    if payload.get("condition") is not None:
        try:
            condition = MetricCondition.model_validate(as_object(payload["condition"], "condition"))
        except ValueError as exc:
            raise AlertParseError("condition", str(exc).splitlines()[0]) from None
    starts = payload.get("starts_at")
    service = payload.get("service") or labels.get("service")
    if not isinstance(service, str | None):
        raise AlertParseError("service", "expected a string")
    fields = {
        k: payload.get(k)
        for k in ("service", "namespace", "cluster", "workload", "pod", "version", "group_key", "expression")
    }
    for key, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise AlertParseError(key, "expected a string")
    # explicit fields name the subject; labels fill in the rest
    named = {
        "service": service,
        "namespace": fields["namespace"],
        "pod": fields["pod"],
        "deployment": fields["workload"],
        "cluster": fields["cluster"],
    }
    identity = labels | {k: v for k, v in named.items() if v}
    return [
        Alert(
            source="generic",
            status=status,
            name=name,
            severity=normalize_severity(payload.get("severity") or labels.get("severity")),
            **_identity(resolve_labels(identity)),
            version=fields["version"] or _version(labels),
            summary=str(payload.get("summary") or annotations.get("summary", "")),
            labels=labels,
            annotations=annotations,
            starts_at=parse_time(starts, "starts_at", received=received) if starts else received or datetime.now(UTC),
            fingerprint=str(payload.get("fingerprint") or stable_hash("generic", name, service or "")),
            group_key=fields["group_key"],
            expression=fields["expression"],
            condition=condition,
            raw=payload,
        )
    ]


# --------------------------------------------------------------------------- dispatch

_PARSERS = {
    "alertmanager": parse_alertmanager,
    "tencent": parse_tencent,
    "cls": parse_cls,
    "generic": parse_generic,
}


def detect_source(payload: dict[str, Any]) -> str:
    """Guess which system produced ``payload`` from its top-level keys."""
    if "alerts" in payload and ("groupKey" in payload or "receiver" in payload or "version" in payload):
        return "alertmanager"
    if "alarmStatus" in payload or "alarmPolicyInfo" in payload:
        return "tencent"
    if "alarm_id" in payload or ("alarm" in payload and "topic_id" in payload):
        return "cls"
    if "name" in payload:
        return "generic"
    if "alerts" in payload:
        return "alertmanager"
    raise AlertParseError("source", "cannot tell the format (expected Alertmanager, Tencent, CLS or generic JSON)")


def decode_payload(body: bytes | str) -> dict[str, Any]:
    """Decode a JSON object body, enforcing the 1 MiB limit."""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise AlertParseError("body", f"payload is {len(raw)} bytes, over the 1 MiB limit")
    if not raw.strip():
        raise AlertParseError("body", "empty payload")
    try:
        data = json.loads(raw, parse_constant=not_a_number)
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: also an integer past Python's 4300 digits
        raise AlertParseError("body", f"not JSON ({str(exc)[:120]})") from None
    except RecursionError:
        raise AlertParseError("body", "nested too deep") from None
    return _safe(as_object(data, "body"))


def _safe(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as every store can keep it (state/normalize.py), or AlertParseError naming the field."""
    try:
        safe: dict[str, Any] = json_safe(payload)
    except Unsafe as exc:
        raise AlertParseError(exc.path, exc.problem) from None
    return safe


NAME_FIELDS = {"alertmanager": "labels.alertname", "tencent": "alarmPolicyInfo.conditions", "cls": "alarm",
               "generic": "name"}  # fmt: skip


def parse_alerts(
    body: bytes | str | dict[str, Any], source: str = "auto", *, received: datetime | None = None
) -> list[Alert]:
    """Parse a payload from ``source`` (or detect it) into normalized alerts.

    ``received`` is when the payload arrived (default: now); a zero time in it means that.
    """
    payload = _safe(body) if isinstance(body, dict) else decode_payload(body)
    if source == "auto":
        source = detect_source(payload)
    parser = _PARSERS.get(source)
    if parser is None:
        raise AlertParseError("source", f"unknown source {source!r} (one of auto, {', '.join(SOURCES)})")
    try:
        alerts = parser(payload, received or datetime.now(UTC))
    except ValidationError as exc:  # a field of the wrong type the parser passed on
        first = exc.errors()[0]
        raise AlertParseError(".".join(str(p) for p in first["loc"]) or "body", first["msg"]) from None
    for alert in alerts:
        if len(alert.name) > MAX_NAME:
            problem = f"alert name is {len(alert.name)} characters (at most {MAX_NAME})"
            raise AlertParseError(NAME_FIELDS[source], problem)
    return alerts
