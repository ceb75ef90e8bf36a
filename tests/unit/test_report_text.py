"""A report a person trusts: verdict first, claims citing evidence, numbers with units, one language throughout."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from agents.report_text import fmt, movement, unit_of
from agents.reporting import write_report
from state.alert import Alert
from state.config import Settings
from state.incident import Diagnosis, Finding, IncidentState, TriageResult

START = datetime(2026, 11, 20, 3, 12, tzinfo=UTC)
EXPR = 'sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="checkout"}[5m]))'
ALERT = Alert(
    source="alertmanager", status="firing", name="HighErrorRate", service="checkout", namespace="shop",
    starts_at=START, fingerprint="f", expression=f"{EXPR} > 0.05", summary="checkout 5xx ratio above 5%",
)  # fmt: skip
FINDINGS = [
    Finding(kind="metric", title="signal HighErrorRate = 0.23", evidence={"value": 0.23, "firing": True}, query=EXPR,
            severity="critical"),
    Finding(kind="metric", title="alert expression rose: 0.004 → 0.22", severity="critical", query=EXPR,
            evidence={"probe": "alert expression", "baseline": 0.004, "alert_window": 0.2213, "score": 54.3}),
    Finding(kind="metric", title="latency_p99_s rose: 0.21 → 0.47", severity="warning",
            evidence={"probe": "latency_p99_s", "baseline": 0.21, "alert_window": 0.4696, "score": 1.2}),
    Finding(kind="release", title="release v2.2 deployed at 02:58Z", severity="critical",
            evidence={"version": "v2.2", "previous": "v2.1", "target": "v2.1", "confidence": 0.95}),
    Finding(kind="metric", title="restarts steady: 0 → 0", severity="info",
            evidence={"probe": "restarts", "baseline": 0, "alert_window": 0, "score": 0}),
]  # fmt: skip
RELEASE = Diagnosis(
    summary="HighErrorRate on checkout began after v2.2 shipped", root_cause="release v2.2 of checkout",
    suspected_release="v2.2", known_good_release="v2.1", release_confidence=0.95, pattern="release",
    verdict="cause_found", signal_value=0.23, signal_baseline=0.004, signal_threshold=0.05, entities=["checkout", "v2.2"],
    cause={"version": "v2.2", "previous": "v2.1", "by_history": True, "skipped": []},
)  # fmt: skip


def report(language: str, diagnosis: Diagnosis = RELEASE) -> str:
    state = IncidentState(
        incident_id="inc-1", alert=ALERT, diagnosis=diagnosis, findings=FINDINGS,
        triage=TriageResult(score=88, tier="P1", budget=4, dimensions={"impact": 90, "severity": 95}),
    )  # fmt: skip
    return write_report(state, Settings(language=language), language).content  # type: ignore[arg-type]


def _outside_quotes(text: str) -> str:
    return re.sub(r"「[^」]*」|\"[^\"]*\"|'[^']*'", "", text)


def test_a_chinese_report_is_chinese_throughout_except_what_it_quotes() -> None:
    content = _outside_quotes(report("zh"))
    english_runs = re.findall(r"[A-Za-z]{3,}(?:\s+[A-Za-z]{3,}){2,}", content)  # three English words in a row
    assert english_runs == []
    assert "【问题概述】结论：已定位根因" in content  # the verdict first


def test_an_english_report_has_no_chinese_and_states_the_verdict_first() -> None:
    content = report("en")
    assert not re.search(r"[\u4e00-\u9fff]", content)
    assert content.startswith("[Overview]Verdict: cause found")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_numbers_have_units_directions_are_right_and_no_python_reprs(language: str) -> None:
    content = report(language)
    assert "23%" in content and "0.23" not in content  # a ratio as a percentage
    assert "470 ms" in content and "210 ms" in content  # seconds as milliseconds
    assert ("从 0.4% 升至 22.1%" if language == "zh" else "rose from 0.4% to 22.1%") in content
    assert not re.search(r"\{'|'\}|None|True|False", content)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_root_cause_claim_cites_its_evidence(language: str) -> None:
    content = report(language)
    cause = content.split("【根因分析】" if language == "zh" else "[Root cause]")[1].split(
        "【" if language == "zh" else "[Impact]"
    )[0]
    claims = cause.split("证据：" if language == "zh" else "Evidence:")[0]
    assert re.search(r"\[\d\]", claims)  # the claim names its evidence
    cited = {int(n) for n in re.findall(r"\[(\d)\]", claims)}
    listed = {int(n) for n in re.findall(r"\[(\d)\]", cause.split("证据：" if language == "zh" else "Evidence:")[1])}
    assert cited <= listed  # every citation points at listed evidence
    assert "restarts" not in cause and "重启次数" not in cause  # steady probes are not evidence


def test_an_unresolved_report_says_so_first_and_changes_nothing() -> None:
    nothing = Diagnosis(summary="s", root_cause="r", pattern="undetermined", verdict="unresolved", abstain="nothing")
    content = report("en", nothing)
    assert content.startswith("[Overview]Verdict: unresolved")
    assert "No change" in content and "no blind restart" in content


def test_units_and_directions() -> None:
    assert unit_of("error_ratio") == "ratio" and fmt(0.004, "ratio", "en") == "0.4%"
    assert fmt(2.4, "seconds", "en") == "2.4 s" and fmt(0.3, "seconds", "zh") == "300 ms"
    assert fmt(1.5 * 1024**3, "bytes", "en") == "1.5 GiB"
    assert movement(0.5, 0.2, "ratio", "en") == "fell from 50% to 20%"
    assert movement(0.5, 0.51, "ratio", "zh") == "持平于 51%"
