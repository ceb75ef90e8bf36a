"""The operations catalog is the one list: the ladder, the executor tools, the model's specs and the docs agree."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from agents.rollback_model import tool_specs
from state.policy import DEFAULT_LADDER, OPERATIONS, Operation, Policy
from tools.executor import DryRunExecutor, devops_tools

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rollback.md"


def test_the_operation_type_names_exactly_the_catalog() -> None:
    assert set(get_args(Operation)) == set(OPERATIONS)


def test_the_default_ladder_takes_rungs_and_reversibility_from_the_catalog() -> None:
    for rung in DEFAULT_LADDER:
        if rung.operation is not None:
            spec = OPERATIONS[rung.operation]
            assert (rung.level, rung.reversible) == (spec.rung, spec.reversible)
    assert Policy().rung_of("version_rollback") == OPERATIONS["version_rollback"].rung


def test_executor_tools_and_model_specs_describe_each_operation_alike() -> None:
    tools = {tool.name: tool.description for tool in devops_tools(DryRunExecutor())}
    specs = {s["function"]["name"]: s["function"]["description"] for s in tool_specs(list(OPERATIONS))}
    catalog = {name: spec.description for name, spec in OPERATIONS.items()}
    assert tools == specs == catalog
    assert all("idempotency_key" not in s["function"]["parameters"]["properties"] for s in tool_specs(list(OPERATIONS)))


def test_docs_table_matches_the_catalog() -> None:
    rows = re.findall(r"^\| (\w+) \| (\d) \| (yes|no) \| (.+?) \|$", DOCS.read_text(), re.M)
    documented = {name: (int(rung), flag == "yes", text) for name, rung, flag, text in rows}
    assert documented == {n: (s.rung, s.reversible, s.description) for n, s in OPERATIONS.items()}
