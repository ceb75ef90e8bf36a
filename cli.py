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
                err.print(f"[bold]verify[/]  #{data['attempt']} {data['note']} (signal {data['signal_after']})")
            case "notify":
                err.print(f"[bold]notify[/]  {data['message']}")

    return on_event


@contextmanager
def runner_for(settings: Settings, *, narrate: bool) -> Iterator[IncidentRunner]:
    """An incident runner with live tools and a narrating event hook."""
    from agents.deps import Deps
    from graph.runner import open_runner
    from tools.catalog import build_registry, open_world

    try:
        world = open_world(settings)
        deps = Deps(settings=settings, tools=build_registry(settings, world), on_event=_printer(narrate))
    except (ValueError, FileNotFoundError) as exc:
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
    home: Annotated[Path | None, typer.Option(help="Where to keep the demo's state.")] = None,
) -> None:
    """Run the bundled checkout scenario end to end on embedded defaults."""
    import os

    from state.alert import parse_alerts
    from state.config import load_settings

    base = home or Path(os.environ.get("ALERTPILOT_HOME", "~/.alertpilot")).expanduser() / "demo"
    shutil.rmtree(base / "world", ignore_errors=True)  # every demo starts from the bad release
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
    app()
