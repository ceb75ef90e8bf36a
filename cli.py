"""alertpilot's command line: parse, call graph/ server/ evals/, print.

Exit codes: 0 ok, 1 the work failed, 2 bad usage or bad input (one line naming the
field). ``--json`` prints exactly one JSON document on stdout. Heavy modules are
imported inside the commands that need them so the CLI starts fast.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from graph.runner import IncidentRunner
    from state.config import Settings

app = typer.Typer(
    name="alertpilot",
    help="An incident agent: alert → triage → diagnosis → review → guarded rollback → briefing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
incidents_app = typer.Typer(help="List and inspect incidents.", no_args_is_help=True)
app.add_typer(incidents_app, name="incidents")
mcp_app = typer.Typer(help="Serve alertpilot's tools over MCP.", no_args_is_help=True)
app.add_typer(mcp_app, name="mcp")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="alertpilot.yaml to use.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
DEMO_CASE = Path(__file__).resolve().parent / "evals" / "cases" / "checkout-bad-release"


class UsageError(Exception):
    """Bad usage or bad input: exit 2 with one line."""


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line on stderr and return the exit to raise."""
    err.print(f"alertpilot: {message}", markup=False)
    return typer.Exit(code)


@contextmanager
def guarded() -> Iterator[None]:
    """Turn our input errors into exit 2 with a one-line reason, never a traceback."""
    from state.alert import AlertParseError
    from state.config import ConfigError

    try:
        yield
    except (AlertParseError, ConfigError, UsageError) as exc:
        raise fail(str(exc)) from None
    except KeyError as exc:
        raise fail(f"no incident {exc.args[0]}") from None


def load(config: Path | None, **overrides: Any) -> Settings:
    """Load settings once for this command."""
    from state.config import load_settings

    return load_settings(config, **overrides)


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")


def _printer(enabled: bool) -> Any:
    """An ``on_event`` callback that narrates the run on stderr."""

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if not enabled:
            return
        match kind:
            case "triage":
                err.print(
                    f"[bold]triage[/]  score {data['score']} tier {data['tier']} "
                    f"budget {data['budget']}  {data['dimensions']}"
                )
            case "diagnosis":
                err.print(f"[bold]diagnose[/] {data['summary']}")
            case "plan":
                err.print(f"[bold]plan[/]    {data['reason']}")
            case "guard":
                err.print(f"[bold]guard[/]   {'allow' if data['allowed'] else 'deny'}: {data['reason']}")
            case "execute":
                result = data["result"]
                outcome = result.get("detail") or result.get("error")
                err.print(
                    f"[bold]execute[/] #{data['attempt']} {data['action']} {data['params']} "
                    f"→ {result.get('status')}: {outcome}"
                )
            case "verify":
                # An alerting expression with a comparison returns nothing once it clears: no value to show.
                value = "" if data["signal_after"] is None else f" (signal {data['signal_after']:g})"
                err.print(f"[bold]verify[/]  #{data['attempt']} {data['note']}{value}")
            case "notify":
                err.print(f"[bold]notify[/]  {data['message']}")

    return on_event


@contextmanager
def runner_for(settings: Settings, *, narrate: bool) -> Iterator[IncidentRunner]:
    """An incident runner with live tools and a narrating event hook."""
    from agents.brain import make_model
    from agents.deps import Deps
    from graph.runner import open_runner
    from tools.catalog import build_registry, open_world

    try:
        world = open_world(settings)
        deps = Deps(
            settings=settings,
            tools=build_registry(settings, world),
            model=make_model(settings),
            on_event=_printer(narrate),
        )
    except (ValueError, FileNotFoundError) as exc:  # ModelConfigError is a ValueError
        raise UsageError(str(exc)) from None
    with open_runner(settings, deps) as runner:
        yield runner


