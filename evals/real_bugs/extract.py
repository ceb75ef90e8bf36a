"""Build one real-bug case from a fetched mirror: the fix commit's lines, blamed back to the change that introduced them.

    python evals/real_bugs/extract.py GIT_DIR FIX_SHA PATH CASE_NAME [--intro SHA] [--line N ...]

``GIT_DIR`` is a bare clone (the research tool's mirror). The buggy lines are the lines the
fix commit removed or changed in ``PATH`` (or, for a fix that only inserts, the line after the
insertion), blamed at the fix's parent: the commit that wrote them is the bug-introducing
change. The case directory gets ``before/`` and ``after/`` copies of every source file that
commit changed (the buggy file and its clean siblings), ``fixed/`` with the buggy file at the
fix, and a ``case.yaml`` to be completed by hand (category, licence, issue). Nothing else of
the repository is copied.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tools.analyzers import is_test_file  # noqa: E402

SOURCE_SUFFIXES = (".py", ".go", ".java", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx")


def git(git_dir: str, *args: str) -> str:
    """Output of ``git --git-dir=GIT_DIR args``."""
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True).stdout


def show(git_dir: str, sha: str, path: str) -> str | None:
    """``path`` at ``sha``, or None when it does not exist there."""
    done = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{sha}:{path}"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def fix_targets(git_dir: str, fix: str, path: str) -> list[int]:
    """Lines of ``path`` at the fix's parent that the fix removed (or the line after a pure insertion)."""
    targets: list[int] = []
    old = 0
    removed_in_hunk = False
    for raw in git(git_dir, "diff", "-U0", f"{fix}^", fix, "--", path).splitlines():
        if raw.startswith("@@"):
            spec = raw.split()[1][1:]
            start, _, count = spec.partition(",")
            old = int(start)
            removed_in_hunk = count != "0"
            if not removed_in_hunk:
                targets.append(old + 1)
        elif raw.startswith("-") and not raw.startswith("---"):
            targets.append(old)
            old += 1
    return targets


def blame(git_dir: str, sha: str, path: str, lines: list[int]) -> list[tuple[str, int]]:
    """(commit, line in that commit) for each line of ``path`` at ``sha``."""
    found = []
    for line in lines:
        out = git(git_dir, "blame", "--porcelain", "-L", f"{line},{line}", sha, "--", path)
        head = out.splitlines()[0].split()
        found.append((head[0], int(head[1])))
    return found


def write_case(git_dir: str, fix: str, path: str, name: str, intro: str | None, lines: list[int]) -> Path:
    """Write the case directory; returns it."""
    targets = lines or fix_targets(git_dir, fix, path)
    blamed = blame(git_dir, f"{fix}^", path, targets)
    intro = git(git_dir, "rev-parse", intro).strip() if intro else Counter(c for c, _ in blamed).most_common(1)[0][0]
    bug_lines = sorted({n for c, n in blamed if c == intro})
    changed = [
        p
        for p in git(git_dir, "diff", "--name-only", f"{intro}^", intro).splitlines()
        if p.endswith(SOURCE_SUFFIXES) and not is_test_file(p)
    ]
    case = HERE / name
    for folder, sha, paths in (("before", f"{intro}^", changed), ("after", intro, changed), ("fixed", fix, [path])):
        for rel in paths:
            text = show(git_dir, sha, rel)
            if text is not None:
                target = case / folder / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    meta = {
        "repo": "",
        "license": "",
        "issue": "",
        "introduced": git(git_dir, "rev-parse", intro).strip(),
        "fixed": git(git_dir, "rev-parse", fix).strip(),
        "language": "",
        "bugs": [{"file": path, "lines": bug_lines, "category": ""}],
        "files": changed,
        "note": "",
    }
    (case / "case.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("git_dir")
    parser.add_argument("fix")
    parser.add_argument("path")
    parser.add_argument("name")
    parser.add_argument("--intro")
    parser.add_argument("--line", type=int, action="append", default=[])
    args = parser.parse_args()
    case = write_case(args.git_dir, args.fix, args.path, args.name, args.intro, args.line)
    print(case, file=sys.stderr)
    print((case / "case.yaml").read_text())


if __name__ == "__main__":
    main()
