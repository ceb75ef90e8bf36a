"""Report writer: the four-section report, verdict first, every claim citing its evidence.

【问题概述】 opens with the verdict (cause found / unresolved / noise) and the cause's kind;
【根因分析】 states each claim with the numbers of the evidence it rests on, then lists that
evidence; 【影响范围】 the subject, the signal now against its threshold and baseline, the
triage dimensions; 【解决方案】 what the ladder will do for this cause, or why it changes
nothing. All of it is composed from structured data in the report's language
(agents/report_text.py).
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from agents.changes import link_text
from agents.cloud_signal import CloudSignal
from agents.deps import Deps, NodeUpdate
from agents.recall import order_sentence, sentence
from agents.report_text import (
    DIMENSIONS,
    OPERATIONS,
    PATTERNS,
    SEVERITIES,
    VERDICTS,
    Language,
    describe,
    fmt,
    join,
    quote,
    subject_words,
    unit_of,
    when,
    word,
)
from agents.rollback import hypothesis, known_good, ladder_order, rung_sequence
from state.config import Settings
from state.incident import Diagnosis, Finding, IncidentState
from state.report import Report, ReportSections, render_content

EVIDENCE_KINDS = ("metric", "release", "log", "event", "audit", "code")
MAX_EVIDENCE = 8


def _zh(lang: Language, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _overview(state: IncidentState, lang: Language) -> str:
    alert, triage, diagnosis = state.alert, state.triage, state.diagnosis
    if triage is not None and not triage.actionable:
        verdict = _zh(
            lang,
            f"结论：无需处置（告警{alert.status == 'resolved' and '已恢复' or '为提示级别'}）。",
            f"Verdict: no action ({'resolved' if alert.status == 'resolved' else 'informational'} alert). ",
        )
    elif diagnosis is not None:
        kind = word(PATTERNS, diagnosis.pattern, lang)
        verdict = _zh(
            lang,
            f"结论：{word(VERDICTS, diagnosis.verdict, lang)}（{kind}）。",
            f"Verdict: {word(VERDICTS, diagnosis.verdict, lang)} ({kind}). ",
        )
    else:
        verdict = _zh(lang, "结论：诊断未完成。", "Verdict: diagnosis did not complete. ")
    subject = subject_words(alert.subject, lang)
    severity = word(SEVERITIES, alert.severity, lang)
    summary = f"：{quote(alert.summary, lang)}" if alert.summary and lang == "zh" else ""
    summary = summary or (f": {quote(alert.summary, lang)}" if alert.summary else "")
    scored = ""
    if triage is not None:
        scored = _zh(
            lang,
            f"分诊：评分 {triage.score}，等级 {triage.tier}，尝试预算 {triage.budget} 次。",
            f" Triage: score {triage.score}, tier {triage.tier}, budget {triage.budget} attempts.",
        )
    started = when(alert.starts_at.isoformat(), lang)
    if lang == "zh":
        fired = f"{started} 起，{subject} 触发告警「{alert.name}」（级别 {severity}，来源 {alert.source}）"
        return f"{verdict}{fired}{summary}。{scored}"
    fired = f"Since {started}, {subject} fires '{alert.name}' (severity {severity}, source {alert.source})"
    return f"{verdict}{fired}{summary}.{scored}"


# --------------------------------------------------------------------------- root cause


def _evidence(state: IncidentState) -> list[Finding]:
    """The findings the root cause cites: notable metrics, the release, logs, events, audit, code."""
    chosen: list[Finding] = []
    for finding in state.findings:
        if finding.kind not in EVIDENCE_KINDS:
            continue
        if finding.kind == "metric" and finding.severity == "info" and "value" not in finding.evidence:
            continue
        if finding.kind == "log" and "chain" not in finding.evidence:
            continue  # the per-source counts: context, not evidence
        chosen.append(finding)
    return chosen[:MAX_EVIDENCE]


def _cite(evidence: list[Finding], *kinds: str, probe: str | None = None) -> str:
    numbers = [
        str(i)
        for i, f in enumerate(evidence, start=1)
        if f.kind in kinds and (probe is None or f.evidence.get("probe") == probe)
    ]
    return "".join(f"[{n}]" for n in numbers)


def _claims(state: IncidentState, evidence: list[Finding], lang: Language) -> list[str]:
    """The root cause's claims, each followed by the numbers of the evidence it rests on."""
    diagnosis = state.diagnosis
    assert diagnosis is not None
    cause, name = diagnosis.cause, state.alert.subject.name or state.alert.name
    signal = _cite(evidence, "metric", probe="alert expression") or _cite(evidence, "metric")
    claims: list[str] = []
    match diagnosis.pattern:
        case "release" | "leak":
            claims.append(_release_claim(diagnosis, name, lang) + _cite(evidence, "release") + signal)
            if diagnosis.pattern == "leak":
                claims.append(
                    _zh(lang, "内存持续增长，重启只能暂时缓解", "memory keeps climbing; a restart only buys time")
                )
        case "config_edit":
            claims.append(
                _zh(
                    lang,
                    f"{cause.get('who')} 于 {when(cause.get('when'), lang)} {cause.get('verb')} 了 "
                    f"{cause.get('resource')}/{cause.get('name')}，之后告警出现；没有版本变更",
                    f"{cause.get('who')} {cause.get('verb')} {cause.get('resource')}/{cause.get('name')} at "
                    f"{when(cause.get('when'), lang)}, before the alert; no release changed",
                )
                + _cite(evidence, "audit")
            )
        case "namespace_change":
            claims.append(_change_claim(cause, lang) + _cite(evidence, "audit"))
        case "volume" if cause.get("claims") or cause.get("volumes"):
            claims.append(_volume_claim(state, lang) + _cite(evidence, "event"))
        case "dependency":
            hosts = ", ".join(cause.get("hosts") or diagnosis.entities)
            claims.append(
                _zh(
                    lang,
                    f"{name} 的错误日志显示调用依赖 {hosts} 失败（连接被拒、超时或返回错误）",
                    f"{name}'s errors say its calls to {hosts} fail (refused, timed out or answered with an error)",
                )
                + _cite(evidence, "log")
            )
        case "capacity":
            unit = unit_of("request_rate")
            rise = f"{fmt(cause.get('traffic_from'), unit, lang)} → {fmt(cause.get('traffic_to'), unit, lang)}"
            claims.append(
                _zh(
                    lang,
                    f"流量上升（{rise}），资源趋于饱和，且无版本变更",
                    f"traffic rose ({rise}) into saturation, with no release",
                )
                + _cite(evidence, "metric")
            )
        case "node" | "volume" | "cluster" | "dependency" | "unknown":
            pass
        case _:
            claims.append(_pattern_claim(diagnosis, lang) + signal)
    if diagnosis.pattern in ("node", "cluster", "unknown", "namespace") or (
        diagnosis.pattern == "dependency"
        and not cause.get("hosts")
        or diagnosis.pattern == "volume"
        and not (cause.get("claims") or cause.get("volumes"))
    ):
        claims.append(_subject_claim(state, lang))
    review = _cite(evidence, "code")
    if review:
        claims.append(_zh(lang, "代码审查的发现见", "the release review's findings are in") + " " + review)
    return claims