def print_incident(doc: dict[str, Any]) -> None:
    """A human rendering of an incident document."""
    alert = doc["alert"]
    out.print(f"[bold]{doc['id']}[/]  status: [bold]{doc['status']}[/]  alert: {alert['name']} ({alert['source']})")
    triage = doc.get("triage")
    if triage:
        out.print(f"triage: score {triage['score']}, tier {triage['tier']}, budget {triage['budget']}")
    report = doc.get("report")
    if report:
        out.print("\n[bold]report[/]")
        out.print(report["content"], markup=False)
        if report.get("promQL"):
            out.print("promQL: " + "; ".join(report["promQL"]), markup=False)
    for attempt in doc.get("attempts", []):
        result = attempt.get("result") or {}
        out.print(
            f"attempt {attempt['n']}: rung {attempt['rung']} {attempt['action']} {attempt['params']} → "
            f"{result.get('status', 'pending')}, verified={attempt['verified']}",
            markup=False,
        )
    if doc.get("escalation_reason"):
        out.print(f"escalation: {doc['escalation_reason']}", markup=False)


def _exit_code(doc: dict[str, Any]) -> int:
    failed = doc["status"] == "failed" or (doc.get("report") or {}).get("status") == "failed"
    return 1 if failed else 0


@app.command()
def run(
    file: Annotated[Path, typer.Argument(help="Alert payload (JSON); - for stdin.")],
    source: Annotated[str, typer.Option(help="auto, alertmanager, tencent, cls or generic.")] = "auto",
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and guard, change nothing.")] = False,
) -> None:
    """Run an alert through the incident graph."""
    from state.alert import MAX_PAYLOAD_BYTES, parse_alerts

    with guarded():
        settings = load(config)
        body = _read_payload(file, MAX_PAYLOAD_BYTES)
        alerts = parse_alerts(body, source)
        docs = []
        with runner_for(settings, narrate=not as_json) as runner:
            for alert in alerts:
                docs.append(runner.start(alert, dry_run=dry_run).document)
    if as_json:
        emit_json(docs[0] if len(docs) == 1 else docs)
    else:
        for doc in docs:
            print_incident(doc)
    raise typer.Exit(max(_exit_code(d) for d in docs))


def _read_payload(file: Path, limit: int) -> bytes:
    if str(file) == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        if not file.is_file():
            raise UsageError(f"FILE: no such file {file}")
        with file.open("rb") as handle:
            data = handle.read(limit + 1)
    if len(data) > limit:
        raise UsageError("FILE: payload is over the 1 MiB limit")
    return data


