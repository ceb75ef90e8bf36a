"""The checkpoint commands: ``replay`` (timeline, re-run, fork) and ``incidents export/import``.

Registered on the root app by cli.py; the graph modules they drive (graph/replay.py,
graph/archive.py, graph/runner.py) are imported inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli_common import ConfigOpt, JsonOpt, UsageError, emit_json, err, fail, guarded, load, narrator, out


def _print_timeline(incident_id: str, entries: list[Any]) -> None:
    out.print(f"[bold]{incident_id}[/]  {len(entries)} checkpoints")
    for entry in entries:
        head = f"{entry.step:>3}  {entry.node:<9} {entry.time[:23]}  {entry.id}"
        out.print(head, markup=False)
        for key, value in entry.changes.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            out.print(f"       {key}: {text}", markup=False)


def _print_replay(result: Any) -> None:
    kind = "fork" if result.edits or result.live else "replay"
    out.print(f"[bold]{kind}[/] of {result.incident} from {result.from_checkpoint} → thread {result.thread}")
    if result.edits:
        out.print("set: " + ", ".join(result.edits), markup=False)
    out.print(f"outcome: {result.outcome['status']} after {len(result.outcome['attempts'])} attempt(s)", markup=False)
    if result.diverged_at is None:
        out.print("same outcome as the original (report, attempts, final status)")
        return
    where = result.diverged_at
    out.print(
        f"first divergence: step {where['step']} ({where['node']}) {where['field']}: "
        f"{where['original']!r} → {where['replay']!r}",
        markup=False,
    )
    for line in result.diff:
        out.print(line, markup=False)


def replay(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    checkpoint: Annotated[
        str | None, typer.Option("--checkpoint", help="Re-run from this checkpoint (id, id prefix, step, first).")
    ] = None,
    fork: Annotated[bool, typer.Option("--fork", help="Re-run with --set edits and diff the outcomes.")] = False,
    sets: Annotated[
        list[str] | None, typer.Option("--set", help="key=value: policy.*/settings.* edit settings, others state.")
    ] = None,
    live: Annotated[bool, typer.Option("--live", help="Fork against the real tools instead of the recording.")] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show an incident's checkpoint timeline, or re-run / fork it from a checkpoint."""
    if (sets or live) and not fork:
        raise fail("--set/--live: only with --fork")
    if fork and checkpoint is None:
        raise fail("--fork: needs --checkpoint C")
    from graph.archive import ArchiveError
    from graph.replay import ReplayError, timeline
    from graph.replay import replay as rerun
    from graph.runner import open_reader

    with guarded():
        settings = load(config)
        with open_reader(settings) as runner:
            live_tools = None
            if live:
                from tools.catalog import build_registry, open_world

                try:
                    live_tools = build_registry(settings, open_world(settings), runner.store)
                except (ValueError, FileNotFoundError) as exc:
                    raise UsageError(str(exc)) from None
            try:
                if checkpoint is None:
                    entries = timeline(runner, incident_id)
                else:
                    result = rerun(
                        runner,
                        incident_id,
                        checkpoint,
                        base=settings,
                        sets=sets or [],
                        live_tools=live_tools,
                        on_event=narrator(not as_json),
                    )
            except (ReplayError, ArchiveError) as exc:
                raise UsageError(str(exc)) from None
    if checkpoint is None:
        if as_json:
            emit_json({"incident": incident_id, "checkpoints": [e.public() for e in entries]})
        else:
            _print_timeline(incident_id, entries)
        return
    emit_json(result.public()) if as_json else _print_replay(result)
    raise typer.Exit(1 if result.diverged_at is not None and not fork else 0)


def incidents_export(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
    config: ConfigOpt = None,
) -> None:
    """Write one incident (alert, checkpoints, tool calls, report, audit trail) to a file."""
    from graph.archive import export_incident, write_export
    from graph.runner import open_reader

    with guarded():
        settings = load(config)
        with open_reader(settings) as runner:
            saver = runner.graph.checkpointer
            document = export_incident(runner.store, saver, incident_id)  # type: ignore[arg-type]
        write_export(document, output)
    err.print(f"exported {incident_id}: {len(document['checkpoints'])} checkpoints → {output}", markup=False)


def incidents_import(
    file: Annotated[Path, typer.Argument(help="A file written by `alertpilot incidents export`.")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import an exported incident into this home: listable, showable and replayable."""
    from graph.archive import ArchiveError, import_incident, read_export
    from graph.runner import open_reader

    with guarded():
        settings = load(config)
        try:
            document = read_export(file)
            with open_reader(settings) as runner:
                saver = runner.graph.checkpointer
                incident_id = import_incident(runner.store, saver, document)  # type: ignore[arg-type]
        except ArchiveError as exc:
            raise UsageError(str(exc)) from None
    if as_json:
        emit_json({"incident": incident_id, "checkpoints": len(document["checkpoints"])})
    else:
        out.print(f"imported {incident_id} ({len(document['checkpoints'])} checkpoints)", markup=False)
