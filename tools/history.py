"""The agents' read interface to past incidents (recall at diagnosis, the informed ladder).

Agents get a :class:`HistoryReader` through ``Deps.history``: the store's facts in a live run
(:class:`StoreHistory`), the recall the original run made in a replay (:class:`RecordedHistory`),
nothing in a run without a store. History is read-only here and never raises: a database
error becomes an empty recall carrying the reason, and diagnosis goes on without it.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from state import history
from state.history import HistoryQuery, Recall
from state.store import Store


class HistoryReader(Protocol):
    """Where the agents read the history of a subject."""

    def recall(self, query: HistoryQuery) -> Recall:
        """The subject's closest past incidents and its rungs' verified outcomes."""
        ...


class StoreHistory:
    """History from the incident store's facts (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._filled = False

    def recall(self, query: HistoryQuery) -> Recall:
        """Read the store; a database older than the facts tables is filled in on first use."""
        from state.facts import backfill

        try:
            if not self._filled:
                with self.store.engine.begin() as conn:
                    backfill(conn)
                self._filled = True
            return history.recall(self.store, query)
        except SQLAlchemyError as exc:
            return history.empty(query, f"history unavailable: {str(exc).splitlines()[0][:200]}")


class RecordedHistory:
    """The recall a recorded run made, answered again whatever is asked (replay re-plans from it)."""

    def __init__(self, recalled: Recall | None) -> None:
        self.recalled = recalled

    def recall(self, query: HistoryQuery) -> Recall:
        """The recorded recall (an empty one when the run had none)."""
        return self.recalled if self.recalled is not None else history.empty(query)
