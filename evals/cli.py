"""``alertpilot eval``: score the agents over scenario cases, record their tool answers, capture a real incident.

Registered on the root app by cli.py (``add_typer``); heavy modules are imported inside
the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli_common import ConfigOpt, JsonOpt, UsageError, emit_json, err, fail, guarded, load, out

app = typer.Typer(help="Score the agents over scenario cases (see evals/README.md).")
EVAL_CASES = Path(__file__).resolve().parent / "cases"


def _eval_model(spec: str, config: Path | None) -> tuple[Any, Any]:
    """(None, None) for the offline playbook, else the chat model ``spec`` and the ``llm:`` settings (--config)."""
    from agents.brain import ModelConfigError, make_model

    if spec == "offline":
        return None, None
    settings = load(config)
    llm = settings.llm.model_copy(update={"model": spec})
    try:
        return make_model(settings.model_copy(update={"llm": llm})), llm
    except ModelConfigError as exc:
        raise UsageError(f"--model: {exc}") from None


@app.callback(invoke_without_command=True)
def eval_run(
    ctx: typer.Context,
    cases: Annotated[Path, typer.Option(help="A cases directory (or one case).")] = EVAL_CASES,
    case: Annotated[list[str] | None, typer.Option("--case", help="Only this case id (repeatable).")] = None,
    model: Annotated[
        str, typer.Option(help="offline, or provider:model, e.g. openai:qwen-plus (llm.* from --config).")
    ] = "offline",
    agent: Annotated[
        str,
        typer.Option(
            help="graph: the incident graph with the model in every LLM role; react: also the "
            "single-agent baseline, side by side."
        ),
    ] = "graph",
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
    if agent not in ("graph", "react"):
        raise fail(f"--agent: expected graph or react, got {agent!r}")
    if agent == "react" and model == "offline":
        raise fail("--agent react: the baseline is a model's own loop; give --model")
    with guarded():
        try:
            loaded = load_cases(cases, case)
        except CaseError as exc:
            raise UsageError(str(exc)) from None
        chat, llm = _eval_model(model, config)
        agents = ["graph", "react"] if agent == "react" else ["graph"]
        results = {}
        with Progress(console=err, transient=True, disable=as_json) as progress:
            for name in agents:
                task = progress.add_task(f"eval {model} ({name})", total=len(loaded) * trials)

                def advance(score: Any, task: Any = task) -> None:
                    progress.update(task, advance=1, description=score.case_id[:40])

                try:
                    results[name] = run_eval(
                        loaded, model=chat, model_name=model, trials=trials, world=world,  # type: ignore[arg-type]
                        on_episode=advance, agent=name, llm=llm,  # type: ignore[arg-type]
                    )  # fmt: skip
                except CaseError as exc:
                    raise UsageError(str(exc)) from None
    result = results["graph"]
    if out_dir is not None:
        written = write_reports(result, out_dir)
        if "react" in results:
            written += write_reports(results["react"], out_dir / "react")
        if not as_json:
            err.print(f"reports: {', '.join(str(p) for p in written[:2])}")
    if "react" in results:
        _print_side_by_side(results["graph"], results["react"], as_json)
        return
    if as_json:
        emit_json(result.document())
    else:
        for table in tables(result):
            out.print(table)


def _print_side_by_side(graph: Any, react: Any, as_json: bool) -> None:
    """The product (graph) beside the react baseline: headline metrics and per case."""
    from evals.report import fmt_metric, side_by_side

    doc = side_by_side(graph, react)
    if as_json:
        emit_json(doc)
        return
    from rich.table import Table

    table = Table("metric", "graph", "react baseline", title=f"alertpilot eval — {graph.model}: graph vs react")
    for row in doc["metrics"]:
        table.add_row(row["metric"], fmt_metric(row["key"], row["graph"]), fmt_metric(row["key"], row["react"]))
    out.print(table)
    cases = Table("case", "metric", "graph", "react", title="per case")
    for row in doc["cases"]:
        for metric, pair in row["metrics"].items():
            cases.add_row(row["id"], metric, fmt_metric(metric, pair["graph"]), fmt_metric(metric, pair["react"]))
    out.print(cases)


@app.command("record")
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


@app.command("capture")
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