def _change_claim(cause: dict[str, Any], lang: Language) -> str:
    what = f"{cause.get('resource')}/{cause.get('name')}"
    change = f"（{cause.get('change')}）" if cause.get("change") and lang == "zh" else ""
    change = change or (f" ({cause.get('change')})" if cause.get("change") else "")
    return _zh(
        lang,
        f"{cause.get('who')} 于 {when(cause.get('when'), lang)} {cause.get('verb')} 了 {what}{change}，之后告警出现；"
        f"关联依据：{link_text(cause.get('linked_by') or {}, lang)}；没有版本变更",
        f"{cause.get('who')} {cause.get('verb')} {what}{change} at {when(cause.get('when'), lang)}, before the alert; "
        f"linked because {link_text(cause.get('linked_by') or {}, lang)}; no release changed",
    )


def _volume_claim(state: IncidentState, lang: Language) -> str:
    cause = state.diagnosis.cause if state.diagnosis else {}
    names = ", ".join([*(cause.get("claims") or []), *(cause.get("volumes") or [])])
    who = subject_words(state.alert.subject, lang)
    return _zh(
        lang,
        f"{who} 的 Pod 无法挂载或附加存储卷 {names}（事件 {cause.get('reason')}，{when(cause.get('when'), lang)}）",
        f"{who}'s pods cannot attach or mount {names} ({cause.get('reason')} at {when(cause.get('when'), lang)})",
    )


