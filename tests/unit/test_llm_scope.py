"""A model's read calls stay on the incident's repository and subject."""

from __future__ import annotations

import pytest

from agents.llm_scope import Scope

SCOPE = Scope(repo="acme/checkout", namespace="shop", workload="checkout")


@pytest.mark.parametrize(
    ("tool", "args", "refusal"),
    [
        ("pull_request_read", {"owner": "john-doe", "repo": "checkout", "pullNumber": 1, "method": "get"},
         "only this incident's repository acme/checkout may be read (asked for john-doe/checkout)"),
        ("get_file_contents", {"owner": "acme", "repo": "payments", "path": "a.py", "ref": "v1"},
         "only this incident's repository acme/checkout may be read (asked for acme/payments)"),
        ("classify_logs", {"namespace": "kube-system"}, "namespace is this incident's 'shop' (asked for 'kube-system')"),
        ("trace_chain", {"workload": "payments"}, "workload is this incident's 'checkout' (asked for 'payments')"),
        ("search_logs", {"paths": ["/etc/shadow"]}, "log paths are fixed by the configuration (logs.files); omit paths"),
        ("execute_query", {"query": 'up{namespace="prod"}'}, "queries stay in this incident's namespace 'shop' (asked for 'prod')"),
        ("execute_range_query", {"query": 'rate(x{namespace=~"p.*"}[5m])'},
         "queries stay in this incident's namespace 'shop' (asked for ~'p.*')"),
        ("execute_query", {"query": 'up{namespace!="shop"}'},
         "queries stay in this incident's namespace 'shop': select it with namespace="),
    ],
)  # fmt: skip
def test_reads_outside_the_incident_are_refused(tool: str, args: dict[str, object], refusal: str) -> None:
    assert SCOPE.bind(tool, args)[1] == refusal


def test_reads_inside_are_bound_to_the_incident() -> None:
    bound, refusal = SCOPE.bind("classify_logs", {"source": "files"})
    assert refusal == "" and bound == {"source": "files", "namespace": "shop", "workload": "checkout"}
    bound, refusal = SCOPE.bind("pull_request_read", {"method": "get", "pullNumber": 3})
    assert refusal == "" and (bound["owner"], bound["repo"]) == ("acme", "checkout")
    assert SCOPE.bind("execute_query", {"query": 'up{namespace="shop"} or vector(0)'}) == (
        {"query": 'up{namespace="shop"} or vector(0)'},
        "",
    )
    assert Scope().bind("pull_request_read", {"owner": "a", "repo": "b"})[1].startswith("no repository is configured")
