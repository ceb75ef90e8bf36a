"""Release review core (no graph imports): release → PRs → files → analyzers → ranked findings.

Used by the graph's review node (agents/pr_review.py) and by ``alertpilot review``.

Release (by tag, else the latest) → its pull requests (from the notes, else comparing the
previous tag) → each PR's files and patches → the deterministic analyzers on the lines the
PR added → findings ranked by how well they match the incident (service, stack frames,
error signatures). With a model, it reviews the top diffs with the analyzer findings as
hints; it may reword a finding or add one on an added line, never drop or re-score one.
The PR's own prose is never an input to the analyzers, so instructions hidden in a PR
body or diff cannot change what is found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agents.suspects import Evidence, rank_suspects
from state.incident import Finding, IncidentState
from tools.analyzers import CodeFinding, analyze_file, is_test_file, language_of
from tools.analyzers.correlate import IncidentContext, rank
from tools.registry import ToolSession

MAX_PULLS = 20
MAX_FILES_PER_PULL = 60


@dataclass
class ReviewOutcome:
    """Everything one review produced (the JSON of ``alertpilot review``)."""

    repo: str
    release: dict[str, Any] | None = None
    pulls: list[dict[str, Any]] = field(default_factory=list)
    findings: list[CodeFinding] = field(default_factory=list)
    error: str = ""
    notes: list[str] = field(default_factory=list)
    suspects: list[dict[str, Any]] = field(default_factory=list)
    heads: dict[str, str] = field(default_factory=dict, repr=False)
    patches: dict[tuple[int, str], str] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """``{"release": ..., "pulls": [...], "findings": [...]}`` (+ error/notes when present)."""
        doc: dict[str, Any] = {
            "repo": self.repo,
            "release": self.release,
            "pulls": self.pulls,
            "findings": [f.as_dict() for f in self.findings],
        }
        if self.suspects:
            doc["suspects"] = self.suspects
        if self.error:
            doc["error"] = self.error
        if self.notes:
            doc["notes"] = self.notes
        return doc


def _alternate_tag(tag: str) -> str:
    return tag[1:] if tag[:1] in ("v", "V") and tag[1:2].isdigit() else f"v{tag}"


def find_release(session: ToolSession, owner: str, name: str, tag: str | None) -> tuple[dict[str, Any] | None, str]:
    """The release by tag (also trying the tag with/without a ``v``), or the latest when no tag is named."""
    if tag is None:
        result = session.call("get_latest_release", owner=owner, repo=name)
        return (result.data, "") if result.ok else (None, result.error)
    result = session.call("get_release_by_tag", owner=owner, repo=name, tag=tag)
    if not result.ok and "not found" in result.error:
        retry = session.call("get_release_by_tag", owner=owner, repo=name, tag=_alternate_tag(tag))
        if retry.ok:
            return retry.data, ""
    return (result.data, "") if result.ok else (None, result.error)


def _review_pull(session: ToolSession, outcome: ReviewOutcome, owner: str, name: str, number: int) -> None:
    meta = session.call("pull_request_read", method="get", owner=owner, repo=name, pullNumber=number)
    if not meta.ok:
        outcome.notes.append(f"PR #{number}: {meta.error}")
        return
    files = session.call("pull_request_read", method="get_files", owner=owner, repo=name, pullNumber=number)
    if not files.ok:
        outcome.notes.append(f"PR #{number} files: {files.error}")
        return
    analyzed = []
    for item in files.data[:MAX_FILES_PER_PULL]:
        path = item["filename"]
        if item.get("status") == "removed" or language_of(path) is None or is_test_file(path):
            continue
        head = item.get("content")
        if head is None:
            got = session.call("get_file_contents", owner=owner, repo=name, path=path, ref=meta.data["head_sha"])
            head = got.data if got.ok else None
        complete = bool(item.get("patch_complete", True))
        found = analyze_file(path, item.get("patch"), head, patch_complete=complete)
        outcome.findings.extend(f.with_pr(number) for f in found)
        outcome.heads[path] = head or ""
        outcome.patches[(number, path)] = item.get("patch") or ""
        analyzed.append(path)
    outcome.pulls.append(
        {
            "number": number,
            "title": meta.data.get("title", ""),
            "author": meta.data.get("author", ""),
            "url": meta.data.get("url", ""),
            "merged_at": meta.data.get("merged_at"),
            "head_sha": meta.data.get("head_sha", ""),
            "files": [f["filename"] for f in files.data],
            "analyzed": analyzed,
        }
    )


def review_release(
    session: ToolSession,
    repo: str,
    tag: str | None,
    context: IncidentContext | None = None,
    evidence: Evidence | None = None,
) -> ReviewOutcome:
    """The offline playbook: release → PRs → files → analyzers → ranked findings."""
    outcome = ReviewOutcome(repo=repo)
    owner, _, name = repo.partition("/")
    if not owner or not name:
        outcome.error = f"repo: expected OWNER/NAME, got {repo!r}"
        return outcome
    release, error = find_release(session, owner, name, tag)
    if release is None:
        outcome.error = error
        return outcome
    outcome.release = {k: release.get(k) for k in ("tag", "name", "url", "published_at", "previous_tag", "pulls_from")}
    outcome.release["pulls"] = release.get("pulls", [])
    for number in release.get("pulls", [])[:MAX_PULLS]:
        _review_pull(session, outcome, owner, name, number)
    if len(release.get("pulls", [])) > MAX_PULLS:
        outcome.notes.append(f"reviewed the first {MAX_PULLS} of {len(release['pulls'])} pull requests")
    outcome.findings = rank(outcome.findings, context or IncidentContext(), outcome.heads)
    outcome.suspects = rank_suspects(outcome, evidence or Evidence(context=context or IncidentContext()))
    return outcome


def incident_context(state: IncidentState) -> IncidentContext:
    """Service, stack frames and error signatures from the alert, the findings and the diagnosis."""
    alert = state.alert
    texts = [alert.summary, *alert.annotations.values(), *alert.labels.values()]
    for finding in state.findings:
        texts += [finding.title, finding.detail, json.dumps(finding.evidence, default=str)]
    if state.diagnosis:
        texts += [state.diagnosis.summary, state.diagnosis.root_cause]
    return IncidentContext.from_texts(alert.service or alert.workload, [t for t in texts if t])


def code_findings(outcome: ReviewOutcome, top: int = 3) -> list[Finding]:
    """The most suspect change, then the top findings, as incident evidence (kind ``code``)."""
    suspect = [
        Finding(
            kind="code",
            title=f"Most suspect change: PR #{s['pr']} {s['file']}",
            detail="; ".join(s["evidence"]),
            severity="warning",
            evidence={"suspect": s},
        )
        for s in outcome.suspects[:1]
    ]
    return suspect + [
        Finding(
            kind="code",
            title=f"PR #{f.pr} {f.file}:{f.line} {f.category}",
            detail=f"{f.problem} Fix: {f.fix}",
            severity="critical" if f.relevance >= 0.9 else "warning",
            evidence=f.as_dict(),
        )
        for f in outcome.findings[:top]
    ]
