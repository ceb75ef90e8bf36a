"""How long the timeline, a re-run, a fork and an export/import take for each bundled case.

Run: ``/work/main/.venv/bin/python benchmarks/replay_bench.py [--repeat N]`` from the checkout.
Each case is run once live into a temporary home; the replay operations are timed
``--repeat`` times (median reported, in milliseconds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.deps import Deps  # noqa: E402
from graph.archive import export_incident, import_incident  # noqa: E402
from graph.replay import replay, timeline  # noqa: E402
from graph.runner import open_runner  # noqa: E402
from state.alert import parse_alerts  # noqa: E402
from state.config import load_settings  # noqa: E402
from tools.catalog import build_registry, open_world  # noqa: E402
from tools.registry import ToolRegistry  # noqa: E402

CASES = Path(__file__).resolve().parents[1] / "evals" / "cases"


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs, in ms."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_case(case: Path, home: Path, repeat: int) -> dict[str, float]:
    """Time the replay operations on one case."""
    settings = load_settings(case / "config.yaml", home=home)
    live = Deps(settings=settings, tools=build_registry(settings, open_world(settings)), sleep=lambda _s: None)
    with open_runner(settings, live) as runner:
        incident = runner.start(parse_alerts((case / "alert.json").read_bytes())[0]).incident_id
    base = load_settings(None, home=home)
    with open_runner(base, Deps(settings=base, tools=ToolRegistry())) as runner:
        entries = timeline(runner, incident)
        after_triage = next(e.id for e in entries if e.node == "triage")
        saver = runner.graph.checkpointer
        numbers = {
            "checkpoints": float(len(entries)),
            "timeline_ms": median_ms(lambda: timeline(runner, incident), repeat),
            "rerun_ms": median_ms(lambda: replay(runner, incident, "first", base=base), repeat),
            "fork_ms": median_ms(
                lambda: replay(runner, incident, after_triage, base=base, sets=["triage.budget=1"]), repeat
            ),
            "export_ms": median_ms(lambda: export_incident(runner.store, saver, incident), repeat),  # type: ignore[arg-type]
        }
        document = export_incident(runner.store, saver, incident)  # type: ignore[arg-type]
    numbers["export_kb"] = len(str(document).encode()) / 1024
    target = home / "imported"
    target_settings = load_settings(None, home=target)
    with open_runner(target_settings, Deps(settings=target_settings, tools=ToolRegistry())) as runner:
        started = time.perf_counter()
        import_incident(runner.store, runner.graph.checkpointer, document)  # type: ignore[arg-type]
        numbers["import_ms"] = (time.perf_counter() - started) * 1000
    return numbers


def main() -> None:
    """Print one line per bundled case."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for case in sorted(p for p in CASES.iterdir() if p.is_dir()):
        with tempfile.TemporaryDirectory() as tmp:
            numbers = bench_case(case, Path(tmp), args.repeat)
        shown = "  ".join(f"{k}={v:.0f}" for k, v in numbers.items())
        print(f"{case.name:<24} {shown}")


if __name__ == "__main__":
    main()
