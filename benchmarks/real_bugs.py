"""Recall, precision and false-positive rate of the analyzers on real bug-introducing changes (evals/real_bugs).

Each case holds the files a public pull request changed, before and after it (``before/``,
``after/``), the bug's file at its fix (``fixed/``) and ``case.yaml`` (repository, commits,
licence, bug lines and category). The PR's diff is rebuilt from before/after, so only the
lines that PR added can be blamed, as in a real review.

- recall: bug sites (a file's bug lines) with a finding within ``--tolerance`` lines;
- precision: findings on bug lines / (those + findings on the PR's clean files);
- strict precision also counts findings on the buggy files' other lines;
- false positives per 10k changed lines: findings on the lines the *fix* changed (a real,
  clean change of the same code), per 10,000 added lines.

    python benchmarks/real_bugs.py [--json] [--tolerance 1]
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.analyzers import CodeFinding, added_lines, analyze_file  # noqa: E402

CORPUS = ROOT / "evals" / "real_bugs"


def patch_of(before: str, after: str) -> str:
    """The unified diff (hunks only) that turns ``before`` into ``after``."""
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True), n=3))
    return diff[diff.find("@@") :] if "@@" in diff else ""


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def _review(case: Path, rel: str, before: str, after: str) -> tuple[list[CodeFinding], int]:
    patch = patch_of(before, after)
    return analyze_file(rel, patch, after), len(added_lines(patch))


def score_case(case: Path, tolerance: int = 1) -> dict[str, Any]:
    """One case's hits, misses and false positives."""
    meta = yaml.safe_load((case / "case.yaml").read_text())
    bugs = {b["file"]: b for b in meta["bugs"]}
    row: dict[str, Any] = {"case": case.name, "language": meta["language"], "repo": meta["repo"], "sites": []}
    row.update(clean_findings=0, other_findings=0, hits=0, fix_lines=0, fix_findings=0, changed_lines=0)
    for rel in meta["files"]:
        found, changed = _review(case, rel, _read(case / "before" / rel), _read(case / "after" / rel))
        row["changed_lines"] += changed
        bug = bugs.get(rel)
        if bug is None:
            row["clean_findings"] += len(found)
            continue
        near = [f for f in found if any(abs(f.line - line) <= tolerance for line in bug["lines"])]
        row["sites"].append(
            {
                "file": rel,
                "lines": bug["lines"],
                "category": bug["category"],
                "found": bool(near),
                "category_match": any(f.category == bug["category"] for f in near),
                "findings": [f"{f.line}:{f.category}:{f.rule}" for f in found],
            }
        )
        row["hits"] += len(near)
        row["other_findings"] += len(found) - len(near)
        fixed = next((p for p in (case / "fixed").rglob("*") if p.is_file()), None)
        if fixed is not None:
            fix_found, fix_changed = _review(case, rel, _read(case / "after" / rel), fixed.read_text())
            row["fix_lines"] += fix_changed
            row["fix_findings"] += len(fix_found)
    return row


def evaluate(corpus: Path = CORPUS, tolerance: int = 1) -> dict[str, Any]:
    """Every case, and the totals the README reports."""
    rows = [score_case(c, tolerance) for c in sorted(corpus.iterdir()) if (c / "case.yaml").is_file()]
    sites = [s for r in rows for s in r["sites"]]
    hits = sum(r["hits"] for r in rows)
    clean = sum(r["clean_findings"] for r in rows)
    other = sum(r["other_findings"] for r in rows)
    fix_lines = sum(r["fix_lines"] for r in rows)
    fix_findings = sum(r["fix_findings"] for r in rows)
    totals = {
        "cases": len(rows),
        "bug_sites": len(sites),
        "found": sum(s["found"] for s in sites),
        "recall": round(sum(s["found"] for s in sites) / len(sites), 3) if sites else 0.0,
        "precision": round(hits / (hits + clean), 3) if hits + clean else 1.0,
        "strict_precision": round(hits / (hits + clean + other), 3) if hits + clean + other else 1.0,
        "clean_file_findings": clean,
        "other_findings_in_buggy_files": other,
        "fix_changed_lines": fix_lines,
        "fix_findings": fix_findings,
        "fp_per_10k_changed_lines": round(fix_findings * 10_000 / fix_lines, 1) if fix_lines else 0.0,
        "pr_changed_lines": sum(r["changed_lines"] for r in rows),
    }
    return {"totals": totals, "cases": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tolerance", type=int, default=1)
    args = parser.parse_args()
    result = evaluate(tolerance=args.tolerance)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'case':<30} {'lang':<11} {'repo':<30} bug found")
    for row in result["cases"]:
        found = " ".join("yes" if s["found"] else "no" for s in row["sites"])
        print(f"{row['case']:<30} {row['language']:<11} {row['repo']:<30} {found}")
    t = result["totals"]
    print(
        f"TOTAL {t['cases']} changes, {t['bug_sites']} bug sites: recall {t['recall']:.2f} ({t['found']}), "
        f"precision {t['precision']:.2f} (strict {t['strict_precision']:.2f}; clean-file findings "
        f"{t['clean_file_findings']}, other {t['other_findings_in_buggy_files']}), "
        f"FP {t['fp_per_10k_changed_lines']}/10k changed lines "
        f"({t['fix_findings']} on {t['fix_changed_lines']} fix lines)"
    )


if __name__ == "__main__":
    main()
