"""Grouping accuracy of alertpilot's error signatures on loghub-2k (16 datasets with ground-truth templates).

Usage::

    python benchmarks/loghub_accuracy.py PATH/TO/loghub [--json]

``PATH`` is a checkout of logpai/loghub (each dataset folder holds
``<Name>_2k.log_structured.csv``); nothing is downloaded and the data is never committed.
Each dataset's ``Content`` column (the message after the header the benchmark's own log
format strips, what Drain is scored on) goes through :func:`tools.logs.signatures.group`:
one template per message, both stages over the 2,000 lines, one setting for every dataset.

Grouping ("parsing") accuracy as defined by Zhu et al., "Tools and Benchmarks for Automated
Log Parsing" (ICSE-SEIP 2019): a message counts as correct when the set of messages given
its template is exactly the set the ground truth gives its ``EventId``. Published Drain
average: 0.865.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATASETS = (
    "HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "HPC", "Thunderbird", "Windows",
    "Linux", "Android", "HealthApp", "Apache", "Proxifier", "OpenSSH", "OpenStack", "Mac",
)  # fmt: skip
DRAIN = {  # Drain's published loghub-2k accuracies (Zhu et al. 2019, table IV)
    "HDFS": 0.998, "Hadoop": 0.948, "Spark": 0.920, "Zookeeper": 0.967, "BGL": 0.963, "HPC": 0.887,
    "Thunderbird": 0.955, "Windows": 0.997, "Linux": 0.690, "Android": 0.911, "HealthApp": 0.780,
    "Apache": 1.000, "Proxifier": 0.527, "OpenSSH": 0.788, "OpenStack": 0.733, "Mac": 0.787,
}  # fmt: skip


def grouping_accuracy(truth: list[str], predicted: list[str]) -> float:
    """Share of messages whose predicted group is exactly one ground-truth group."""
    truth_sizes = Counter(truth)
    groups: dict[str, list[int]] = defaultdict(list)
    for index, template in enumerate(predicted):
        groups[template].append(index)
    correct = 0
    for members in groups.values():
        events = {truth[i] for i in members}
        if len(events) == 1 and truth_sizes[next(iter(events))] == len(members):
            correct += len(members)
    return correct / len(truth) if truth else 0.0


def load(folder: Path, name: str) -> tuple[list[str], list[str], list[bool]]:
    """``(messages, ground-truth event ids, whether the line's level is an error)`` of one dataset."""
    from tools.logs.levels import is_error, normalize

    path = folder / name / f"{name}_2k.log_structured.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    errors = [is_error(normalize(row.get("Level") or "")) for row in rows]
    return [row["Content"] for row in rows], [row["EventId"] for row in rows], errors


def score(folder: Path) -> list[dict[str, object]]:
    """One row per dataset: accuracy, templates found / in the ground truth, milliseconds."""
    from tools.logs.signatures import group

    rows = []
    for name in DATASETS:
        messages, truth, errors = load(folder, name)
        started = time.perf_counter()
        predicted = group(messages)
        elapsed = time.perf_counter() - started
        error_lines = [m for m, e in zip(messages, errors, strict=True) if e]
        error_truth = [t for t, e in zip(truth, errors, strict=True) if e]
        rows.append(
            {
                "dataset": name,
                "accuracy": round(grouping_accuracy(truth, predicted), 4),
                # error-level lines alone, grouped among themselves (what an incident's signatures are)
                "error_lines": len(error_lines),
                "error_accuracy": round(grouping_accuracy(error_truth, group(error_lines)), 4) if error_lines else None,
                "drain": DRAIN[name],
                "templates": len(set(predicted)),
                "truth_templates": len(set(truth)),
                "ms": round(elapsed * 1000, 1),
            }
        )
    return rows


def main() -> int:
    """Print the per-dataset table and the average (or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loghub", type=Path, help="a logpai/loghub checkout")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    missing = [n for n in DATASETS if not (args.loghub / n / f"{n}_2k.log_structured.csv").is_file()]
    if missing:
        print(f"loghub: no {missing[0]}/{missing[0]}_2k.log_structured.csv under {args.loghub}", file=sys.stderr)
        return 2
    rows = score(args.loghub)
    average = round(sum(float(str(r["accuracy"])) for r in rows) / len(rows), 4)
    if args.json:
        print(
            json.dumps({"datasets": rows, "average": average, "minimum": min(float(str(r["accuracy"])) for r in rows)})
        )
        return 0
    print(f"{'dataset':12} {'alertpilot':>10} {'Drain':>6} {'templates':>9} {'truth':>6} {'errors (lines)':>16}")
    for r in rows:
        errors = f"{r['error_accuracy']:.3f} ({r['error_lines']})" if r["error_accuracy"] is not None else "-"
        print(
            f"{r['dataset']:12} {r['accuracy']:>10.3f} {r['drain']:>6.3f} {r['templates']:>9} "
            f"{r['truth_templates']:>6} {errors:>16}"
        )
    print(f"{'average':12} {average:>10.3f} {sum(DRAIN.values()) / len(DRAIN):>6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
