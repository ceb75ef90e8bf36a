"""alertpilot's command line: the root app, the incident commands, and where every other command lives.

The incident commands (run, resume, approve, reject, incidents, demo, review, logs) are
here; the rest sit beside their packages and are registered below: replay and
incidents export/import (graph/cli.py), serve, worker, briefing, executor, audit and mcp
(server/cli.py), users (server/users_cli.py), stats (server/stats_cli.py), eval (evals/cli.py).
What they share (exit codes, one-line errors, ``--config``/``--json``) is cli_common.py. Heavy modules
are imported inside the commands that need them so the CLI starts fast.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli_common import ConfigOpt, JsonOpt, UsageError, emit_json, err, fail, guarded, load, narrator, out
from evals import cli as evals_cli
from graph import cli as graph_cli
from server import cli as server_cli
from server import stats_cli, users_cli

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
logs_app = typer.Typer(help="Read and classify logs.", no_args_is_help=True)
DEMO_CASE = Path(__file__).resolve().parent / "evals" / "cases" / "checkout-bad-release"


@contextmanager
def runner_for(settings: Settings, *, narrate: bool) -> Iterator[IncidentRunner]:
    """An incident runner with live tools and a narrating event hook."""
    from contextlib import ExitStack

    from agents.brain import make_model
    from graph.runner import open_runner

    with ExitStack() as stack:
        try:
            runner = stack.enter_context(open_runner(settings, model=make_model(settings), on_event=narrator(narrate)))
        except (ValueError, FileNotFoundError) as exc:  # ModelConfigError is a ValueError
            raise UsageError(str(exc)) from None
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
    footer = model_footer(doc.get("llm"))
    if footer:
        out.print(footer, markup=False)


def model_footer(usage: dict[str, Any] | None) -> str:
    """The report's footer in LLM mode: calls, tokens and model time, in all and per agent (empty offline)."""
    if not usage:
        return ""

    def calls(n: int) -> str:
        return f"{n} call" if n == 1 else f"{n} calls"

    parts = []
    for agent, row in usage["agents"].items():
        failed = f" ({row['errors']} failed)" if row.get("errors") else ""
        parts.append(f"{agent} {calls(row['calls'])}{failed}, {row['tokens']} tokens, {float(row['seconds']):.1f}s")
    models = ", ".join(usage.get("models") or [])
    total = f"{calls(usage['calls'])}, {usage['tokens']} tokens, {float(usage['seconds']):.1f}s"
    return f"model {models}: {total} ({'; '.join(parts)})"


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
    from server.decisions import Verdict, decide, run_now

    with guarded():
        settings = load(config)
        verdict = Verdict(incident_id, approved, user or settings.acting_user, reason)
        with runner_for(settings, narrate=not as_json) as runner:
            try:
                doc = decide(settings, runner.store, verdict, run_now(runner))
            except PermissionError as exc:
                raise UsageError(f"--user: {exc}") from None
            except KeyError:
                raise
            except (LookupError, ValueError) as exc:
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
    from state.alert import parse_alerts
    from state.config import load_settings

    with guarded():
        # The demo keeps its own home under <home>/demo and starts afresh each time:
        # the bad release running, no open incident to join.
        base = (home or load_settings(DEMO_CASE / "config.yaml").home).expanduser() / "demo"
        shutil.rmtree(base, ignore_errors=True)
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
        from agents.llm_calls import ModelGate
        from agents.pr_review import review_tag
        from tools.catalog import release_registry
        from tools.registry import ToolSession

        if github_url:
            settings.github.url = github_url
        try:
            model = make_model(settings)
        except ModelConfigError as exc:
            raise UsageError(str(exc)) from None
        registry = release_registry(settings, {repo: local} if local else None)
        gate = ModelGate(model, "review", settings) if model is not None else None
        outcome = review_tag(ToolSession(registry, agent="review"), registry, repo, tag, gate)
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


# Registration order is the order `alertpilot --help` lists commands and groups in.
app.command()(graph_cli.replay)
for command in (server_cli.briefing, server_cli.serve, server_cli.worker, stats_cli.stats):
    app.command()(command)
incidents_app.command("export")(graph_cli.incidents_export)
incidents_app.command("import")(graph_cli.incidents_import)
app.add_typer(incidents_app, name="incidents")
app.add_typer(users_cli.app, name="users")
app.add_typer(server_cli.mcp_app, name="mcp")
app.add_typer(logs_app, name="logs")
app.add_typer(evals_cli.app, name="eval")
app.add_typer(server_cli.executor_app, name="executor")
app.add_typer(server_cli.audit_app, name="audit")
app.add_typer(server_cli.notify_app, name="notify")

if __name__ == "__main__":
    app(prog_name="alertpilot")  # `python -m cli --help` reads "Usage: alertpilot ...", not "cli.py"