def _release_claim(diagnosis: Diagnosis, name: str, lang: Language) -> str:
    cause = diagnosis.cause
    version, previous, target = diagnosis.suspected_release, cause.get("previous"), diagnosis.known_good_release
    skipped = ", ".join(cause.get("skipped") or [])
    confidence = f"{diagnosis.release_confidence:.0%}"
    if lang == "zh":
        text = (
            f"{name} 的版本 {version} 上线后（此前为 {previous}）告警信号变差"
            if previous
            else f"{name} 的版本 {version} 引入问题"
        )
        if cause.get("by_history"):
            text += f"，{target} 运行期间信号健康"
        if skipped:
            text += f"，之后的 {skipped} 未能修复"
        return f"{text}（置信度 {confidence}）"
    text = (
        f"{name}'s release {version} (replacing {previous}) degraded the signal"
        if previous
        else f"release {version} of {name}"
    )
    if cause.get("by_history"):
        text += f"; the signal was healthy while {target} ran"
    if skipped:
        text += f"; the later {skipped} did not fix it"
    return f"{text} (confidence {confidence})"


def _pattern_claim(diagnosis: Diagnosis, lang: Language) -> str:
    texts = {
        "healthy": ("诊断时告警信号已回到正常水平", "the alert's signal was back to normal at diagnosis"),
        "no_data": (
            "告警信号查询无数据，无法确认告警，也无法验证任何变更",
            "the alert's signal answers nothing: nothing to confirm or verify",
        ),
        "unverifiable": (
            "告警不带指标，也没有探针随之升高，无法验证变更",
            "the alert carries no metric and no probe rose with it",
        ),
        "undetermined": (
            "未发现版本、配置、依赖或负载方面的原因",
            "no release, config change, dependency or load explains it",
        ),
    }
    pair = texts.get(diagnosis.pattern, (diagnosis.root_cause, diagnosis.root_cause))
    return pair[0] if lang == "zh" else pair[1]


def _subject_claim(state: IncidentState, lang: Language) -> str:
    subject = state.alert.subject
    reporter = subject.reporter
    told = (
        _zh(lang, f"（由 {reporter} 上报，它不是告警对象）", f" (reported by {reporter}, which is not the subject)")
        if reporter
        else ""
    )
    return _zh(
        lang,
        f"告警对象是{subject_words(subject, lang)}{told}，处置阶梯中没有作用于它的操作",
        f"the alert is about {subject_words(subject, lang)}{told}; no rung of the ladder acts on it",
    )


def _root_cause(state: IncidentState, lang: Language) -> str:
    if state.diagnosis is None:
        return _zh(lang, "诊断未完成。", "Diagnosis did not complete.")
    evidence = _evidence(state)
    claims = _claims(state, evidence, lang)
    listed = [f"[{i}] {describe(f, lang)}" for i, f in enumerate(evidence, start=1)]
    body = join(claims, lang)
    history = f" {sentence(state.recall, lang)}" if state.recall and sentence(state.recall, lang) else ""
    if lang == "zh":
        return f"{body}。证据：{join(listed, lang) or '无'}。{history.strip()}"
    return f"{body}. Evidence: {join(listed, lang) or 'none'}.{history}"


