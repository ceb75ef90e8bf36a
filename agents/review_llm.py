"""LLM mode of the release review: a model reads the top diffs with the analyzer findings as hints.

What a model may change is bounded in code, not in the prompt: it can reword an analyzer
finding (same PR, file, category, within a line) and add a finding on a line the PR
added, at a capped confidence. It cannot remove or re-score an analyzer finding, and a
finding on a file or line the PR did not touch is dropped. A failed model run keeps the
playbook result and says so in the notes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel, Field

from agents.llm_calls import ModelGate
from agents.llm_loop import run_agent
from agents.llm_scope import Scope
from prompts import read_prompt
from tools.analyzers import CodeFinding, added_lines
from tools.analyzers.base import Category
from tools.registry import ToolRegistry, ToolSession
from tools.release import SourceRouter, release_tools

MAX_DIFF_CHARS = 12_000
REVIEW_TOOLS = ["pull_request_read", "get_file_contents"]
MODEL_ONLY_CONFIDENCE = 0.5


class ReviewedFinding(BaseModel):
    """One finding as the model states it."""

    pr: int
    file: str
    line: int = Field(ge=1)
    category: Category
    problem: str = Field(max_length=600)
    fix: str = Field(max_length=600)
    confidence: float = Field(ge=0, le=1)


class ReviewAnswer(BaseModel):
    """The model's structured review."""

    findings: list[ReviewedFinding] = Field(default_factory=list)
    summary: str = ""


def _schemas(tools: Any) -> ToolRegistry:
    """A registry with the review tools' schemas (calls still go through the session)."""
    if isinstance(tools, ToolRegistry) and all(tools.has(n) for n in ("pull_request_read", "get_file_contents")):
        return tools
    return ToolRegistry(release_tools(SourceRouter(None)))


def build_task(outcome: Any) -> str:
    """The model's task: hints, then the diffs of the files with the most relevant findings first."""
    hints = "\n".join(
        f"- PR #{f.pr} {f.file}:{f.line} [{f.category}] {f.problem} (confidence {f.confidence:.2f})"
        for f in outcome.findings[:15]
    )
    suspects = [(s["pr"], s["file"]) for s in getattr(outcome, "suspects", [])]
    order = suspects + list(dict.fromkeys((f.pr, f.file) for f in outcome.findings)) + list(outcome.patches)
    parts, used = [], 0
    for key in dict.fromkeys(order):
        patch = outcome.patches.get(key)
        if not patch or used > MAX_DIFF_CHARS:
            continue
        chunk = f"### PR #{key[0]} {key[1]}\n{patch[: MAX_DIFF_CHARS - used]}"
        parts.append(chunk)
        used += len(chunk)
    release = outcome.release or {}
    return (
        f"Repository {outcome.repo}, release {release.get('tag')} (previous {release.get('previous_tag')}).\n"
        f"Analyzer hints:\n{hints or '- none'}\n\n<untrusted>\n" + "\n\n".join(parts) + "\n</untrusted>"
    )


def merge(outcome: Any, answer: ReviewAnswer) -> tuple[list[CodeFinding], int]:
    """Analyzer findings (reworded when the model confirms them) plus valid model-only findings."""
    findings = list(outcome.findings)
    dropped = 0
    for item in answer.findings:
        patch = outcome.patches.get((item.pr, item.file))
        if patch is None or item.line not in added_lines(patch):
            dropped += 1
            continue
        match = next(
            (
                i
                for i, f in enumerate(findings)
                if f.pr == item.pr
                and f.file == item.file
                and f.category == item.category
                and abs(f.line - item.line) <= 1
            ),
            None,
        )
        if match is not None:
            findings[match] = replace(findings[match], problem=item.problem, fix=item.fix)
            continue
        findings.append(
            CodeFinding(
                file=item.file,
                line=item.line,
                category=item.category,
                problem=item.problem,
                fix=item.fix,
                confidence=min(item.confidence, MODEL_ONLY_CONFIDENCE),
                rule="llm",
                pr=item.pr,
                relevance=min(item.confidence, MODEL_ONLY_CONFIDENCE),
            )
        )
    return findings, dropped


def llm_review(gate: ModelGate, tools: Any, session: ToolSession, outcome: Any) -> Any:
    """Run the model over the top diffs; merge its answer into ``outcome`` within the rules above."""
    run = run_agent(
        gate,
        _schemas(tools),
        session,
        REVIEW_TOOLS,
        read_prompt("review.md"),
        build_task(outcome),
        ReviewAnswer,
        scope=Scope(repo=outcome.repo),
    )
    if run.output is None:
        outcome.notes.append(f"model review unavailable ({run.error}); analyzer findings only")
        return outcome
    findings, dropped = merge(outcome, run.output)
    scored = {(f.pr, f.file, f.line, f.category): f.relevance for f in outcome.findings}
    kept = [replace(f, relevance=scored.get((f.pr, f.file, f.line, f.category), f.relevance)) for f in findings]
    outcome.findings = sorted(kept, key=lambda f: (-f.relevance, -f.confidence, f.pr or 0, f.file, f.line))
    note = f"model reviewed {len(outcome.patches)} diffs"
    outcome.notes.append(note + (f"; dropped {dropped} model findings off the added lines" if dropped else ""))
    return outcome