@app.command()
def resume(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Continue an incident from its last checkpoint."""
    with guarded():
        settings = load(config)
        with runner_for(settings, narrate=not as_json) as runner:
            doc = runner.resume(incident_id)
    emit_json(doc) if as_json else print_incident(doc)
    raise typer.Exit(_exit_code(doc))


def _decide(
    incident_id: str,
    approved: bool,
    user: str | None,
    reason: str,
    config: Path | None,
    as_json: bool,
) -> None:
    with guarded():
        settings = load(config)
        by = user or settings.acting_user
        approver = settings.user(by)
        if approver is None or not approver.rollback_permission:
            raise UsageError(f"--user: {by!r} has no rollback_permission (users: in config)")
        with runner_for(settings, narrate=not as_json) as runner:
            try:
                doc = runner.decide(incident_id, approved=approved, by=by, reason=reason)
            except LookupError as exc:
                raise UsageError(str(exc)) from None
    emit_json(doc) if as_json else print_incident(doc)


@app.command()
def approve(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    user: Annotated[str | None, typer.Option(help="Who approves.")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve the action an incident is waiting on, and continue it."""
    _decide(incident_id, True, user, "", config, as_json)


@app.command()
def reject(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit trail).")],
    user: Annotated[str | None, typer.Option(help="Who rejects.")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject the action an incident is waiting on; the incident escalates."""
    _decide(incident_id, False, user, reason, config, as_json)


@incidents_app.command("list")
def incidents_list(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    from rich.table import Table

    from state.store import Store

    with guarded():
        settings = load(config)
        store = Store.from_url(settings.db_url)
        rows = store.list(status=status)
    if as_json:
        emit_json(rows)
        return
    table = Table("id", "status", "alert", "service", "severity", "score", "attempts", "created")
    for row in rows:
        table.add_row(
            row["id"],
            row["status"],
            row["name"],
            row["service"] or "-",
            row["severity"],
            str(row["score"] or "-"),
            str(row["attempts"]),
            row["created_at"][:19],
        )
    out.print(table)


@incidents_app.command("show")
def incidents_show(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one incident (its triage, report, attempts and audit trail)."""
    from state.store import Store

    with guarded():
        settings = load(config)
        store = Store.from_url(settings.db_url)
        doc = store.get(incident_id)
        if doc is None:
            raise KeyError(incident_id)
        doc["audit"] = store.audit_trail(incident_id)
    emit_json(doc) if as_json else print_incident(doc)


@app.command()
def demo(
    as_json: JsonOpt = False,
    home: Annotated[Path | None, typer.Option(help="ALERTPILOT_HOME to use (the demo writes <home>/demo).")] = None,
) -> None:
    """Run the bundled checkout scenario end to end on embedded defaults."""
    import os

    from state.alert import parse_alerts
    from state.config import load_settings

    # The demo keeps its own home under <home>/demo and starts afresh each time:
    # the bad release running, no open incident to join.
    base = (home or Path(os.environ.get("ALERTPILOT_HOME", "~/.alertpilot")).expanduser()) / "demo"
    shutil.rmtree(base, ignore_errors=True)
    with guarded():
        settings = load_settings(DEMO_CASE / "config.yaml", home=base)
        alert = parse_alerts((DEMO_CASE / "alert.json").read_bytes())[0]
        if not as_json:
            err.print(f"[bold]alert[/]   {alert.name} on {alert.service} ({alert.source}, {alert.severity})")
        with runner_for(settings, narrate=not as_json) as runner:
            doc = runner.start(alert).document
    if as_json:
        emit_json(doc)
    else:
        out.print()
        print_incident(doc)
        out.print(f"\nstate: {base}  (ALERTPILOT_HOME={base} alertpilot incidents show {doc['id']})")
    raise typer.Exit(0 if doc["status"] == "resolved" else 1)


@mcp_app.command("serve")
def mcp_serve(
    name: Annotated[str, typer.Argument(help="Server: see tools/mcp SERVERS.")],
    transport: Annotated[str, typer.Option(help="stdio or http (streamable HTTP).")] = "stdio",
    host: Annotated[str, typer.Option(help="HTTP bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8765,
    config: ConfigOpt = None,
) -> None:
    """Serve one of alertpilot's MCP servers (stdio for assistants, http for agents)."""
    from tools.mcp import build_server

    if transport not in ("stdio", "http"):
        raise fail(f"--transport: expected stdio or http, got {transport!r}")
    with guarded():
        settings = load(config)
        try:
            server = build_server(name, settings)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if transport == "stdio":
        server.run("stdio")
        return
    server.settings.host = host
    server.settings.port = port
    server.run("streamable-http")


@app.command()
def review(
    repo: Annotated[str, typer.Option("--repo", help="OWNER/NAME of the repository.")],
    tag: Annotated[str, typer.Option("--tag", help="Release tag to review (its PRs and diffs).")],
    github_url: Annotated[str | None, typer.Option("--github-url", help="GitHub (Enterprise) API URL.")] = None,
    local: Annotated[Path | None, typer.Option("--local", help="Read a local clone's tags instead of GitHub.")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Review a release's pull requests for fatal bugs (null deref, leaks, races, logic, swallowed errors)."""
    with guarded():
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            raise UsageError(f"--repo: expected OWNER/NAME, got {repo!r}")
        if not tag.strip():
            raise UsageError("--tag: must not be empty")
        if local is not None and not (local / ".git").exists():
            raise UsageError(f"--local: {local} is not a git clone")
        settings = load(config)
        from agents.brain import ModelConfigError, make_model
        from agents.review_core import review_release
        from tools.registry import ToolRegistry, ToolSession
        from tools.release import release_tools, router_from_settings

        if github_url:
            settings.github.url = github_url
        try:
            model = make_model(settings)
        except ModelConfigError as exc:
            raise UsageError(str(exc)) from None
        registry = ToolRegistry(release_tools(router_from_settings(settings, {repo: local} if local else None)))
        session = ToolSession(registry, agent="review")
        outcome = review_release(session, repo, tag)
        if model is not None and outcome.release is not None:
            from agents.review_llm import llm_review

            outcome = llm_review(model, registry, session, outcome)
    if as_json:
        emit_json(outcome.as_dict())
    elif outcome.error:
        err.print(f"alertpilot: {outcome.error}", markup=False)
    else:
        _print_review(outcome.as_dict())
    raise typer.Exit(1 if outcome.error else 0)


def _print_review(doc: dict[str, Any]) -> None:
    release = doc["release"]
    out.print(
        f"[bold]{doc['repo']} {release['tag']}[/] (previous {release['previous_tag'] or '-'}; "
        f"PRs from {release['pulls_from']}): {len(doc['pulls'])} pull requests",
        markup=True,
    )
    for pull in doc["pulls"]:
        out.print(f"  #{pull['number']} {pull['title']} ({len(pull['files'])} files)", markup=False)
    for finding in doc["findings"]:
        out.print(
            f"PR #{finding['pr']} {finding['file']}:{finding['line']} [{finding['category']}] "
            f"conf {finding['confidence']:.2f}\n    {finding['problem']}\n    fix: {finding['fix']}",
            markup=False,
        )
    for note in doc.get("notes", []):
        out.print(f"note: {note}", markup=False)


# ---------------------------------------------------------------------- replay, export, import (issue 9)


@contextmanager
def _replay_runner(settings: Settings) -> Iterator[IncidentRunner]:
    """A runner over the configured store and checkpoints, without opening the world."""
    from agents.deps import Deps
    from graph.runner import open_runner
    from tools.registry import ToolRegistry

    with open_runner(settings, Deps(settings=settings, tools=ToolRegistry())) as runner:
        yield runner


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


@app.command()
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

    with guarded():
        settings = load(config)
        live_tools = None
        if live:
            from tools.catalog import build_registry, open_world

            try:
                live_tools = build_registry(settings, open_world(settings))
            except (ValueError, FileNotFoundError) as exc:
                raise UsageError(str(exc)) from None
        with _replay_runner(settings) as runner:
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
                        on_event=_printer(not as_json),
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


@incidents_app.command("export")
def incidents_export(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
    config: ConfigOpt = None,
) -> None:
    """Write one incident (alert, checkpoints, tool calls, report, audit trail) to a file."""
    from graph.archive import export_incident, write_export

    with guarded():
        settings = load(config)
        with _replay_runner(settings) as runner:
            saver = runner.graph.checkpointer
            document = export_incident(runner.store, saver, incident_id)  # type: ignore[arg-type]
        write_export(document, output)
    err.print(f"exported {incident_id}: {len(document['checkpoints'])} checkpoints → {output}", markup=False)


@incidents_app.command("import")
def incidents_import(
    file: Annotated[Path, typer.Argument(help="A file written by `alertpilot incidents export`.")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import an exported incident into this home: listable, showable and replayable."""
    from graph.archive import ArchiveError, import_incident, read_export

    with guarded():
        settings = load(config)
        try:
            document = read_export(file)
            with _replay_runner(settings) as runner:
                saver = runner.graph.checkpointer
                incident_id = import_incident(runner.store, saver, document)  # type: ignore[arg-type]
        except ArchiveError as exc:
            raise UsageError(str(exc)) from None
    if as_json:
        emit_json({"incident": incident_id, "checkpoints": len(document["checkpoints"])})
    else:
        out.print(f"imported {incident_id} ({len(document['checkpoints'])} checkpoints)", markup=False)


logs_app = typer.Typer(help="Read and classify logs.", no_args_is_help=True)
app.add_typer(logs_app, name="logs")


@logs_app.command("classify")
def logs_classify(
    paths: Annotated[list[Path], typer.Argument(help="Log files or directories (plain or gzip).")],
    top: Annotated[int, typer.Option(help="How many error signatures to list.")] = 20,
    as_json: JsonOpt = False,
    workers: Annotated[
        int, typer.Option(help="Worker processes for large inputs (0 = one per CPU, 1 = none).", min=0, max=64)
    ] = 0,
) -> None:
    """Count records by kind (business/event/audit/standard) and rank error signatures."""
    from tools.logs.classify import LogSummary
    from tools.logs.parallel import feed_parallel
    from tools.logs.reader import file_blocks, prefetched

    if top < 1:
        raise fail("--top: must be at least 1")
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail(f"PATH: no such file or directory {missing[0]}")
    summary = LogSummary()
    feed_parallel(summary, prefetched(file_blocks(paths, summary.issue)), workers or None)
    for problem in summary.issues:
        err.print(f"alertpilot: {problem}", markup=False)
    doc = summary.public(top)
    if as_json:
        emit_json(doc)
        return
    counts = doc["counts"]
    out.print(", ".join(f"{kind} {n}" for kind, n in counts.items()) + f"; errors {doc['errors']}", markup=False)
    for sig in doc["signatures"]:
        out.print(f"{sig['count']:>8}  {sig['signature']}  ({sig['first_seen']} → {sig['last_seen']})", markup=False)


# --------------------------------------------------------------------------- eval (issue 6)

eval_app = typer.Typer(help="Score the agents over scenario cases (see evals/README.md).")
app.add_typer(eval_app, name="eval")
EVAL_CASES = Path(__file__).resolve().parent / "evals" / "cases"


def _eval_model(spec: str, config: Path | None) -> Any:
    """None for the offline playbook, else the chat model ``openai:<name>`` (settings from --config)."""
    from agents.brain import ModelConfigError, make_model

    if spec == "offline":
        return None
    settings = load(config)
    try:
        return make_model(settings.model_copy(update={"llm": settings.llm.model_copy(update={"model": spec})}))
    except ModelConfigError as exc:
        raise UsageError(f"--model: {exc}") from None


@eval_app.callback(invoke_without_command=True)
def eval_run(
    ctx: typer.Context,
    cases: Annotated[Path, typer.Option(help="A cases directory (or one case).")] = EVAL_CASES,
    case: Annotated[list[str] | None, typer.Option("--case", help="Only this case id (repeatable).")] = None,
    model: Annotated[
        str, typer.Option(help="offline, or openai:<model> (llm.base_url/api_key_env from --config).")
    ] = "offline",
    trials: Annotated[int, typer.Option(min=1, max=50, help="Trials per case (pass^k for k=1..N).")] = 1,
    world: Annotated[str, typer.Option(help="live, recorded or prometheus (a real Prometheus per episode).")] = "live",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Write report.md/.html/.json and charts here.")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run every case, score it, and print the tables (or --json)."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.progress import Progress

    from evals.case import CaseError, load_cases
    from evals.harness import run_eval
    from evals.report import tables, write_reports

    if world not in ("live", "recorded", "prometheus"):
        raise fail(f"--world: expected live, recorded or prometheus, got {world!r}")
    with guarded():
        try:
            loaded = load_cases(cases, case)
        except CaseError as exc:
            raise UsageError(str(exc)) from None
        chat = _eval_model(model, config)
        with Progress(console=err, transient=True, disable=as_json) as progress:
            task = progress.add_task(f"eval {model}", total=len(loaded) * trials)
            try:
                result = run_eval(
                    loaded, model=chat, model_name=model, trials=trials, world=world,  # type: ignore[arg-type]
                    on_episode=lambda s: progress.update(task, advance=1, description=s.case_id[:40]),
                )  # fmt: skip
            except CaseError as exc:
                raise UsageError(str(exc)) from None
    if out_dir is not None:
        written = write_reports(result, out_dir)
        if not as_json:
            err.print(f"reports: {', '.join(str(p) for p in written[:2])}")
    if as_json:
        emit_json(result.document())
    else:
        for table in tables(result):
            out.print(table)


@eval_app.command("record")
def eval_record(
    cases: Annotated[Path, typer.Option(help="A cases directory (or one case).")] = EVAL_CASES,
    case: Annotated[list[str] | None, typer.Option("--case", help="Only this case id (repeatable).")] = None,
) -> None:
    """Run cases live with the offline playbook and save their tool answers (recording.json)."""
    from evals.capture import record
    from evals.case import CaseError, load_cases

    with guarded():
        try:
            for loaded in load_cases(cases, case):
                out.print(f"{loaded.id}: recorded {record(loaded)} calls")
        except CaseError as exc:
            raise UsageError(str(exc)) from None


@eval_app.command("capture")
def eval_capture(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    cases: Annotated[Path, typer.Option(help="Where to write the new case.")] = EVAL_CASES,
    config: ConfigOpt = None,
) -> None:
    """Turn a real incident's checkpointed tool calls into a new case (marked for a human to confirm)."""
    from evals.capture import capture
    from evals.case import CaseError

    with guarded():
        settings = load(config)
        try:
            path = capture(settings, incident_id, cases)
        except CaseError as exc:
            raise UsageError(str(exc)) from None
    out.print(f"wrote {path} (confirmed: false — review expect.yaml)")


def _briefing_day(text: str | None, settings: Settings) -> Any:
    from datetime import UTC, date, datetime

    from agents.briefing import local_day

    if text is None:
        return local_day(settings, datetime.now(UTC))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date: expected YYYY-MM-DD, got {text!r}") from None


def _speak_to_wav(text: str, language: str, wav: Path) -> None:
    import subprocess

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise UsageError("--wav: espeak-ng is not installed")
    voice = "cmn" if language == "zh" else "en"
    done = subprocess.run([espeak, "-v", voice, "-w", str(wav), text], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise UsageError(f"--wav: espeak-ng failed: {done.stderr.strip()[:200]}")


def _print_briefing(doc: dict[str, Any]) -> None:
    if doc["status"] == "already_given":
        previous = doc.get("previous") or {}
        out.print(
            f"{doc['user']}: already briefed for {doc['day']} ({previous.get('trigger')} at {previous.get('at')}); "
            "nothing sent (--force to send again)",
            markup=False,
        )
        return
    out.print(doc["speech"], markup=False)
    for path in doc["files"]:
        err.print(f"saved {path}", markup=False)
    for delivery in doc["deliveries"]:
        err.print(
            f"sent {doc['user']} via {delivery['channel']}: {delivery['status']} {delivery['detail']}", markup=False
        )


@app.command()
def briefing(
    user: Annotated[str | None, typer.Option(help="Only this configured user (default: every user).")] = None,
    day: Annotated[
        str | None, typer.Option("--date", help="Day of the briefing, YYYY-MM-DD (covers the day before).")
    ] = None,
    send: Annotated[bool, typer.Option("--send", help="Send it over the user's channels (once a day).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Send again even if already given that day.")] = False,
    wav: Annotated[Path | None, typer.Option("--wav", help="Also speak it into this WAV file (espeak-ng).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Yesterday's incidents as a spoken-style briefing and Markdown; optionally send it."""
    from agents.brain import ModelConfigError, make_model
    from agents.briefing import BriefingError, checkpoint_calls, give, resolve_user
    from state.store import Store

    docs: list[dict[str, Any]] = []
    with guarded():
        settings = load(config)
        try:
            when = _briefing_day(day, settings)
            readers = [resolve_user(settings, user)] if user else (settings.readers() or [resolve_user(settings, None)])
            if send and not settings.readers():
                raise UsageError("users: no users configured to send the briefing to")
            model = make_model(settings)
        except (BriefingError, ModelConfigError) as exc:
            raise UsageError(str(exc)) from None
        store = Store.from_url(settings.db_url)
        with checkpoint_calls(settings) as calls_for:
            for reader in readers:
                outcome = give(
                    settings, store, reader, when, trigger="cli", send=send, force=force, gated=send,
                    model=model, calls_for=calls_for,
                )  # fmt: skip
                docs.append(outcome.document())
        spoken = next((d["speech"] for d in docs if d.get("speech")), None)
        if wav is not None and spoken:
            _speak_to_wav(spoken, settings.language, wav)
    if as_json:
        emit_json(docs[0] if len(docs) == 1 else docs)
    else:
        for doc in docs:
            _print_briefing(doc)
    failed = any(d["status"] == "failed" for doc in docs for d in doc["deliveries"])
    raise typer.Exit(1 if failed else 0)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Intake and API only; run workers apart.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Run the webhook service (intake, incident API, web page, /metrics) with one worker."""
    import logging

    import uvicorn

    from server.app import create_app
    from server.scheduler import validate_schedule

    with guarded():
        settings = load(config)
        if not settings.secret(settings.server.token_env):
            raise UsageError(f"server.token_env: environment variable {settings.server.token_env} is not set")
        validate_schedule(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings, run_worker=not no_worker), host=host, port=port, log_level="warning")


@app.command()
def worker(
    name: Annotated[str | None, typer.Option(help="Worker name in the audit trail (default host:pid).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Claim and run incidents from the durable queue until interrupted."""
    import logging
    import signal
    import threading

    from server.worker import open_worker

    with guarded():
        settings = load(config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with open_worker(settings, name=name) as running:
        err.print(f"worker {running.name} on {settings.db_url.split('@')[-1]}")
        running.run(stop)


executor_app = typer.Typer(help="The executor service that applies actions on the target host.", no_args_is_help=True)
app.add_typer(executor_app, name="executor")
audit_app = typer.Typer(help="The executor's hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@executor_app.command("serve")
def executor_serve(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8780,
    backend: Annotated[
        str | None, typer.Option(help="dry-run, process, kubernetes or tke (default: executor.backend).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve POST /mcp (executor protocol); the token comes from $ALERTPILOT_EXECUTOR_TOKEN."""
    import os

    with guarded():
        settings = load(config)
        token = os.environ.get("ALERTPILOT_EXECUTOR_TOKEN", "")
        if not token:
            raise UsageError("ALERTPILOT_EXECUTOR_TOKEN: required (the token clients send as X-Auth-Token)")
        name = backend or settings.executor.backend
        if name == "http":
            raise UsageError("--backend: 'http' is the client side; choose dry-run, process, kubernetes or tke")
        from server.executor_app import build_service, create_app
        from tools.backends import make_backend
        from tools.catalog import open_world

        try:
            executor = make_backend(name, settings, open_world(settings) if name == "process" else None)
        except (ValueError, FileNotFoundError) as exc:
            raise UsageError(str(exc)) from None
        service = build_service(executor, name, token, settings.home, settings.executor.audit_path)
    import uvicorn

    err.print(f"executor ({name}) on http://{host}:{port}/mcp, audit log {service.audit.path}")
    uvicorn.run(create_app(service), host=host, port=port, log_level="warning")


@audit_app.command("verify")
def audit_verify(
    file: Annotated[Path, typer.Argument(help="audit.jsonl to check.")],
    as_json: JsonOpt = False,
) -> None:
    """Check the hash chain; exit 1 on any edited, removed or reordered record."""
    from server.audit_log import verify

    verdict = verify(file)
    if as_json:
        emit_json({"ok": verdict.ok, "records": verdict.records, "problem": verdict.problem})
    elif verdict.ok:
        out.print(f"ok: {verdict.records} records, chain intact")
    else:
        err.print(f"alertpilot: {file}: {verdict.problem}", markup=False)
    if not verdict.ok:
        raise typer.Exit(2 if verdict.problem.startswith("FILE:") else 1)


if __name__ == "__main__":
    app(prog_name="alertpilot")  # `python -m cli --help` reads "Usage: alertpilot ...", not "cli.py"