# --------------------------------------------------------------------------- impact and solution


def _impact(state: IncidentState, lang: Language) -> str:
    alert, diagnosis = state.alert, state.diagnosis
    subject = alert.subject
    scope = [subject_words(subject, lang)]
    if subject.pod:
        scope.append(f"pod {subject.pod}")
    if subject.cluster:
        scope.append(_zh(lang, f"集群 {subject.cluster}", f"cluster {subject.cluster}"))
    unit = unit_of("alert expression", alert.expression, alert.condition.unit if alert.condition else "")
    value = fmt(diagnosis.signal_value if diagnosis else None, unit, lang)
    extra = []
    if diagnosis and diagnosis.signal_threshold is not None:
        extra.append(
            _zh(
                lang,
                f"阈值 {fmt(diagnosis.signal_threshold, unit, lang)}",
                f"threshold {fmt(diagnosis.signal_threshold, unit, lang)}",
            )
        )
    if diagnosis and diagnosis.signal_baseline is not None:
        extra.append(
            _zh(
                lang,
                f"正常水平 {fmt(diagnosis.signal_baseline, unit, lang)}",
                f"normal level {fmt(diagnosis.signal_baseline, unit, lang)}",
            )
        )
    around = f"（{'，'.join(extra)}）" if extra and lang == "zh" else (f" ({', '.join(extra)})" if extra else "")
    dims = state.triage.dimensions if state.triage else {}
    listed = ("，" if lang == "zh" else ", ").join(f"{word(DIMENSIONS, k, lang)} {v}" for k, v in dims.items())
    if lang == "zh":
        return f"范围：{'，'.join(scope)}；当前信号值：{value}{around}；分诊维度：{listed or '无'}。"
    return f"Scope: {', '.join(scope)}; signal now: {value}{around}; triage dimensions: {listed or 'none'}."


def _solution(state: IncidentState, settings: Settings, lang: Language) -> str:
    triage, policy = state.triage, settings.policy
    if triage is None or not triage.actionable:
        return _zh(lang, "无需处置，仅记录并纳入每日简报。", "No action needed; recorded for the daily briefing.")
    rungs = [policy.rung(level) for level in rung_sequence(state, policy, settings)][: triage.budget]
    if rungs:
        steps = []
        for rung in rungs:
            step = word(OPERATIONS, rung.operation, lang)
            if rung.operation in ("version_rollback", "full_rollback"):
                target = known_good(state, settings)
                step += _zh(
                    lang,
                    f"至 {target}（最近一个信号健康的版本）",
                    f" to {target} (the last version whose signal was healthy)",
                )
            steps.append(step)
        hold = policy.hold_s
        informed = order_sentence(ladder_order(state, policy, settings), policy, lang)
        if lang == "zh":
            return (
                f"针对诊断出的{word(PATTERNS, hypothesis(state, policy), lang)}：{' → '.join(steps)}；每步之后等待 "
                f"{policy.verify_after_s:g} 秒验证告警信号回到正常水平，并在 {hold:g} 秒后复查；未恢复则升级至人工。"
                + informed
            )
        return (
            f"For the diagnosed cause ({word(PATTERNS, hypothesis(state, policy), lang)}): {' → '.join(steps)}; "
            "after each step, "
            f"wait {policy.verify_after_s:g} s, check the signal is back to normal and again after {hold:g} s; "
            "escalate to a person if it is not." + (f" {informed}" if informed else "")
        )
    return _no_change(state, settings, lang)


