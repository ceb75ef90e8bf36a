"""Report writer: turn triage, findings, diagnosis and review into the four-section report."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime

from agents.deps import Deps, NodeUpdate
from state.incident import IncidentState
from state.policy import Policy
from state.report import Report, ReportSections, render_content

Language = Literal["zh", "en"]


def _overview(state: IncidentState, lang: Language) -> str:
    alert, triage = state.alert, state.triage
    subject = alert.service or alert.workload or alert.name
    score = f"{triage.score}/{triage.tier}/{triage.budget}" if triage else "-"
    started = f"{alert.starts_at:%Y-%m-%d %H:%M:%S}Z"
    if lang == "zh":
        return (
            f"{started} 起，{subject} 触发告警「{alert.name}」（级别 {alert.severity}，来源 {alert.source}）。"
            f"{alert.summary}。分诊评分/等级/尝试预算：{score}。"
        )
    return (
        f"Since {started}, {subject} fires '{alert.name}' (severity {alert.severity}, "
        f"source {alert.source}). {alert.summary}. Triage score/tier/budget: {score}."
    )


def _root_cause(state: IncidentState, lang: Language) -> str:
    diagnosis = state.diagnosis
    notable = [f for f in state.findings if f.severity != "info"] or state.findings
    evidence = "；".join(f.title for f in notable[:5]) if lang == "zh" else "; ".join(f.title for f in notable[:5])
    review = state.review
    review_text = ""
    if review and review.status == "reviewed" and review.findings:
        top = review.findings[0]
        review_text = (
            f" 代码审查：PR #{top.get('pr')} {top.get('file')}:{top.get('line')} {top.get('problem')}。"
            if lang == "zh"
            else f" Code review: PR #{top.get('pr')} {top.get('file')}:{top.get('line')} {top.get('problem')}."
        )
    if diagnosis is None:
        return "诊断未完成。" if lang == "zh" else "Diagnosis did not complete."
    confidence = f"{diagnosis.release_confidence:.0%}"
    if lang == "zh":
        cause = (
            f"{diagnosis.root_cause}（置信度 {confidence}）" if diagnosis.suspected_release else diagnosis.root_cause
        )
        return f"{diagnosis.summary}。根因：{cause}。证据：{evidence or '无'}。{review_text}".strip()
    cause = f"{diagnosis.root_cause} (confidence {confidence})" if diagnosis.suspected_release else diagnosis.root_cause
    return f"{diagnosis.summary}. Root cause: {cause}. Evidence: {evidence or 'none'}.{review_text}"


def _impact(state: IncidentState, lang: Language) -> str:
    alert = state.alert
    scope = ", ".join(
        f"{k}={v}"
        for k, v in {
            "cluster": alert.cluster,
            "namespace": alert.namespace,
            "workload": alert.workload,
            "pod": alert.pod,
        }.items()
        if v
    )
    value = state.diagnosis.signal_value if state.diagnosis else None
    dims = state.triage.dimensions if state.triage else {}
    if lang == "zh":
        return f"范围：{scope or '未知'}；当前信号值：{value if value is not None else '未知'}；影响维度：{dims}。"
    return f"Scope: {scope or 'unknown'}; signal now: {value if value is not None else 'unknown'}; dimensions: {dims}."


def _solution(state: IncidentState, policy: Policy, lang: Language) -> str:
    triage = state.triage
    if triage is None or not triage.actionable:
        return "无需处置，仅记录。" if lang == "zh" else "No action needed; recorded for the briefing."
    steps = [r for r in policy.ladder][: triage.budget]
    ladder = " → ".join(r.name for r in steps)
    target = state.diagnosis.known_good_release if state.diagnosis else None
    if lang == "zh":
        hint = (
            f"优先回滚至 {target}。"
            if target and state.diagnosis and state.diagnosis.release_confidence >= policy.release_confidence
            else ""
        )
        return f"{hint}按渐进式阶梯处置（预算 {triage.budget} 次）：{ladder}；每步后验证告警信号，未恢复则升级至人工。"
    hint = (
        f"Roll back to {target} first. "
        if target and state.diagnosis and state.diagnosis.release_confidence >= policy.release_confidence
        else ""
    )
    return (
        f"{hint}Progressive ladder (budget {triage.budget}): {ladder}; "
        "verify the alert's signal after each step, escalate to a human if it persists."
    )


def write_report(state: IncidentState, policy: Policy, language: Language) -> Report:
    """The report for ``state`` in ``language``; ``promQL`` lists queries behind notable findings."""
    sections = ReportSections(
        overview=_overview(state, language),
        root_cause=_root_cause(state, language),
        impact=_impact(state, language),
        solution=_solution(state, policy, language),
    )
    queries: list[str] = []
    for finding in state.findings:
        if finding.query and finding.severity != "info" and finding.query not in queries:
            queries.append(finding.query)
    return Report(
        status="completed",
        language=language,
        prom_ql=queries,
        content=render_content(sections, language),
        sections=sections,
        evidence=[f.model_dump(mode="json") for f in state.findings],
    )


def report(state: IncidentState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Write the one report of the incident before anything is changed."""
    deps = runtime.context
    try:
        result = write_report(state, deps.settings.policy, deps.settings.language)
    except (ValueError, KeyError, TypeError) as exc:
        result = Report(status="failed", language=deps.settings.language, error=str(exc))
    deps.on_event("report", result.public())
    update = NodeUpdate(state, deps, "report")
    update.decide(f"report {result.status}")
    return update.build(report=result)
