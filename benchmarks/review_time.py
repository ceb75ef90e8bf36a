"""Review time for a 50-file release: release → PRs → files → analyzers → ranking → suspects, in process.

The release is built from the real files of evals/real_bugs (their PR diffs, ten PRs of five
files), served by an in-memory source through the same tool registry the review node uses.
Target: under 5 s per release (`--runs` releases are timed; the median is reported).

    python benchmarks/review_time.py [--files 50] [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.review_core import review_release  # noqa: E402
from benchmarks.real_bugs import CORPUS, patch_of  # noqa: E402
from tools.registry import ToolRegistry, ToolSession  # noqa: E402
from tools.release import PullFile, PullInfo, ReleaseInfo, SourceRouter, release_tools  # noqa: E402

TARGET_S = 5.0


@dataclass
class CorpusRelease:
    """One release whose PRs carry the corpus files (path, patch, head)."""

    pulls: dict[int, list[tuple[str, str, str]]] = field(default_factory=dict)

    def release(self, repo: str, tag: str | None) -> ReleaseInfo:
        return ReleaseInfo(repo=repo, tag="v1.0", body="", previous_tag="v0.9", pulls=sorted(self.pulls))

    def pull(self, repo: str, number: int) -> PullInfo:
        return PullInfo(number=number, title=f"PR {number}", head_sha="a" * 40)

    def pull_files(self, repo: str, number: int) -> list[PullFile]:
        return [PullFile(filename=p, patch=patch, content=head) for p, patch, head in self.pulls[number]]

    def pull_diff(self, repo: str, number: int) -> str:
        return "\n".join(patch for _, patch, _ in self.pulls[number])

    def file_at(self, repo: str, path: str, ref: str) -> str:
        return next(head for items in self.pulls.values() for p, _, head in items if p == path)


def corpus_files(count: int) -> list[tuple[str, str, str]]:
    """``count`` (path, patch, head) triples from the real-bug corpus (repeated with a prefix if short)."""
    files = []
    for case in sorted(p for p in CORPUS.iterdir() if (p / "case.yaml").is_file()):
        for rel in yaml.safe_load((case / "case.yaml").read_text())["files"]:
            after = case / "after" / rel
            if after.is_file():
                before = case / "before" / rel
                files.append(
                    (
                        rel,
                        patch_of(before.read_text() if before.is_file() else "", after.read_text()),
                        after.read_text(),
                    )
                )
    out = []
    while len(out) < count:
        out += [(f"r{len(out) // max(len(files), 1)}/{p}", patch, head) for p, patch, head in files]
    return out[:count]


def run(files: int = 50, runs: int = 3) -> dict[str, object]:
    """Median seconds per release review of ``files`` files."""
    chosen = corpus_files(files)
    source = CorpusRelease({100 + i // 5: [] for i in range(files)})
    for index, item in enumerate(chosen):
        source.pulls[100 + index // 5].append(item)
    registry = ToolRegistry(release_tools(SourceRouter(lambda: source)))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        outcome = review_release(ToolSession(registry, agent="review"), "acme/shop", "v1.0")
        times.append(time.perf_counter() - start)
    lines = sum(len(head.splitlines()) for _, _, head in chosen)
    return {
        "files": files,
        "lines": lines,
        "pulls": len(source.pulls),
        "runs": runs,
        "median_s": round(statistics.median(times), 3),
        "target_s": TARGET_S,
        "findings": len(outcome.findings),
        "ok": statistics.median(times) < TARGET_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.files, args.runs)
    print(
        json.dumps(result)
        if args.json
        else f"{result['files']} files ({result['lines']} lines, {result['pulls']} PRs): median {result['median_s']} s "
        f"per release (target < {TARGET_S} s), {result['findings']} findings"
    )


if __name__ == "__main__":
    main()