def _no_change(state: IncidentState, settings: Settings, lang: Language) -> str:
    diagnosis = state.diagnosis
    pattern = diagnosis.pattern if diagnosis else ""
    cause = diagnosis.cause if diagnosis else {}
    reasons = {
        "healthy": ("信号已恢复，无需变更", "the signal has recovered; nothing to change"),
        "no_data": (
            "没有数据可以验证任何变更，先恢复监控数据",
            "no data to verify a change against; restore the signal first",
        ),
        "unverifiable": ("没有可验证的指标，不做变更", "nothing to verify a change against"),
        "node": (
            "节点层面的问题，需人工处理（清理磁盘、排空或替换节点）",
            "a node-level problem for a person (free disk, drain or replace the node)",
        ),
        "cluster": (
            "集群层面的问题，需人工处理（容量规划、控制面）",
            "a cluster-wide problem for a person (capacity, control plane)",
        ),
        "volume": (
            (
                "Pod 无法挂载存储卷，需人工释放或修复该卷",
                "its pods cannot attach or mount their volume: a person must free or repair it",
            )
            if cause.get("claims") or cause.get("volumes")
            else ("存储卷即将写满，需人工扩容或清理", "a volume filling up: a person must expand or clean it")
        ),
        "namespace": ("命名空间配置问题，需人工处理", "a namespace configuration problem for a person"),
        "namespace_change": (
            f"需人工复核并回退 {cause.get('resource')}/{cause.get('name')} 的变更",
            f"a person must review and revert the change to {cause.get('resource')}/{cause.get('name')}",
        ),
        "dependency": (
            f"依赖 {', '.join(cause.get('hosts') or [])} 故障，回滚无法修复，需依赖方处理",
            "a dependency outage no rollback can fix; its owners must act",
        ),
        "config_edit": (
            f"需人工回退 {cause.get('resource')}/{cause.get('name')} 的修改（重启会让坏配置加载到所有实例）",
            f"a person must revert the edit to {cause.get('resource')}/{cause.get('name')} "
            "(a restart would load it everywhere)",
        ),
        "capacity": (
            "容量问题：是否扩容由策略（policy.pattern_rungs）或人工决定",
            "capacity: scaling is for policy (policy.pattern_rungs) or a person",
        ),
        "undetermined": (
            "未找到可处置的原因，不做盲目重启，需人工排查",
            "no cause a rung can address; no blind restart, a person must look",
        ),
        "unknown": ("告警未指明对象，需人工判断", "the alert names no subject; a person must judge"),
    }
    if pattern in ("release", "leak") and not known_good(state, settings):
        pair = ("没有已知健康的版本可回滚", "no version known to be healthy to roll back to")
    else:
        pair = reasons.get(pattern, ("没有可处置的原因", "no cause a rung can address"))
    text = pair[0] if lang == "zh" else pair[1]
    return _zh(
        lang, f"不做变更：{text}。已附证据升级至人工。", f"No change: {text}. Escalated to a person with the evidence."
    )


def write_report(state: IncidentState, settings: Settings, language: Language) -> Report:
    """The report for ``state`` in ``language``; ``promQL`` lists queries behind notable findings."""
    sections = ReportSections(
        overview=_overview(state, language),
        root_cause=_root_cause(state, language),
        impact=_impact(state, language),
        solution=_solution(state, settings, language),
    )
    queries: list[str] = []
    cloud = state.diagnosis.cloud_signal if state.diagnosis else None
    not_promql = CloudSignal.model_validate(cloud).describe() if cloud else None  # read from Cloud Monitor
    for finding in state.findings:
        if finding.query and finding.severity != "info" and finding.query not in (*queries, not_promql):
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
        result = write_report(state, deps.settings, deps.settings.language)
    except (ValueError, KeyError, TypeError) as exc:
        result = Report(status="failed", language=deps.settings.language, error=str(exc))
    deps.on_event("report", result.public())
    update = NodeUpdate(state, deps, "report")
    update.decide(f"report {result.status}")
    return update.build(report=result)
