"""Render an eval result: terminal tables, and a Markdown + HTML report with a bar chart per metric."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from evals.harness import EvalResult

HEADLINE = [
    ("mcp_call_accuracy", "MCP call accuracy"),
    ("valid_tool_name_rate", "valid tool names"),
    ("schema_validity", "schema validity"),
    ("argument_accuracy", "argument accuracy"),
    ("read_recall", "read-call recall"),
    ("mutation_strict_match", "mutating strict match"),
    ("abstention", "abstention (Noop)"),
    ("action_when_needed", "action when needed"),
    ("diagnosis_score", "diagnosis score"),
    ("mitigation_success", "mitigation success"),
    ("episode_success", "episode success"),
]
CHARTED = ["mcp_call_accuracy", "diagnosis_score", "mitigation_success", "episode_success"]


def fmt(value: Any) -> str:
    """A metric for people: 0.8333 → 83.3%, None → n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value * 100:.1f}%"
    return str(value)


COST = [
    ("tokens_per_episode", "tokens / episode"),
    ("model_calls_per_episode", "model calls / episode"),
    ("wall_s_per_episode", "wall s / episode"),
]
PER_CASE = ["mcp_call_accuracy", "diagnosis_score", "mitigation_success", "episode_success", "tokens_per_episode",
            "model_calls_per_episode", "wall_s_per_episode"]  # fmt: skip


def fmt_metric(key: str, value: Any) -> str:
    """``fmt`` for rates; counts and seconds as plain numbers."""
    if value is not None and key in dict(COST):
        return f"{float(value):.1f}"
    return fmt(value)


def side_by_side(graph: EvalResult, react: EvalResult) -> dict[str, Any]:
    """The product's incident graph beside the single-agent baseline, per metric and per case."""
    keys = [*HEADLINE, *((f"pass^{k}", f"pass^{k}") for k in graph.summary["pass_k"]), *COST]

    def value(result: EvalResult, key: str) -> Any:
        if key.startswith("pass^"):
            return result.summary["pass_k"].get(key[5:])
        return result.summary.get(key)

    metrics = [
        {"metric": label, "key": key, "graph": value(graph, key), "react": value(react, key)} for key, label in keys
    ]
    theirs = {row["id"]: row for row in react.per_case()}
    cases = [
        {
            "id": row["id"],
            "metrics": {k: {"graph": row.get(k), "react": theirs.get(row["id"], {}).get(k)} for k in PER_CASE},
        }
        for row in graph.per_case()
    ]
    return {"model": graph.model, "world": graph.world, "trials": graph.trials, "metrics": metrics, "cases": cases,
            "graph": graph.document(), "react": react.document()}  # fmt: skip


def tables(result: EvalResult) -> list[Any]:
    """Rich tables: the headline, one row per case, one row per tool."""
    from rich.table import Table

    head = Table(
        "metric", "value", title=f"alertpilot eval — {result.model}, {result.world} world, {result.trials} trial(s)"
    )
    for key, label in HEADLINE:
        head.add_row(label, fmt(result.summary.get(key)))
    for k, value in result.summary["pass_k"].items():
        head.add_row(f"pass^{k}", fmt(value))
    head.add_row("wall time", f"{result.summary['wall_s']:.1f}s")
    head.add_row("tokens", str(result.summary["tokens"]))
    if result.summary.get("model_calls"):
        for key, label in COST:
            head.add_row(label, fmt_metric(key, result.summary.get(key)))
    cases = Table("case", "source", "acc", "diag", "mitig", "status", "ok", "why not", title="per case")
    cases.columns[0].no_wrap = True
    for row in result.per_case():
        cases.add_row(
            row["id"],
            row["source"],
            fmt(row["mcp_call_accuracy"]),
            fmt(row["diagnosis_score"]),
            fmt(row["mitigation_success"]),
            str(row["status"] or "-"),
            f"{row['successes']}/{result.trials}",
            "; ".join(row["notes"][:2] + row["errors"][:1]),
        )
        for alert in alert_subrows(row):
            cases.add_row(
                f"  └ {alert['label']}",
                "",
                fmt(alert["mcp_call_accuracy"]),
                fmt(alert["diagnosis_score"]),
                fmt(alert["mitigation_success"]),
                str(alert["status"] or "-"),
                f"{alert['successes']}/{result.trials}",
                "; ".join(alert["notes"][:2]),
            )
    tools = Table("tool", "made", "correct", "missed", "invalid", "accuracy", title="per tool")
    for row in result.per_tool():
        tools.add_row(
            row["tool"], *(str(row[k]) for k in ("made", "correct", "missed", "invalid")), fmt(row["accuracy"])
        )
    from evals.history import table as history_table

    with_history = [t for t in [history_table(result.history)] if t is not None]
    if not result.skipped:
        return [head, cases, tools, *with_history]
    skipped = Table("case", "not run", "why", title="not run")
    for item in result.skipped:
        skipped.add_row(item.id, item.kind, item.reason)
    return [head, cases, tools, *with_history, skipped]


