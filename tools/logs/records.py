"""One log line → a record: JSON decoding (escaped JSON values too), time, pod and workload.

Shippers wrap application logs: CLS→COS archives carry one JSON object a line whose
values may themselves be escaped JSON strings (``"content"`` holding an escaped ``{"level": ...}``), and
container runtimes wrap stdout as ``{"log": "..."}``. :func:`decode` unwraps one such
level so classification sees the application's own fields.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

try:  # orjson (a langsmith dependency) parses several times faster; json is the fallback
    import orjson

    _loads: Any = orjson.loads
except ImportError:  # pragma: no cover - exercised only without orjson
    _loads = json.loads

TIME_KEYS = (
    "time",
    "timestamp",
    "ts",
    "@timestamp",
    "__TIMESTAMP__",
    "__time_ms__",
    "requestReceivedTimestamp",
    "stageTimestamp",
    "lastTimestamp",
    "eventTime",
    "firstTimestamp",
)
POD_KEYS = ("pod", "pod_name", "podName", "__TAG__.pod_name", "k8s.pod.name", "kubernetes.pod_name")
NAMESPACE_KEYS = ("namespace", "namespace_name", "__TAG__.namespace", "k8s.namespace.name", "kubernetes.namespace_name")
WORKLOAD_KEYS = ("workload", "workload_name", "service", "app", "__TAG__.workload_name")
_POD_SUFFIX = re.compile(r"^(?P<workload>.+?)(?:-[a-z0-9]{6,10})?-[a-z0-9]{5}$")
_ORDINAL = re.compile(r"^(?P<workload>.+)-\d+$")
_FRACTION = re.compile(r"(\.\d{6})\d+")


class NotJson(Exception):
    """A line that looks like JSON (starts with ``{``) but does not parse."""


def decode(line: bytes) -> dict[str, Any] | None:
    """The JSON object on ``line``, with escaped-JSON values merged in; None for plain text.

    Raises :class:`NotJson` when the line starts like a JSON object but is not one.
    """
    stripped = line.lstrip()
    if not stripped.startswith(b"{"):
        return None
    try:
        record = _loads(stripped)
    except ValueError:
        raise NotJson(line[:200].decode("utf-8", "replace")) from None
    if not isinstance(record, dict):
        raise NotJson(line[:200].decode("utf-8", "replace"))
    for key, value in list(record.items()):
        if isinstance(value, str) and value[:1] == "{" and value[-1:] == "}":
            try:
                inner = _loads(value)
            except ValueError:
                continue
            if isinstance(inner, dict):
                del record[key]
                for inner_key, inner_value in inner.items():
                    record.setdefault(inner_key, inner_value)
        elif isinstance(value, dict) and key in ("kubernetes", "__TAG__"):
            for inner_key, inner_value in value.items():
                record.setdefault(f"{key}.{inner_key}", inner_value)
    return record


def to_epoch(value: Any) -> float | None:
    """Unix seconds from epoch s/ms/µs/ns numbers or ISO 8601 text; None when unparseable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("Z", "+00:00")))
            except ValueError:
                return None
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    else:
        return None
    while number > 1e11:  # ms, µs, ns → s
        number /= 1000.0
    return number if number > 0 else None


def record_time(record: dict[str, Any]) -> float | None:
    """When the record happened (Unix seconds), from the usual time fields."""
    for key in TIME_KEYS:
        value = record.get(key)
        if value is not None:
            when = to_epoch(value)
            if when is not None:
                return when
    meta = record.get("metadata")
    if isinstance(meta, dict):
        return to_epoch(meta.get("creationTimestamp"))
    return None


def iso(epoch: float | None) -> str | None:
    """ISO 8601 UTC text of Unix seconds."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def workload_of(pod: str) -> str:
    """The workload behind a pod name (``checkout-7d9f8b6c5-x2x4q`` → ``checkout``, ``db-0`` → ``db``)."""
    match = _POD_SUFFIX.match(pod) or _ORDINAL.match(pod)
    return match["workload"] if match else pod


def first_text(record: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first non-empty string among ``keys``."""
    for key in keys:
        value = record.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def where(record: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """``(namespace, pod, workload)`` a business record came from, as far as it says."""
    pod = first_text(record, POD_KEYS)
    workload = first_text(record, WORKLOAD_KEYS) or (workload_of(pod) if pod else None)
    return first_text(record, NAMESPACE_KEYS), pod, workload
