"""The report's words in Chinese and English: names, numbers with units, and one line per piece of evidence.

Everything a report says is composed here from structured data (a finding's ``evidence``,
the diagnosis's fields), never by pasting a playbook sentence, so a zh report is Chinese
throughout and an en report English. Quoted text (an alert's own summary, a log line, a
tool's error) stays as it was written, in quotes.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from state.incident import Finding
from state.subject import Subject

Language = Literal["zh", "en"]

PROBES: dict[str, tuple[str, str]] = {
    "alert expression": ("告警信号", "the alert's signal"),
    "error_ratio": ("错误率", "error ratio"),
    "latency_p99_s": ("P99 延迟", "p99 latency"),
    "request_rate": ("请求量", "request rate"),
    "cpu_saturation": ("CPU 饱和度", "CPU saturation"),
    "restarts": ("重启次数", "restarts"),
    "memory_bytes": ("内存用量", "memory use"),
    "memory_saturation": ("内存饱和度", "memory saturation"),
}
OPERATIONS: dict[str, tuple[str, str]] = {
    "restart": ("重启", "restart"),
    "config_refresh": ("刷新配置", "config refresh"),
    "scale": ("扩容", "scale out"),
    "version_rollback": ("版本回滚", "version rollback"),
    "isolate": ("隔离服务", "isolate the service"),
    "full_rollback": ("全量回滚", "full rollback"),
}
VERDICTS: dict[str, tuple[str, str]] = {
    "cause_found": ("已定位根因", "cause found"),
    "unresolved": ("未定位根因", "unresolved"),
    "noise": ("噪声，当前无异常", "noise, nothing wrong now"),
}
PATTERNS: dict[str, tuple[str, str]] = {
    "release": ("版本发布引入的问题", "a bad release"),
    "leak": ("内存泄漏", "a memory leak"),
    "config_edit": ("配置变更", "a config edit"),
    "namespace_change": ("命名空间对象变更", "a change to a namespace object"),
    "dependency": ("依赖故障", "a dependency outage"),
    "capacity": ("容量不足", "load beyond capacity"),
    "node": ("节点问题", "a node problem"),
    "volume": ("存储卷容量问题", "a storage volume problem"),
    "cluster": ("集群层面的问题", "a cluster-wide problem"),
    "namespace": ("命名空间配置问题", "a namespace configuration problem"),
    "healthy": ("信号已自行恢复", "the signal recovered on its own"),
    "no_data": ("告警信号无数据", "no data for the signal"),
    "unverifiable": ("告警无可验证的指标", "nothing to verify against"),
    "undetermined": ("原因不明", "no cause found"),
    "unknown": ("告警未指明对象", "no identifiable subject"),
}
CATEGORIES: dict[str, tuple[str, str]] = {
    "null_dereference": ("空值解引用", "null dereference"),
    "resource_leak": ("资源泄漏", "resource leak"),
    "concurrency": ("并发问题", "concurrency problem"),
    "logic_error": ("逻辑错误", "logic error"),
    "error_swallowed": ("错误被吞掉", "swallowed error"),
}
SEVERITIES: dict[str, tuple[str, str]] = {
    "critical": ("严重", "critical"),
    "warning": ("警告", "warning"),
    "info": ("提示", "info"),
}
DIMENSIONS: dict[str, tuple[str, str]] = {
    "impact": ("影响面", "impact"),
    "severity": ("严重度", "severity"),
    "business": ("业务重要性", "business"),
    "time_sensitivity": ("时效性", "time sensitivity"),
}


def word(table: dict[str, tuple[str, str]], key: str | None, lang: Language) -> str:
    """``key``'s word in ``lang`` (the key itself when the table has none)."""
    if key is None:
        return ""
    pair = table.get(key)
    return (pair[0] if lang == "zh" else pair[1]) if pair else key


def quote(text: str, lang: Language) -> str:
    """Text kept as written, quoted the way the language quotes."""
    text = " ".join(str(text).split())
    return f"「{text}」" if lang == "zh" else f'"{text}"'


