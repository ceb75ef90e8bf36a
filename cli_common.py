"""What every alertpilot command shares: the consoles, the common options, one-line errors, settings, JSON.

The root app (cli.py) and the command groups beside their packages (server/cli.py,
evals/cli.py, graph/cli.py) all import this; it imports nothing of ours at import time,
so the CLI starts fast and no command module imports the root app back.

Exit codes: 0 ok, 1 the work failed, 2 bad usage or bad input (one line naming the
field). ``--json`` prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from state.config import Settings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="alertpilot.yaml to use.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


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
    """Load settings once for this command: redact their secrets from every log, start tracing if OTEL_* asks."""
    from server.redact import install_for
    from state.config import load_settings
    from tools import tracing

    settings = load_settings(config, **overrides)
    install_for(settings)
    tracing.configure()
    return settings


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")


def narrator(enabled: bool) -> Callable[[str, dict[str, Any]], None]:
    """An ``on_event`` callback that narrates an incident run on stderr."""

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
                value = "" if data.get("signal_after") is None else f" (signal {data['signal_after']:.4g})"
                err.print(f"[bold]verify[/]  #{data['attempt']} {data.get('note', '')}{value}")
            case "notify":
                err.print(f"[bold]notify[/]  {data['message']}")
            case "model_call":
                usage = data.get("usage") or {}
                took = f"{float(data.get('duration_ms', 0)) / 1000:.1f}s"
                what = data.get("error") or f"{usage.get('total_tokens', 0)} tokens, {data.get('finish_reason')}"
                from rich.markup import escape

                text = escape(f"{data['agent']} {data['model']} {took}: {what}")
                err.print(f"[bold]model[/]   {text}")

    return on_event
