"""Recall at diagnosis: the subject's closest past incidents, as evidence and in the report's words.

Once diagnosis has concluded, history is asked (through ``Deps.history``, tools/history.py)
for the finished incidents of the same subject in ``policy.history.window_days``, closest
first (same pattern, same rule, same kind of change, shared error signatures), and for what
each rung did for each pattern. The answer is kept in the state (``IncidentState.recall``),
so the planner (agents/informed_ladder.py) and a replay read the same history, and is shown
as a ``history`` finding and one sentence of the report ("the last 3 times this fired after
a release, version rollback fixed it in 1 attempt"). History never changes the diagnosis:
when it is about another cause, the report says so.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from agents.deps import Deps
from agents.informed_ladder import LadderOrder
from agents.report_text import OPERATIONS, PATTERNS, Language, word
from state.alert import Alert
from state.facts import change_kind, signatures_of, subject_key
from state.history import HistoryQuery, PastIncident, Recall
from state.incident import Diagnosis, Finding
from state.policy import Policy


def query_for(
    incident_id: str, alert: Alert, diagnosis: Diagnosis, findings: list[Finding], deps: Deps
) -> HistoryQuery:
    """What to ask history about this incident: its subject, rule, pattern, change and error signatures."""
    settings = deps.settings.policy.history
    now = deps.clock()
    return HistoryQuery(
        subject=subject_key(alert.model_dump(mode="json")),
        rule=alert.name,
        pattern=diagnosis.pattern,
        change_kind=change_kind(diagnosis.model_dump(mode="json")),
        signatures=signatures_of(f.model_dump(mode="json") for f in findings),
        since=now - timedelta(days=settings.window_days),
        before=now,
        exclude=incident_id,
        limit=settings.similar,
    )


def recall(deps: Deps, incident_id: str, alert: Alert, diagnosis: Diagnosis, findings: list[Finding]) -> Recall | None:
    """The subject's history, or None when there is none to tell (no reader, recall off, nothing recorded)."""
    if deps.history is None or not deps.settings.policy.history.recall:
        return None
    found = deps.history.recall(query_for(incident_id, alert, diagnosis, findings, deps))
    return found if found.incidents or found.error else None


def finding(found: Recall, lang: Language) -> Finding:
    """The recall as a piece of evidence (the report's sentence, the incidents and the rungs' outcomes)."""
    return Finding(
        kind="history",
        title=f"history: {found.incidents} past incident{'s' if found.incidents != 1 else ''} of {found.subject}",
        detail=sentence(found, lang) or found.error,
        severity="warning" if found.error else "info",
        evidence={
            "similar": [p.model_dump(mode="json") for p in found.similar],
            "outcomes": [o.model_dump(mode="json") for o in found.outcomes],
            "by_pattern": found.by_pattern,
            "since": found.since.isoformat(),
        },
    )


# ---------------------------------------------------------------------- the report's words


def _times(n: int, lang: Language) -> str:
    return f"{n} 次" if lang == "zh" else (f"{n} time" if n == 1 else f"{n} times")


def _context(past: list[PastIncident], pattern: str, lang: Language) -> str:
    """``after a release`` / ``after a config edit`` / ``with a memory leak``: what the incidents shared."""
    kinds = {p.change_kind for p in past}
    if kinds == {"release"}:
        return "发布后" if lang == "zh" else "after a release"
    if kinds == {"config_edit"}:
        return "配置变更后" if lang == "zh" else "after a config edit"
    return f"（{word(PATTERNS, pattern, lang)}）" if lang == "zh" else f"with {word(PATTERNS, pattern, lang)}"


def _fixes(past: list[PastIncident], lang: Language) -> str:
    """What fixed them: ``version rollback fixed it in 1 attempt`` or a tally."""
    fixed = [p for p in past if p.fixed_by]
    if not fixed:
        kinds = ", ".join(sorted({p.escalation or p.status for p in past}))
        return f"均未由处置阶梯修复（{kinds}）" if lang == "zh" else f"the ladder fixed none of them ({kinds})"
    tally = Counter(p.fixed_by for p in fixed)
    if len(tally) == 1 and len(fixed) == len(past):
        op = word(OPERATIONS, fixed[0].fixed_by, lang)
        tries = sorted({p.fixed_in or 1 for p in fixed})
        span = str(tries[0]) if len(tries) == 1 else f"{tries[0]}-{tries[-1]}"
        if span == "1":
            return f"每次都由{op}在 1 次尝试内修复" if lang == "zh" else f"{op} fixed it in 1 attempt"
        if lang == "zh":
            return f"每次都是第 {span} 次尝试的{op}修复（之前的处置未能持续生效）"
        return f"{op} fixed it on attempt {span} (the rungs tried before it did not hold)"
    parts = [f"{word(OPERATIONS, op, lang)} ×{n}" for op, n in tally.most_common()]
    if lang == "zh":
        return f"其中 {len(fixed)} 次被修复：{'，'.join(parts)}"
    return f"{len(fixed)} of them were fixed: {', '.join(parts)}"


def sentence(found: Recall, lang: Language) -> str:
    """One sentence of history for the report ("" when there is nothing to say)."""
    if found.error:
        return f"历史记录不可用：{found.error}" if lang == "zh" else f"History unavailable: {found.error}"
    same = [p for p in found.similar if "pattern" in p.matches]
    ids = ", ".join(p.id for p in (same or found.similar))
    if same:
        context = _context(same, found.pattern, lang)
        if lang == "zh":
            return f"历史：最近 {_times(len(same), lang)}该对象{context}出现同类告警，{_fixes(same, lang)}（{ids}）。"
        return f"History: the last {_times(len(same), lang)} this fired {context}, {_fixes(same, lang)} ({ids})."
    if not found.similar:
        return ""
    others = ", ".join(
        f"{word(PATTERNS, pattern, lang)} ×{n}"
        for pattern, n in sorted(found.by_pattern.items(), key=lambda kv: -kv[1])
    )
    now = word(PATTERNS, found.pattern, lang)
    if lang == "zh":
        return f"历史：该对象过去的 {found.incidents} 次事件（{ids}）是：{others}；本次诊断为{now}，这些历史不适用。"
    many = "incident was" if found.incidents == 1 else f"{found.incidents} incidents were"
    return (
        f"History: this subject's past {many} ({ids}): {others}; "
        f"this time the diagnosis found {now}, so that history does not apply."
    )


def order_sentence(order: LadderOrder, policy: Policy, lang: Language) -> str:
    """The report's words when history reordered the ladder ("" when it did not)."""
    first = order.first
    if first is None or not order.changed:
        return ""
    op = word(OPERATIONS, first.operation, lang)
    steps = " → ".join(word(OPERATIONS, policy.rung(level).operation, lang) for level in order.levels)
    if lang == "zh":
        return (
            f"依据历史：{op}在该对象同类原因的 {first.outcomes} 次已验证处置中成功 {first.verified} 次"
            f"（成功率估计 {first.mean:.0%}），因此先执行：{steps}。"
        )
    return (
        f"From history: {op} held {first.verified} of {first.outcomes} verified times for this subject and cause "
        f"(success estimate {first.mean:.0%}), so the order is {steps}."
    )
