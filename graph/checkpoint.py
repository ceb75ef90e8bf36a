"""Checkpoint saver factory: SQLite in ``$ALERTPILOT_HOME`` or PostgreSQL from ``database.url``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import BaseModel

from state import alert, history, incident, report
from state.config import Settings


def _state_types() -> list[type]:
    """Every pydantic model of ours that can sit in a checkpoint (the msgpack allowlist)."""
    types: list[type] = []
    for module in (alert, history, incident, report):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__:
                types.append(value)
    return types


def serializer() -> JsonPlusSerializer:
    """A serializer that revives only our own state types (no arbitrary classes)."""
    return JsonPlusSerializer(allowed_msgpack_modules=_state_types())


def sqlite_path(settings: Settings) -> Path:
    """The SQLite file that holds checkpoints (and the store) by default."""
    return settings.home / "alertpilot.db"


@contextmanager
def open_checkpointer(settings: Settings) -> Iterator[BaseCheckpointSaver[str]]:
    """Open the configured saver for the duration of a command or a service's life."""
    url = settings.database.url
    if url and url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        with _postgres_saver(url.replace("postgresql+psycopg://", "postgresql://")) as saver:
            yield saver
        return
    if url and not url.startswith("sqlite"):
        raise ValueError(f"database.url: unsupported scheme in {url!r} (sqlite or postgresql)")
    path = Path(url.removeprefix("sqlite:///")) if url else sqlite_path(settings)
    with _sqlite_saver(path) as saver:
        yield saver


@contextmanager
def _postgres_saver(dsn: str) -> Iterator[BaseCheckpointSaver[str]]:
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import Connection
    from psycopg.rows import DictRow, dict_row

    # autocommit=True: without it PostgresSaver never commits anything.
    conn: Connection[DictRow]
    with Connection.connect(dsn, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
        saver = PostgresSaver(conn, serde=serializer())
        saver.setup()
        yield saver


@contextmanager
def _sqlite_saver(path: Path) -> Iterator[BaseCheckpointSaver[str]]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        saver = SqliteSaver(conn, serde=serializer())
        saver.setup()
        yield saver
    finally:
        conn.close()
