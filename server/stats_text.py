"""The operations stats in words: terminal tables (``alertpilot stats``), and a few spoken sentences (assistant)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from agents.tuning import DIMENSIONS, Suggestion
from state.stats import Duration, OperationsStats

if TYPE_CHECKING:
    from state.store import Store


def pct(value: float | None) -> str:
    """A rate for people: 0.8333 → 83%, None → -."""
    return "-" if value is None else f"{value * 100:.0f}%"


def span(seconds: float | None) -> str:
    """Seconds for people: 75 → 1m15s, 5400 → 1h30m."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _duration(d: Duration) -> str:
    return f"mean {span(d.mean_s)}, median {span(d.p50_s)}, p90 {span(d.p90_s)} (n={d.n})"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def tables(stats: OperationsStats) -> list[Any]:
    """Rich tables for ``alertpilot stats``."""
    from rich.table import Table

    scope = f"since {stats.since:%Y-%m-%d %H:%M}Z" if stats.since else "all time"
    if stats.service:
        scope += f", service {stats.service}"
    head = Table("", "", title=f"alertpilot operations — {scope}", show_header=False)
    for label, value in (
        ("incidents", str(stats.incidents)),
        ("by status", _counts(stats.by_status)),
        ("by verdict", _counts(stats.by_verdict)),
        ("by source", _counts(stats.by_source)),
        ("by severity", _counts(stats.by_severity)),
        ("MTTA (to triage)", _duration(stats.mtta)),
        ("MTTR (to resolved)", _duration(stats.mttr)),
        ("ladder", f"{stats.ladder.attempts} attempts, {stats.ladder.verified} verified fixes, {stats.ladder.failed} "
                   f"failed, {stats.ladder.undone} undone, success {pct(stats.ladder.success_rate)}"),
        ("approvals", f"{stats.approvals.approved} approved, {stats.approvals.rejected} rejected, "
                      f"{stats.approvals.refused} refused; wait {_duration(stats.approvals.wait)}"),
    ):  # fmt: skip
        head.add_row(label, value)
    rungs = Table("rung", "operation", "attempts", "verified", "failed", "undone", "success", title="per rung")
    for r in stats.rungs:
        rungs.add_row(str(r.rung), r.operation, *(str(v) for v in (r.attempts, r.verified, r.failed, r.undone)),
                      pct(r.success_rate))  # fmt: skip
    patterns = Table("pattern", "incidents", "fixed", "escalated", "attempts", "verified", "undone", "success",
                     title="per failure pattern")  # fmt: skip
    for p in stats.patterns:
        patterns.add_row(p.pattern, *(str(v) for v in (p.incidents, p.fixed, p.escalated, p.attempts, p.verified,
                                                        p.undone)), pct(p.success_rate))  # fmt: skip
    return [head, rungs, patterns, *_more_tables(stats)]


def _more_tables(stats: OperationsStats) -> list[Any]:
    from rich.table import Table

    services = Table("service", "incidents", "resolved", "escalated", "noise", "attempts", "fixed", title="services")
    for s in stats.services:
        services.add_row(s.service, *(str(v) for v in (s.incidents, s.resolved, s.escalated, s.noise, s.attempts,
                                                        s.fixed)))  # fmt: skip
    escalations = Table("why", "pattern", "count", "for example", title="escalations")
    for e in stats.escalations:
        escalations.add_row(e.reason, e.pattern, str(e.count), e.example)
    budget = Table("tier", "incidents", "budget", "spent", "share", "exhausted", title="budget spent against tier")
    for b in stats.budget:
        budget.add_row(b.tier, str(b.incidents), str(b.budget), str(b.spent), pct(b.spent_share), str(b.exhausted))
    noisy = Table("rule", "service", "incidents", "suggestion", title="alerts that were always noise")
    for n in stats.noisy:
        noisy.add_row(n.rule, n.service or "-", str(n.incidents), n.suggestion)
    channels = Table("channel", "sent", "delivered", "failed", "rate", title="notification delivery")
    for c in stats.channels:
        channels.add_row(c.channel, str(c.sent), str(c.delivered), str(c.failed), pct(c.rate))
    return [services, escalations, budget, noisy, channels]


def weights_table(suggestion: Suggestion) -> Any:
    """The ``--suggest-weights`` table."""
    from rich.table import Table

    title = (
        f"triage weights from {suggestion.incidents} incidents "
        f"({suggestion.needed} needed action, {suggestion.noise} noise)"
    )
    table = Table("dimension", "current", "suggested", "AUC alone", title=title, caption=suggestion.reason)
    for name in DIMENSIONS:
        now = getattr(suggestion.current, name)
        new = getattr(suggestion.suggested, name) if suggestion.suggested else None
        alone = suggestion.auc_alone.get(name)
        table.add_row(
            name, f"{now:.2f}", "-" if new is None else f"{new:.2f}", "-" if alone is None else f"{alone:.3f}"
        )
    return table


def weights_yaml(suggestion: Suggestion) -> str:
    """The config to apply a suggestion (a person pastes it; alertpilot never does)."""
    if suggestion.suggested is None:
        return ""
    pairs = ", ".join(f"{k}: {v:g}" for k, v in suggestion.suggested.model_dump().items())
    return f"triage:\n  weights: {{{pairs}}}\n"


def spoken(stats: OperationsStats, zh: bool, days: float) -> str:
    """A few sentences for the voice assistant."""
    open_ = stats.by_status.get("escalated", 0)
    resolved = stats.by_status.get("resolved", 0)
    top = stats.escalations[0] if stats.escalations else None
    best = max((r for r in stats.rungs if r.success_rate is not None), key=lambda r: r.verified, default=None)
    noisy = stats.noisy[0] if stats.noisy else None
    period = f"{days:g}"
    if zh:
        text = f"过去 {period} 天共有 {stats.incidents} 个事件，已解决 {resolved} 个，仍在人工处理 {open_} 个。"
        if top:
            text += f"转交人工最常见的原因是 {top.reason}（{top.pattern}），共 {top.count} 次。"
        if stats.ladder.success_rate is not None:
            text += f"处置阶梯的验证成功率是 {pct(stats.ladder.success_rate)}。"
        if best:
            text += f"{best.operation} 在 {best.verified + best.failed} 次有结论的处置中成功 {best.verified} 次。"
        if noisy:
            text += f"告警 {noisy.rule} 已有 {noisy.incidents} 次都无需处置，建议调整或静默这条规则。"
        return text
    text = (
        f"In the last {period} days: {stats.incidents} incident{'s' if stats.incidents != 1 else ''}, "
        f"{resolved} resolved, {open_} still with people."
    )
    if top:
        text += f" The most common escalation: {top.reason} ({top.pattern}), {top.count} of them."
    if stats.ladder.success_rate is not None:
        text += f" The ladder's verified success rate is {pct(stats.ladder.success_rate)}."
    if best:
        text += f" {best.operation} fixed {best.verified} of {best.verified + best.failed} with a verdict."
    if noisy:
        text += f" {noisy.rule} needed no action all {noisy.incidents} times: consider tuning or silencing it."
    return text


def spoken_stats(store: Store, zh: bool, days: float, service: str, now: datetime) -> str:
    """The assistant's answer about the last ``days`` days (of ``service``, or all)."""
    from state.facts import backfill
    from state.stats import operations_stats

    days = min(max(float(days or 7), 1.0), 366.0)
    with store.engine.begin() as conn:
        backfill(conn)
    found = operations_stats(store, since=now - timedelta(days=days), service=service.strip() or None)
    return spoken(found, zh, days)
