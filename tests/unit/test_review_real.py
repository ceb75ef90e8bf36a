"""Review on real code: tree-sitter rules' path reasoning, the real-bug corpus targets, and suspect ranking."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.review_core import ReviewOutcome
from agents.suspects import Evidence, evidence_of, rank_suspects
from benchmarks.real_bugs import evaluate
from state.alert import Alert
from state.incident import Diagnosis, Finding, IncidentState
from tools.analyzers import analyze_file
from tools.analyzers.correlate import IncidentContext


def _new(path: str, text: str) -> list[tuple[int, str]]:
    lines = text.splitlines()
    patch = f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{line}\n" for line in lines)
    return [(f.line, f.category) for f in analyze_file(path, patch, text)]


def test_fatal_calls_and_else_branches_count_as_guards_in_go() -> None:
    text = (
        'package m\n\nfunc a() string {\n\tcfg, err := load()\n\tif err != nil {\n\t\tkingpin.Fatalf("x: %v", err)\n'
        "\t}\n\treturn cfg.Name\n}\n\nfunc b() string {\n\tcfg, err := load()\n\tif err != nil {\n\t\tlog.Print(err)\n"
        '\t} else if cfg.Name != "" {\n\t\treturn cfg.Name\n\t}\n\treturn ""\n}\n'
    )
    assert _new("svc/m.go", text) == []


def test_a_go_value_used_after_a_logged_error_is_flagged() -> None:
    text = "package m\n\nfunc a() string {\n\tcfg, err := load()\n\tif err != nil {\n\t\tlog.Print(err)\n\t}\n\treturn cfg.Name\n}\n"
    assert _new("svc/m.go", text) == [(8, "null_dereference")]


def test_early_return_skipping_a_release_is_a_leak_and_defer_is_not() -> None:
    leak = (
        "package m\n\nfunc a(n int) error {\n\tch := make(chan int)\n\tgo func() {\n\t\tfor range ch {\n\t\t}\n\t}()\n"
        "\tif n > 1 {\n\t\treturn nil\n\t}\n\tclose(ch)\n\treturn nil\n}\n"
    )
    assert _new("svc/m.go", leak) == [(4, "resource_leak")]
    assert (
        _new("svc/m.go", leak.replace("\tif n > 1", "\tdefer close(ch)\n\tif n > 1").replace("\tclose(ch)\n", "")) == []
    )


def test_java_map_lookup_checked_by_the_caller_is_not_flagged() -> None:
    text = (
        "class A {\n  private final java.util.Map<String, S> m = new java.util.HashMap<>();\n"
        '  String f(String k) {\n    S s = m.get(k);\n    if (s == null) {\n      return "";\n    }\n'
        "    return s.name();\n  }\n  String g(String k) {\n    S s = m.get(k);\n    return s.name();\n  }\n}\n"
    )
    assert _new("src/A.java", text) == [(12, "null_dereference")]


def test_real_bug_corpus_meets_the_targets() -> None:
    totals = evaluate()["totals"]
    assert totals["cases"] >= 20
    assert totals["recall"] >= 0.5 and totals["precision"] >= 0.7


def _state() -> IncidentState:
    alert = Alert(
        source="alertmanager",
        status="firing",
        name="HighErrorRate",
        service="checkout",
        version="v2.1",
        starts_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
        fingerprint="f1",
        labels={"handler": "/api/refund"},
    )
    log = Finding(
        kind="log", title="errors", evidence={"chain": [{"signature": "RefundLimitExceeded", "example": "x"}]}
    )
    diagnosis = Diagnosis(summary="s", root_cause="refund.max_amount was lowered", entities=["refund.max_amount"])
    return IncidentState(incident_id="i", alert=alert, findings=[log], diagnosis=diagnosis)


def test_the_suspect_is_the_file_the_incident_names_even_without_findings() -> None:
    outcome = ReviewOutcome(repo="acme/shop")
    outcome.patches = {
        (7, "web/home.py"): "@@ -1,1 +1,2 @@\n a\n+banner = 1\n",
        (9, "billing/refund.py"): "@@ -1,1 +1,3 @@\n a\n+@route('/api/refund')\n+LIMIT = cfg['refund.max_amount']\n",
    }
    evidence = evidence_of(_state(), IncidentContext())
    top = rank_suspects(outcome, evidence)[0]
    assert (top["pr"], top["file"]) == (9, "billing/refund.py")
    assert any("/api/refund" in e for e in top["evidence"]) and any("refund.max_amount" in e for e in top["evidence"])
    assert rank_suspects(outcome, Evidence()) == []
