r"""One log record from any shape: kind, level, error, message, time and who wrote it.

:func:`read_json` takes a decoded JSON object, :func:`read_text` a plain-text record
(lines already joined by :mod:`tools.logs.lines`). Wrappers are unwrapped first:

- values that are escaped JSON objects (CLS→COS ``"content": "{\\"level\\": ...}"``,
  Docker/fluent-bit ``"log": "{...}\\n"``) are merged into the record;
- ``log`` / ``content`` / ``MESSAGE`` text values (Docker json-file, fluent-bit, CLS, journald)
  are read as the text line they hold;
- Cloud Logging entries (``jsonPayload``; ``protoPayload`` AuditLog of ``io.k8s.*`` methods)
  and Kubernetes watch events (``{"type": "ADDED", "object": {...}}``).

Kinds, by content, never by file name: ``audit`` (an audit.k8s.io event, or an
``EventList`` item that lost its ``apiVersion``: ``auditID`` + ``stage`` + ``verb``),
``event`` (``kind: Event`` with ``involvedObject``/``regarding``), ``business`` (an application
record with a level: a level key, or a text header that gives one), ``standard`` (everything
else). Errors: business records at error level or
worse; records with no level whose text says so (:func:`tools.logs.levels.content_error`).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from tools.logs.identity import NOBODY, Identity, from_fields, subject_of
from tools.logs.layouts import text_level, text_message
from tools.logs.levels import LEVEL_KEYS, content_error, is_error, level_of

try:  # orjson parses several times faster; json is the fallback
    import orjson

    loads: Any = orjson.loads
except ImportError:  # pragma: no cover - exercised only without orjson
    loads = json.loads

Kind = Literal["business", "event", "audit", "standard"]
KINDS: tuple[Kind, ...] = ("business", "event", "audit", "standard")
MESSAGE_KEYS = (
    "message", "msg", "Message", "MESSAGE", "@m", "@mt", "error", "err", "body", "textPayload", "content", "log",
)  # fmt: skip
TEXT_KEYS = ("log", "content", "MESSAGE", "textPayload", "body", "__CONTENT__")  # values holding a whole text line
# (``__CONTENT__``: CLS full-text collection, single- or multi-line)
TIME_KEYS = (
    "time",
    "timestamp",
    "Timestamp",
    "ts",
    "@timestamp",
    "@t",
    "__TIMESTAMP__",
    "__time_ms__",
    "timeUnixNano",
    "requestReceivedTimestamp",
    "stageTimestamp",
    "lastTimestamp",
    "eventTime",
    "firstTimestamp",
    "date",
    "_SOURCE_REALTIME_TIMESTAMP",
    "__REALTIME_TIMESTAMP",
)
_LEADING_STAMP = re.compile(r"\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?")
_SPECIAL_KEYS = frozenset({"apiVersion", "auditID", "kind"})
_WRAPPER_KEYS = frozenset({"jsonPayload", "protoPayload", "object"})
_LEVEL_KEYS = frozenset(LEVEL_KEYS)
_TEXT_KEYS = frozenset(TEXT_KEYS)
_MESSAGE_KEYS = frozenset(MESSAGE_KEYS)
_FRACTION = re.compile(r"(\.\d{6})\d+")
_K8S_METHOD = re.compile(r"^io\.k8s\.(?:[\w-]+\.)*?(?P<resource>[\w-]+)\.(?P<verb>[a-z]+)$")


class NotJson(Exception):
    """A line that looks like JSON (starts with ``{``) but does not parse."""


_UNSET: Any = object()


class Record:
    """One classified record.

    ``when`` and ``who`` of a JSON record are read only when asked for (most records are only counted).
    """

    __slots__ = ("kind", "level", "error", "message", "fields", "text", "_when", "_who", "_source")

    def __init__(
        self,
        kind: Kind,
        level: str | None,
        error: bool,
        message: str,
        fields: dict[str, Any] | None = None,
        text: str | None = None,
        *,
        when: float | None = _UNSET,
        who: Identity | None = None,
        source: Identity = NOBODY,
    ) -> None:
        """``fields``: the decoded object; ``text``: the whole text record when it is more than ``message``."""
        self.kind, self.level, self.error, self.message = kind, level, error, message
        self.fields, self.text = fields, text
        self._when, self._who, self._source = when, who, source

    @property
    def when(self) -> float | None:
        """When it happened (Unix seconds), if the record says."""
        if self._when is _UNSET:
            self._when = record_time(self.fields) if self.fields is not None else None
        return self._when

    @when.setter
    def when(self, value: float | None) -> None:
        self._when = value

    @property
    def who(self) -> Identity:
        """Who wrote it (for events and audit: whom it is about), else the source's identity."""
        if self._who is None:
            if self.fields is None:
                self._who = self._source
            elif self.kind in ("event", "audit"):
                self._who = subject_of(self.fields, self.kind)
            else:
                self._who = from_fields(self.fields).or_else(self._source)
        return self._who


def decode(line: bytes) -> dict[str, Any] | None:
    """The JSON object on ``line``; None for a line that does not start with ``{``.

    Raises :class:`NotJson` when the line starts like a JSON object but is not one.
    """
    stripped = line if line[:1] == b"{" else line.strip()
    if not stripped.startswith(b"{"):
        return None
    try:
        record = loads(stripped)
    except ValueError:
        raise NotJson(line[:200].decode("utf-8", "replace")) from None
    if not isinstance(record, dict):
        raise NotJson(line[:200].decode("utf-8", "replace"))
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


def first_text(record: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first non-empty string among ``keys``."""
    for key in keys:
        value = record.get(key)
        if value.__class__ is str and value:
            return value  # type: ignore[no-any-return]
    return None


def _audit_from_proto(entry: dict[str, Any], proto: dict[str, Any]) -> dict[str, Any] | None:
    """A Cloud Logging AuditLog entry of a Kubernetes call, as the audit.k8s.io fields the trace reads."""
    match = _K8S_METHOD.match(str(proto.get("methodName") or ""))
    if not match:
        return None
    parts = str(proto.get("resourceName") or "").split("/")
    namespace = parts[parts.index("namespaces") + 1] if "namespaces" in parts[:-1] else None
    auth = proto.get("authenticationInfo") or {}
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Event",
        "stage": "ResponseComplete",
        "verb": match["verb"],
        "user": {"username": auth.get("principalEmail") or "unknown"},
        "objectRef": {"resource": match["resource"], "namespace": namespace, "name": parts[-1] if parts else ""},
        "requestReceivedTimestamp": entry.get("timestamp"),
        "requestObject": proto.get("request"),
        "responseStatus": {"code": (proto.get("status") or {}).get("code", 0) or 200},
    }


def unwrap(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its shipper's wrapping removed (see the module docstring); may be the same dict."""
    if _WRAPPER_KEYS.isdisjoint(record):
        return _merged(record)
    payload = record.get("jsonPayload")
    if isinstance(payload, dict):
        record = {**{k: v for k, v in record.items() if k != "jsonPayload"}, **payload}
    proto = record.get("protoPayload")
    if isinstance(proto, dict):
        audit = _audit_from_proto(record, proto)
        if audit is not None:
            return audit
    inner = record.get("object")
    if isinstance(inner, dict) and record.get("type") in ("ADDED", "MODIFIED", "DELETED") and "kind" in inner:
        return inner
    return _merged(record)


def _merged(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with its first value that is an escaped JSON object merged in (its own keys win)."""
    for key, value in record.items():
        if value.__class__ is str and value[:1] == "{" and value.rstrip()[-1:] == "}":
            try:
                decoded = loads(value)
            except ValueError:
                continue
            if isinstance(decoded, dict):
                merged = {**decoded, **record}  # the wrapper's own keys win
                del merged[key]
                return merged
    return record


def _special(record: dict[str, Any]) -> Kind | None:
    api = record.get("apiVersion")
    if isinstance(api, str) and api.startswith("audit.k8s.io/"):
        return "audit"
    if api is None and "auditID" in record and "stage" in record and "verb" in record:
        return "audit"  # an EventList item: the list carried apiVersion, the items do not
    if record.get("kind") == "Event" and ("involvedObject" in record or "regarding" in record):
        return "event"
    return None


def kind_of(record: dict[str, Any]) -> Kind:
    """The kind of a decoded record."""
    return read_json(record).kind


_NOT_PLAIN = frozenset({*_SPECIAL_KEYS, *_WRAPPER_KEYS, *LEVEL_KEYS, *MESSAGE_KEYS, *TEXT_KEYS, "items"} - {"content"})


def plain_standard(record: dict[str, Any]) -> bool:
    """Whether :func:`read_object` would read ``record`` as one standard record that is no error.

    The common level-less shape (an access line, a CLS ``content`` text) decided without
    building a record; False means "read it fully", never "it is not standard".
    """
    if not _NOT_PLAIN.isdisjoint(record):
        return False
    for value in record.values():
        if value.__class__ is str and value[:1] == "{":
            return False  # an escaped JSON object: unwrapping may find a level
    text = record.get("content")
    if text is None:
        return True
    if text.__class__ is not str or not text:
        return False
    return text_level(text) is None and not content_error(text)


# where structured loggers put the stack (logstash-logback-encoder, zap, python-json-logger, pino, ECS, Serilog)
STACK_KEYS = ("stack_trace", "stacktrace", "stackTrace", "stack", "exc_info", "exception", "traceback")
_NESTED_STACK = ("error", "err", "exception", "exc")


def stack_text(record: dict[str, Any]) -> str | None:
    """The stack trace a structured error record carries beside its message (flat or under ``error``), if any.

    The deepest ``Caused by:`` of a Java stack is what names the peer a call failed on.
    """
    found = first_text(record, STACK_KEYS) or first_text(record, ("error.stack_trace", "error.stack"))
    if found:
        return found
    for key in _NESTED_STACK:
        nested = record.get(key)
        if isinstance(nested, dict):
            inner = first_text(nested, STACK_KEYS)
            if inner:
                return inner
    return None


def _rest(record: dict[str, Any]) -> str:
    """A record without a message key, as text for its signature (structlog's ``event``, else its fields)."""
    event = record.get("event")
    if isinstance(event, str) and event:
        return event
    return " ".join(f"{k}={v}" for k, v in record.items() if k not in _LEVEL_KEYS and k not in TIME_KEYS)[:500]


def read_json(raw: dict[str, Any], source: Identity = NOBODY) -> Record:
    """Classify one decoded JSON object."""
    record = unwrap(raw)
    if not _SPECIAL_KEYS.isdisjoint(record):
        kind = _special(record)
        if kind is not None:
            return Record(kind, None, False, "", record)
    if _LEVEL_KEYS.isdisjoint(record) and not isinstance(record.get("log"), dict):
        level, has_level = None, False
    else:
        level, has_level = level_of(record)
    if has_level:
        message = first_text(record, MESSAGE_KEYS) if not _MESSAGE_KEYS.isdisjoint(record) else None
        error = is_error(level)
        if message is None:
            message = _rest(record) if error else ""
        stack = stack_text(record) if error else None
        whole = f"{message}\n{stack}" if stack and stack not in message else None
        return Record("business", level, error, message, record, whole, source=source)
    text = first_text(record, TEXT_KEYS) if not _TEXT_KEYS.isdisjoint(record) else None
    if text is not None:
        level = text_level(text)
        error = is_error(level) if level is not None else content_error(text)
        text = text.rstrip("\n")
        message = text_message(text) if error else text
        whole = text if len(text) > len(message) else None
        return Record("business" if level else "standard", level, error, message, record, whole, source=source)
    message = (first_text(record, MESSAGE_KEYS) if not _MESSAGE_KEYS.isdisjoint(record) else None) or ""
    return Record("standard", None, content_error(message), message, record, source=source)


def read_object(raw: dict[str, Any], source: Identity = NOBODY) -> list[Record]:
    """The records of one decoded JSON object.

    A list object (an audit webhook's ``EventList``, ``kubectl get events -o json``) gives one
    per item, its ``apiVersion`` passed on to items that lack it.
    """
    items = raw.get("items")
    if isinstance(items, list) and str(raw.get("kind") or "").endswith("List"):
        api = raw.get("apiVersion")
        return [
            read_json({"apiVersion": api, **item} if api and "apiVersion" not in item else item, source)
            for item in items
            if isinstance(item, dict)
        ]
    return [read_json(raw, source)]


def text_time(text: str) -> float | None:
    """The time a text record starts with (ISO 8601 / ``YYYY-MM-DD HH:MM:SS,mmm``), if it does."""
    stamp = _LEADING_STAMP.match(text)
    return to_epoch(stamp[0].replace(",", ".").replace("/", "-")) if stamp else None


def read_text(text: str, when: float | None = None, source: Identity = NOBODY) -> Record:
    """Classify one plain-text record (a line, or a line and its stack trace)."""
    level = text_level(text)
    message = text_message(text)
    if when is None and text[:1].isdigit():
        when = text_time(text)
    whole = text if len(text) > len(message) else None
    if level is None:
        return Record("standard", None, content_error(text), message, None, whole, when=when, who=source)
    return Record("business", level, is_error(level), message, None, whole, when=when, who=source)
