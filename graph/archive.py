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
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from state.incident import IncidentState
from state.store import Store

FORMAT = "alertpilot-incident/1"


class ArchiveError(ValueError):
    """The file is not an incident export, or the incident already exists; names the field."""


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
    return document


def import_incident(store: Store, saver: BaseCheckpointSaver[str], document: dict[str, Any]) -> str:
    """Recreate the incident row, its audit trail and its thread; returns the incident id."""
    incident_id = str(document["incident"])
    if store.incident_row(incident_id) is not None:
        raise ArchiveError(f"incident: {incident_id} already exists in this home")
    if saver.get_tuple({"configurable": {"thread_id": incident_id}}) is not None:
        raise ArchiveError(f"incident: thread {incident_id} already exists in this home")
    try:
        _put_checkpoints(saver, incident_id, document["checkpoints"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchiveError(f"checkpoints: unreadable ({exc})") from None
    created = datetime.fromisoformat(document["created_at"])
    store.restore_incident(incident_id, document["dedup_key"], created, document["document"], document["audit"])
    return incident_id


def _put_checkpoints(saver: BaseCheckpointSaver[str], incident_id: str, checkpoints: list[dict[str, Any]]) -> None:
    for entry in checkpoints:
        checkpoint = _untyped(saver, entry["checkpoint"])
        configurable: dict[str, Any] = {"thread_id": incident_id, "checkpoint_ns": entry.get("ns", "")}
        if entry.get("parent"):
            configurable["checkpoint_id"] = entry["parent"]
        saved = saver.put(
            {"configurable": configurable},
            checkpoint,
            entry["metadata"],
            dict(checkpoint["channel_versions"]),
        )
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for write in entry.get("writes", []):
            by_task.setdefault(write["task"], []).append((write["channel"], _untyped(saver, write["value"])))
        for task, writes in by_task.items():
            saver.put_writes(saved, writes, task)