def join(items: list[str], lang: Language) -> str:
    """Items joined with the language's list separator."""
    return ("；" if lang == "zh" else "; ").join(i for i in items if i)


# --------------------------------------------------------------------------- numbers and units

_RATIO = re.compile(r"ratio|saturation|_percent|utili[sz]ation|usage_rate|error_rate", re.I)


def _is_ratio(query: str | None) -> bool:
    """A share: one series family over itself (errors over all requests), or a name that says so."""
    if not query or "/" not in query:
        return False
    if _RATIO.search(query):
        return True
    top = query.split("/", 1)
    names = [set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{", side)) for side in top]
    return bool(names[0]) and names[0] <= names[1] and "* 100" not in query


def unit_of(name: str, query: str | None = None, hint: str = "") -> str:
    """The unit a value of probe ``name`` (or of ``query``) is in: ratio, seconds, bytes, rps, count, or ''."""
    if hint.strip() == "%":
        return "percent"
    text = f"{name} {query or ''}"
    if name in ("error_ratio", "cpu_saturation", "memory_saturation") or _is_ratio(query):
        return "ratio"
    if query and re.search(r"\*\s*100\b|\b100\s*\*", query):
        return "percent"
    if name == "latency_p99_s" or re.search(r"_seconds(_bucket|_sum|_count)?\b", text) and "quantile" in text:
        return "seconds"
    if name == "memory_bytes" or (re.search(r"_bytes\b", text) and "/" not in (query or "")):
        return "bytes"
    if name == "request_rate":
        return "rps"
    if name == "restarts":
        return "count"
    return ""


def fmt(value: float | None, unit: str, lang: Language) -> str:
    """A number rounded for people, with its unit."""
    if value is None:
        return "未知" if lang == "zh" else "unknown"
    if unit == "ratio":
        return f"{value * 100:.3g}%"
    if unit == "percent":
        return f"{value:.3g}%"
    if unit == "seconds":
        return f"{value * 1000:.3g} ms" if abs(value) < 1 else f"{value:.3g} s"
    if unit == "bytes":
        for size, suffix in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
            if abs(value) >= size:
                return f"{value / size:.3g} {suffix}"
        return f"{value:.0f} B"
    if unit == "rps":
        return f"{value:.3g} 次/秒" if lang == "zh" else f"{value:.3g} req/s"
    if unit == "count":
        return f"{value:.0f} 次" if lang == "zh" else f"{value:.0f}"
    return f"{value:.4g}"


def movement(baseline: float, during: float, unit: str, lang: Language) -> str:
    """How a value moved from its baseline, with the right direction word."""
    a, b = fmt(baseline, unit, lang), fmt(during, unit, lang)
    scale = max(abs(baseline), abs(during), 1e-12)
    if abs(during - baseline) / scale < 0.05:
        return f"持平于 {b}" if lang == "zh" else f"held at {b}"
    if during > baseline:
        return f"从 {a} 升至 {b}" if lang == "zh" else f"rose from {a} to {b}"
    return f"从 {a} 降至 {b}" if lang == "zh" else f"fell from {a} to {b}"


def when(text: str | None, lang: Language) -> str:
    """An ISO time as ``2026-11-20 02:58 UTC``."""
    if not text:
        return ""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return str(text)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def subject_words(subject: Subject, lang: Language) -> str:
    """``Deployment shop/cart``, ``节点 ip-10-0-3-17``, ``集群 prod``, ``依赖 redis-coupon``."""
    if subject.kind == "workload":
        where = f"{subject.namespace}/" if subject.namespace else ""
        return f"{subject.workload_kind or ('工作负载' if lang == 'zh' else 'workload')} {where}{subject.name}"
    kinds = {
        "node": ("节点", "node"),
        "volume": ("存储卷", "volume"),
        "namespace": ("命名空间", "namespace"),
        "cluster": ("集群", "cluster"),
        "dependency": ("依赖", "dependency"),
    }
    label = word(kinds, subject.kind, lang) if subject.kind in kinds else ("对象" if lang == "zh" else "subject")
    return f"{label} {subject.name or '?'}"


# --------------------------------------------------------------------------- one line per finding


def describe(finding: Finding, lang: Language) -> str:
    """One finding as a sentence in ``lang``, from its structured evidence."""
    ev = finding.evidence or {}
    kind = finding.kind
    if kind == "metric" and "baseline" in ev and "alert_window" in ev:
        name = str(ev.get("probe") or _probe_name(finding))
        unit = unit_of(name, finding.query)
        gap = "" if lang == "zh" else " "
        moved = movement(float(ev["baseline"]), float(ev["alert_window"]), unit, lang)
        return f"{word(PROBES, name, lang)}{gap}{moved}"
    if kind == "metric" and "value" in ev:
        unit = unit_of("alert expression", finding.query)
        value = fmt(float(ev["value"]), unit, lang)
        return f"告警信号当前值 {value}" if lang == "zh" else f"the alert's signal is {value} now"
    if kind == "release" and "versions" in ev:
        versions = " → ".join(dict.fromkeys(str(v["version"]) for v in ev["versions"]))
        return f"版本历史：{versions}" if lang == "zh" else f"version history: {versions}"
    if kind == "release" and "version" in ev:
        return _release_line(ev, lang)
    if kind == "log" and "chain" in ev:
        chain = ev["chain"]
        return (
            f"{chain.get('count')} 次错误 {quote(str(chain.get('signature', ''))[:100], lang)}"
            if lang == "zh"
            else f"{chain.get('count')}x error {quote(str(chain.get('signature', ''))[:100], lang)}"
        )
    if kind == "event" and ev.get("events"):
        reasons: dict[str, int] = {}
        for event in ev["events"]:
            reasons[str(event.get("reason"))] = reasons.get(str(event.get("reason")), 0) + int(event.get("count") or 1)
        listed = ", ".join(f"{r}×{n}" for r, n in reasons.items())
        return f"集群事件：{listed}" if lang == "zh" else f"cluster events: {listed}"
    if kind == "audit" and ev.get("audit"):
        last = ev["audit"][-1]
        change = f"（{last['change']}）" if lang == "zh" and last.get("change") else ""
        change = change or (f" ({last['change']})" if last.get("change") else "")
        what = f"{last.get('resource')}/{last.get('name')}"
        if lang == "zh":
            return f"审计记录：{last.get('who')} 于 {when(last.get('when'), lang)} {last.get('verb')} {what}{change}"
        return f"audit: {last.get('who')} {last.get('verb')} {what}{change} at {when(last.get('when'), lang)}"
    if kind == "code":
        return _code_line(finding, lang)
    if kind == "data":
        detail = quote(finding.detail[:160], lang) if finding.detail else ""
        return f"{'数据：' if lang == 'zh' else 'data: '}{quote(finding.title, lang)} {detail}".strip()
    return quote(finding.title, lang)


def _probe_name(finding: Finding) -> str:
    head = finding.title.split(" ", 1)[0]
    if head == "alert":
        return "alert expression"
    return head


def _release_line(ev: dict[str, Any], lang: Language) -> str:
    version, previous = ev.get("version"), ev.get("previous")
    confidence = float(ev.get("confidence") or 0)
    if lang == "zh":
        before = f"（此前为 {previous}）" if previous else ""
        return f"版本 {version} 上线{before}，可疑度 {confidence:.0%}"
    before = f" (replacing {previous})" if previous else ""
    return f"release {version} shipped{before}, confidence {confidence:.0%}"


def _code_line(finding: Finding, lang: Language) -> str:
    ev = finding.evidence or {}
    if ev.get("suspect"):
        top = ev["suspect"]
        where = f"PR #{top.get('pr')} {top.get('file')}"
        return f"最可疑的变更：{where}" if lang == "zh" else f"most suspect change: {where}"
    where = f"PR #{ev.get('pr')} {ev.get('file')}:{ev.get('line')}" if ev.get("file") else finding.title
    category = word(CATEGORIES, str(ev.get("category") or ""), lang)
    if lang == "zh":
        return f"代码审查：{where} 疑似{category}" if category else f"代码审查：{where}"
    return f"code review: {where}, suspected {category}" if category else f"code review: {where}"
