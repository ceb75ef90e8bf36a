"""``alertpilot stats``: operations analytics over the store, and triage weights suggested from history.

Registered on the root app by cli.py; the store and the stats modules are imported inside
the command so the CLI starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli_common import ConfigOpt, JsonOpt, UsageError, emit_json, guarded, load, out

if TYPE_CHECKING:
    from datetime import datetime

    from state.policy import TriageWeights
    from state.store import Store


def open_stats_store(url: str) -> Store:
    """The store with every incident's facts present (a database from before them is filled in once)."""
    from state.facts import backfill
    from state.store import Store

    store = Store.from_url(url)
    with store.engine.begin() as conn:
        backfill(conn)
    return store


def stats(
    since: Annotated[
        str | None, typer.Option(help="Only incidents opened since: a date (2026-11-01), a time, or 7d / 12h / 30m.")
    ] = None,
    service: Annotated[str | None, typer.Option(help="Only incidents about this service.")] = None,
    suggest_weights: Annotated[
        bool, typer.Option("--suggest-weights", help="Suggest triage weights from history (nothing is changed).")
    ] = False,
    noise_min: Annotated[
        int, typer.Option(min=1, help="An alert that needed no action this many times or more is listed as noise.")
    ] = 3,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Incidents, MTTA/MTTR, the ladder per rung and pattern, escalations, approvals, budget, noisy alerts."""
    from datetime import UTC, datetime

    from state.stats import operations_stats, parse_since

    with guarded():
        settings = load(config)
        try:
            start = parse_since(since, datetime.now(UTC))
        except ValueError as exc:
            raise UsageError(f"--{exc}") from None
        store = open_stats_store(settings.db_url)
        try:
            if suggest_weights:
                _weights(store, settings.triage.weights, start, service, as_json)
                return
            result = operations_stats(store, since=start, service=service, noise_min=noise_min)
        finally:
            store.engine.dispose()
    if as_json:
        emit_json(result.model_dump(mode="json"))
        return
    from server.stats_text import tables

    for table in tables(result):
        out.print(table)


def _weights(store: Store, current: TriageWeights, since: datetime | None, service: str | None, as_json: bool) -> None:
    """Print what history says about the triage weights (and the YAML to apply it, for a person)."""
    from agents.tuning import suggest
    from server.stats_text import weights_table, weights_yaml
    from state.stats import triage_rows

    suggestion = suggest(triage_rows(store, since=since, service=service), current)
    if as_json:
        emit_json(suggestion.document())
        return
    out.print(weights_table(suggestion))
    snippet = weights_yaml(suggestion)
    if snippet:
        out.print("To apply it, put this in alertpilot.yaml (nothing was changed):", markup=False)
        out.print(snippet, markup=False)
