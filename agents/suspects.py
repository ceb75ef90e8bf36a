"""Suspect ranking: which PR and file of a release the incident's own evidence points at, bug pattern or not.

Evidence comes from the incident, never from the PR's prose: stack frames and error
signatures (alert text, log findings' ``evidence.chain``), the failing endpoint and metric
(alert labels, metric findings' queries), and the names the diagnosis gives (entities, config
keys, dependencies). Each changed file scores by what of that its path or its added lines
contain; analyzer findings in the file add their confidence. The top suspect is reported with
the evidence for it even when no analyzer rule fired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from state.incident import IncidentState
from tools.analyzers import added_lines
from tools.analyzers.correlate import IncidentContext

_PATH = re.compile(r"(?<![\w/])/(?:[\w.-]+/)*[\w.-]+")
_METRIC = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{|\[|\()")
_KEY = re.compile(r"\b[a-zA-Z][\w-]*(?:[._][a-zA-Z][\w-]*)+\b")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{3,}")
_ENDPOINT_LABELS = ("handler", "path", "route", "uri", "endpoint", "url")
_COMMON = {"error", "errors", "failed", "failure", "exception", "timeout", "request", "response", "none", "null"}


@dataclass(frozen=True)
class Evidence:
    """What the incident says, reduced to strings a diff can contain."""

    context: IncidentContext = field(default_factory=IncidentContext)
    endpoints: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    words: tuple[str, ...] = ()


def evidence_of(state: IncidentState, context: IncidentContext) -> Evidence:
    """Endpoints, metrics, diagnosis names and error-signature words of the incident."""
    alert = state.alert
    endpoints = [v for k, v in alert.labels.items() if k in _ENDPOINT_LABELS and v.startswith("/")]
    texts = [alert.summary, *alert.annotations.values()]
    metrics: list[str] = []
    words: list[str] = []
    for finding in state.findings:
        chain = finding.evidence.get("chain") if isinstance(finding.evidence, dict) else None
        for item in chain if isinstance(chain, list) else []:
            if isinstance(item, dict):
                words += _TOKEN.findall(f"{item.get('signature', '')} {item.get('example', '')}")
                texts.append(str(item.get("example", "")))
        if finding.query:
            metrics += [m for m in _METRIC.findall(finding.query) if m not in ("sum", "rate", "by", "increase")]
    names: list[str] = []
    if state.diagnosis is not None:
        names += [e for e in state.diagnosis.entities if e]
        names += _KEY.findall(state.diagnosis.root_cause)
    endpoints += [p for t in texts for p in _PATH.findall(t) if len(p) > 2 and "." not in p[-5:]]
    return Evidence(
        context=context,
        endpoints=tuple(dict.fromkeys(endpoints)),
        metrics=tuple(dict.fromkeys(metrics)),
        names=tuple(dict.fromkeys(n for n in names if len(n) > 3)),
        words=tuple(dict.fromkeys(w for w in words if w.lower() not in _COMMON)),
    )


def _frame_score(path: str, added: dict[int, str], evidence: Evidence) -> tuple[float, list[str]]:
    score, why = 0.0, []
    for frame in evidence.context.frames:
        frame_path = PurePosixPath(frame.file.replace("\\", "/"))
        if frame_path.name == PurePosixPath(path).name and (
            path.endswith(str(frame_path)) or str(frame_path).endswith(path) or len(frame_path.parts) == 1
        ):
            score += 3.0
            why.append(f"stack frame {frame.file}:{frame.line}")
            if any(abs(frame.line - n) <= 3 for n in added):
                score += 1.0
                why.append(f"frame line {frame.line} is a changed line")
            break
    return score, why


def score_file(path: str, patch: str, findings: list[Any], evidence: Evidence, service: str | None) -> dict[str, Any]:
    """One changed file's suspicion score and the evidence behind it."""
    added = added_lines(patch)
    text = "\n".join(added.values())
    score, why = _frame_score(path, added, evidence)
    for endpoint in evidence.endpoints:
        if endpoint in text:
            score += 2.0
            why.append(f"adds code for endpoint {endpoint}")
    for metric in evidence.metrics:
        if metric in text:
            score += 1.5
            why.append(f"touches metric {metric}")
    for name in evidence.names:
        if name in text or name.lower() in path.lower():
            score += 1.5
            why.append(f"names {name} (from the diagnosis)")
    matched = [w for w in evidence.words if re.search(rf"\b{re.escape(w)}\b", text)]
    if matched:
        score += min(2.0, 0.5 * len(matched))
        why.append("error signature words in the change: " + ", ".join(matched[:5]))
    if service and service.lower() in path.lower():
        score += 0.5
        why.append(f"path names the service {service}")
    for finding in findings:
        score += finding.confidence
        why.append(f"{finding.category} finding at line {finding.line}")
    return {"file": path, "score": round(score, 2), "evidence": why}


def rank_suspects(outcome: Any, evidence: Evidence, service: str | None = None, top: int = 5) -> list[dict[str, Any]]:
    """The release's changed files (with their PR), most suspect first; ties keep PR order."""
    by_file: dict[tuple[int, str], list[Any]] = {}
    for finding in outcome.findings:
        by_file.setdefault((finding.pr, finding.file), []).append(finding)
    rows = []
    for (pr, path), patch in outcome.patches.items():
        row = score_file(path, patch, by_file.get((pr, path), []), evidence, service)
        rows.append({"pr": pr, **row})
    rows.sort(key=lambda r: (-r["score"], r["pr"], r["file"]))
    return [r for r in rows if r["score"] > 0][:top]
