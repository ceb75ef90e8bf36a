"""Durable idempotency keys for the executor service (SQLite, shared by its processes).

A key is claimed *before* the backend runs and completed with the answer after, so a
repeated key returns the first answer and the backend acts once, across restarts. A
key reused for a different request is refused; a key whose first request never
finished (the service died mid-action) stays ``running`` and is refused too, because
nobody knows whether the action happened: a person clears it (``DELETE FROM
idempotency WHERE key = ...``) after looking at the target.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: act now, replay a stored answer, or refuse."""

    outcome: Literal["new", "replay", "conflict", "running"]
    response: dict[str, Any] | None = None


def fingerprint(method: str, params: dict[str, Any]) -> str:
    """A stable digest of one request."""
    text = json.dumps({"method": method, "params": params}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class IdempotencyStore:
    """Keys, the request each was first used for, and its answer."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, request TEXT NOT NULL, "
            "state TEXT NOT NULL, response TEXT, created_at TEXT NOT NULL)"
        )
        self._lock = threading.Lock()

    def claim(self, key: str, request: str) -> Claim:
        """Claim ``key`` for ``request`` (a fingerprint), or say why not."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute(
                    "SELECT request, state, response FROM idempotency WHERE key = ?", (key,)
                ).fetchone()
                if row is None:
                    self._conn.execute(
                        "INSERT INTO idempotency (key, request, state, created_at) VALUES (?, ?, 'running', ?)",
                        (key, request, datetime.now(UTC).isoformat()),
                    )
                    return Claim("new")
            finally:
                self._conn.execute("COMMIT")
        stored, state, response = row
        if stored != request:
            return Claim("conflict")
        if state != "done":
            return Claim("running")
        return Claim("replay", json.loads(response))

    def complete(self, key: str, response: dict[str, Any]) -> None:
        """Store the answer to the request that claimed ``key``."""
        with self._lock:
            self._conn.execute(
                "UPDATE idempotency SET state = 'done', response = ? WHERE key = ?", (json.dumps(response), key)
            )

    def close(self) -> None:
        """Close the database."""
        self._conn.close()
