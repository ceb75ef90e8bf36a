"""Precision and recall of the deterministic analyzers on evals/review_corpus.

Each case directory holds ``change.diff`` (the PR's diff of one file), ``head.txt`` (that
file at the PR's head) and ``case.yaml`` (file path, expected findings as line + category).
A finding is a true positive when an expected bug has the same category within
``--tolerance`` lines; every other finding is a false positive.

    python benchmarks/review_corpus.py [--json] [--tolerance 1]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.analyzers import analyze_file, language_of  # noqa: E402

CORPUS = ROOT / "evals" / "review_corpus"


def evaluate(corpus: Path = CORPUS, tolerance: int = 1) -> dict[str, object]:
    """Score every case; returns totals, per-language and per-case rows."""
    rows = []
    for case_dir in sorted(p for p in corpus.iterdir() if (p / "case.yaml").is_file()):
        meta = yaml.safe_load((case_dir / "case.yaml").read_text())
        diff = (case_dir / "change.diff").read_text()
        patch = diff[diff.find("\n@@") + 1 :]
        findings = analyze_file(meta["file"], patch, (case_dir / "head.txt").read_text())
        expected = meta.get("expected") or []
        hit_expected = set()
        true_pos = 0
        for finding in findings:
            match = next(
                (
                    i
                    for i, e in enumerate(expected)
                    if i not in hit_expected
                    and e["category"] == finding.category
                    and abs(e["line"] - finding.line) <= tolerance
                ),
                None,
            )
            if match is not None:
                hit_expected.add(match)
                true_pos += 1
        rows.append(
            {
                "case": case_dir.name,
                "language": language_of(meta["file"]),
                "buggy": bool(expected),
                "expected": len(expected),
                "found": len(findings),
                "tp": true_pos,
                "fp": len(findings) - true_pos,
                "fn": len(expected) - len(hit_expected),
                "findings": [f"{f.line}:{f.category}:{f.rule}" for f in findings],
            }
        )
    return {"totals": _totals(rows), "by_language": _by_language(rows), "cases": rows}


def _totals(rows: list[dict[str, object]]) -> dict[str, float | int]:
    tp = sum(int(r["tp"]) for r in rows)  # type: ignore[call-overload]
    fp = sum(int(r["fp"]) for r in rows)  # type: ignore[call-overload]
    fn = sum(int(r["fn"]) for r in rows)  # type: ignore[call-overload]
    clean = [r for r in rows if not r["buggy"]]
    buggy = [r for r in rows if r["buggy"]]
    return {
        "cases": len(rows),
        "buggy_cases": len(buggy),
        "clean_cases": len(clean),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
        "clean_cases_flagged": sum(1 for r in clean if r["found"]),
        "buggy_cases_caught": sum(1 for r in buggy if r["tp"]),
    }


def _by_language(rows: list[dict[str, object]]) -> dict[str, dict[str, float | int]]:
    languages = sorted({str(r["language"]) for r in rows})
    return {lang: _totals([r for r in rows if r["language"] == lang]) for lang in languages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tolerance", type=int, default=1)
    args = parser.parse_args()
    result = evaluate(tolerance=args.tolerance)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for row in result["cases"]:  # type: ignore[union-attr]
        flag = "ok " if not row["fp"] and not row["fn"] else "!! "
        print(f"{flag}{row['case']:<20} tp={row['tp']} fp={row['fp']} fn={row['fn']}  {row['findings']}")
    for lang, totals in result["by_language"].items():  # type: ignore[union-attr]
        print(f"{lang:<11} precision {totals['precision']:.2f}  recall {totals['recall']:.2f}")
    totals = result["totals"]
    print(
        f"TOTAL {totals['cases']} cases ({totals['buggy_cases']} buggy, {totals['clean_cases']} clean): "
        f"precision {totals['precision']:.3f}  recall {totals['recall']:.3f}  "
        f"(tp {totals['tp']}, fp {totals['fp']}, fn {totals['fn']}; clean flagged {totals['clean_cases_flagged']})"
    )


if __name__ == "__main__":
    main()
