"""Export an incident to one file and import it into another ``ALERTPILOT_HOME``.

The file is JSON: the alert, the public document (report, attempts, decisions), the
recorded tool calls, the audit trail, and every checkpoint of the thread with its
pending writes. Checkpoints are kept in the saver's own typed serialization (base64),
so an imported thread is the same thread: listable, showable and replayable, without
the world or the tools that produced it.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointMetadata
from pydantic import BaseModel, Field, ValidationError

from state.incident import IncidentState
from state.store import Store

FORMAT = "alertpilot-incident/1"


class ArchiveError(ValueError):
    """The file is not an incident export, or the incident already exists; names the field."""


class _Blob(BaseModel):
    type: str
    data: str


class _Write(BaseModel):
    task: str
    channel: str
    value: _Blob


class _Checkpoint(BaseModel):
    id: str
    ns: str = ""
    parent: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    checkpoint: _Blob
    writes: list[_Write] = Field(default_factory=list)


class _AuditRecord(BaseModel):
    at: datetime
    actor: str = Field(max_length=128)
    kind: str = Field(max_length=64)
    detail: Any = None


class _Export(BaseModel):
    """What an import needs, checked whole before anything is written (a tampered file writes nothing)."""

    incident: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:~-]*$")
    dedup_key: str = Field(min_length=1, max_length=512)
    created_at: datetime
    document: dict[str, Any]
    audit: list[_AuditRecord]
    checkpoints: list[_Checkpoint] = Field(min_length=1)


def _typed(saver: BaseCheckpointSaver[str], value: Any) -> dict[str, str]:
    kind, data = saver.serde.dumps_typed(value)
    return {"type": kind, "data": base64.b64encode(data).decode("ascii")}


def _untyped(saver: BaseCheckpointSaver[str], blob: dict[str, str]) -> Any:
    return saver.serde.loads_typed((blob["type"], base64.b64decode(blob["data"])))


def export_incident(store: Store, saver: BaseCheckpointSaver[str], incident_id: str) -> dict[str, Any]:
    """One JSON-ready document holding everything needed to list and replay ``incident_id``."""
    meta = store.incident_row(incident_id)
    if meta is None:
        raise KeyError(incident_id)
    config = RunnableConfig(configurable={"thread_id": incident_id})
    tuples = list(reversed(list(saver.list(config))))
    if not tuples:
        raise KeyError(incident_id)
    checkpoints = []
    for item in tuples:
        parent = (item.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        checkpoints.append(
            {
                "id": item.config["configurable"]["checkpoint_id"],
                "ns": item.config["configurable"].get("checkpoint_ns", ""),
                "parent": parent,
                "metadata": item.metadata,
                "checkpoint": _typed(saver, item.checkpoint),
                "writes": [
                    {"task": task, "channel": channel, "value": _typed(saver, value)}
                    for task, channel, value in item.pending_writes or []
                ],
            }
        )
    values = tuples[-1].checkpoint["channel_values"]
    state = IncidentState.model_validate({k: v for k, v in values.items() if k in IncidentState.model_fields})
    return {
        "format": FORMAT,
        "exported_at": datetime.now(UTC).isoformat(),
        "incident": incident_id,
        "dedup_key": meta["dedup_key"],
        "created_at": meta["created_at"],
        "alert": state.alert.model_dump(mode="json"),
        "document": meta["doc"],
        "report": state.report.public() if state.report else None,
        "tool_calls": [c.model_dump(mode="json") for c in state.tool_calls],
        "audit": store.audit_trail(incident_id),
        "checkpoints": checkpoints,
    }


def write_export(document: dict[str, Any], path: Path) -> None:
    """Write the export file (UTF-8 JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


def read_export(path: Path) -> dict[str, Any]:
    """Read and check an export file."""
    if not path.is_file():
        raise ArchiveError(f"FILE: no such file {path}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"FILE: not JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ArchiveError(f"format: expected {FORMAT!r}, this is not an alertpilot incident export")
    for key in ("incident", "dedup_key", "created_at", "document", "audit", "checkpoints"):
        if key not in document:
            raise ArchiveError(f"{key}: missing from the export")
    _checked(document)
    return document


def _checked(document: dict[str, Any]) -> _Export:
    try:
        return _Export.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "export"
        raise ArchiveError(f"{where}: {first['msg']}") from None


def import_incident(store: Store, saver: BaseCheckpointSaver[str], document: dict[str, Any]) -> str:
    """Recreate the incident row, its audit trail and its thread; returns the incident id.

    The whole file is checked and every checkpoint decoded before anything is written; a
    failure while writing removes the thread again, so a bad file leaves nothing that would
    block a later import of a good one.
    """
    export = _checked(document)
    incident_id = export.incident
    if store.incident_row(incident_id) is not None:
        raise ArchiveError(f"incident: {incident_id} already exists in this home")
    if saver.get_tuple({"configurable": {"thread_id": incident_id}}) is not None:
        raise ArchiveError(f"incident: thread {incident_id} already exists in this home")
    decoded = _decoded(saver, export.checkpoints)
    audit = [r.model_dump(mode="json") for r in export.audit]
    try:
        _put_checkpoints(saver, incident_id, decoded)
        store.restore_incident(incident_id, export.dedup_key, export.created_at, export.document, audit)
    except Exception as exc:  # noqa: BLE001 - whatever broke, the half-written thread must not stay behind
        saver.delete_thread(incident_id)
        raise ArchiveError(f"incident: could not be imported ({type(exc).__name__}: {str(exc)[:160]})") from None
    return incident_id


def _decoded(saver: BaseCheckpointSaver[str], entries: list[_Checkpoint]) -> list[tuple[_Checkpoint, Any, list[Any]]]:
    """Each checkpoint and its writes decoded (ArchiveError naming the first one that is not)."""
    out = []
    for index, entry in enumerate(entries):
        try:
            checkpoint = _untyped(saver, entry.checkpoint.model_dump())
            if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("channel_versions"), dict):
                raise ValueError("not a checkpoint")
            writes = [(w.task, w.channel, _untyped(saver, w.value.model_dump())) for w in entry.writes]
        except Exception as exc:  # noqa: BLE001 - tampered bytes make the decoder raise anything
            raise ArchiveError(f"checkpoints[{index}]: unreadable ({type(exc).__name__})") from None
        out.append((entry, checkpoint, writes))
    return out


def _put_checkpoints(
    saver: BaseCheckpointSaver[str], incident_id: str, decoded: list[tuple[_Checkpoint, Any, list[Any]]]
) -> None:
    for entry, checkpoint, writes in decoded:
        configurable: dict[str, Any] = {"thread_id": incident_id, "checkpoint_ns": entry.ns}
        if entry.parent:
            configurable["checkpoint_id"] = entry.parent
        metadata = cast(CheckpointMetadata, entry.metadata)
        saved = saver.put({"configurable": configurable}, checkpoint, metadata, dict(checkpoint["channel_versions"]))
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task, channel, value in writes:
            by_task.setdefault(task, []).append((channel, value))
        for task, pending in by_task.items():
            saver.put_writes(saved, pending, task)