def alert_subrows(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-alert rows shown under a case with more than one scored alert."""
    alerts = row.get("alerts") or []
    if len(alerts) < 2:
        return []
    return [a | {"label": f"alert {a['index']} {a['alertname']} ({a['fingerprint'][:12]})"} for a in alerts]


def _chart(name: str, result: EvalResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_template: dict[str, list[float]] = {}
    for row in result.per_case():
        value = row.get(name)
        if value is not None:
            by_template.setdefault(row["template"], []).append(value)
    labels = sorted(by_template)
    values = [sum(by_template[t]) / len(by_template[t]) for t in labels]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.bar(labels, values, color="#4c72b0")
    overall = result.summary.get(name)
    if overall is not None:
        ax.axhline(overall, color="#dd8452", linestyle="--", label=f"all cases {overall:.1%}")
        ax.legend(loc="lower right")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{name} by template ({result.model})")
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown(result: EvalResult, charts: list[str]) -> str:
    """The Markdown report."""
    lines = [
        f"# alertpilot eval — {result.model}",
        "",
        f"{len(result.cases)} cases, {result.trials} trial(s), {result.world} world."
        + (f" {len(result.skipped)} not run (below)." if result.skipped else ""),
        "",
    ]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {label} | {fmt(result.summary.get(key))} |" for key, label in HEADLINE]
    lines += [f"| pass^{k} | {fmt(v)} |" for k, v in result.summary["pass_k"].items()]
    lines += ["", *(f"![{c}]({c})" for c in charts), "", "## Per case", ""]
    lines += [
        "| case | template | source | accuracy | diagnosis | mitigation | status | success | why not |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result.per_case():
        for item in [row, *alert_subrows(row)]:
            why = "; ".join(item["notes"][:3] + item.get("errors", [])[:1]).replace("|", "\\|")
            name = f"└ {item['label']}" if "label" in item else row["id"]
            lines.append(
                f"| {name} | {row['template']} | {row['source']} | {fmt(item['mcp_call_accuracy'])} | "
                f"{fmt(item['diagnosis_score'])} | {fmt(item['mitigation_success'])} | {item['status'] or '-'} | "
                f"{item['successes']}/{result.trials} | {why} |"
            )
    lines += [
        "",
        "## Per tool",
        "",
        "| tool | made | correct | missed | invalid | accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for row in result.per_tool():
        counts = " | ".join(str(row[k]) for k in ("made", "correct", "missed", "invalid"))
        lines.append(f"| {row['tool']} | {counts} | {fmt(row['accuracy'])} |")
    from evals.history import markdown as history_markdown

    lines += history_markdown(result.history)
    if result.skipped:
        lines += ["", "## Not run", "", "| case | | why |", "|---|---|---|"]
        lines += ["| {} | {} | {} |".format(s.id, s.kind, s.reason.replace("|", "\\|")) for s in result.skipped]
    return "\n".join(lines) + "\n"


def html_page(result: EvalResult, charts: list[str]) -> str:
    """The HTML report (self-contained apart from the chart PNGs next to it)."""
    from evals.history import html as history_html

    esc = html.escape
    head = "".join(f"<tr><td>{esc(label)}</td><td>{fmt(result.summary.get(key))}</td></tr>" for key, label in HEADLINE)
    rows = "".join(
        f"<tr><td>{esc(r['label'] if 'label' in r else c['id'])}</td><td>{esc(c['template'])}</td>"
        f"<td>{esc(c['source'])}</td><td>{fmt(r['mcp_call_accuracy'])}</td><td>{fmt(r['diagnosis_score'])}</td>"
        f"<td>{fmt(r['mitigation_success'])}</td><td>{esc(str(r['status'] or '-'))}</td>"
        f"<td>{r['successes']}/{result.trials}</td>"
        f"<td>{esc('; '.join(r['notes'][:3] + r.get('errors', [])[:1]))}</td></tr>"
        for c in result.per_case()
        for r in [c, *alert_subrows(c)]
    )
    tools = "".join(
        f"<tr><td>{esc(r['tool'])}</td><td>{r['made']}</td><td>{r['correct']}</td><td>{r['missed']}</td><td>{fmt(r['accuracy'])}</td></tr>"
        for r in result.per_tool()
    )
    images = "".join(f'<img src="{esc(c)}" alt="{esc(c)}">' for c in charts)
    not_run = "".join(
        f"<tr><td>{esc(s.id)}</td><td>{esc(s.kind)}</td><td>{esc(s.reason)}</td></tr>" for s in result.skipped
    )
    if not_run:
        not_run = f"<h2>Not run</h2><table><tr><th>case</th><th></th><th>why</th></tr>{not_run}</table>"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>alertpilot eval — {esc(result.model)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:3px 8px;font-size:13px}img{max-width:48%;margin:4px}</style></head><body>"
        f"<h1>alertpilot eval — {esc(result.model)}</h1><p>{len(result.cases)} cases, {result.trials} trial(s), "
        f"{esc(result.world)} world.</p><table><tr><th>metric</th><th>value</th></tr>{head}</table>{images}"
        "<h2>Per case</h2><table><tr><th>case</th><th>template</th><th>source</th><th>accuracy</th><th>diagnosis</th>"
        f"<th>mitigation</th><th>status</th><th>success</th><th>why not</th></tr>{rows}</table>"
        "<h2>Per tool</h2><table><tr><th>tool</th><th>made</th><th>correct</th><th>missed</th><th>accuracy</th></tr>"
        f"{tools}</table>{history_html(result.history)}{not_run}</body></html>"
    )


def write_reports(result: EvalResult, out: Path) -> list[Path]:
    """Write ``report.md``, ``report.html``, ``report.json`` and one PNG per charted metric into ``out``."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    charts = []
    for name in CHARTED:
        png = f"{name}.png"
        _chart(name, result, out / png)
        charts.append(png)
    paths = [out / "report.md", out / "report.html", out / "report.json"]
    paths[0].write_text(markdown(result, charts))
    paths[1].write_text(html_page(result, charts))
    paths[2].write_text(json.dumps(result.document(), indent=2, ensure_ascii=False, default=str) + "\n")
    return [*paths, *(out / c for c in charts)]
