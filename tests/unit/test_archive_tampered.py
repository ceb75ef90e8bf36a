"""`incidents import` of a tampered export (issue 14): a one-line error, nothing left behind, no traceback.

Before, 8 of 21 tampered exports raised a traceback, and a failure after the checkpoints were
written left an orphan thread that blocked importing the good file afterwards.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest

from graph.archive import ArchiveError, export_incident, import_incident
from tests.unit.test_replay import CASE, plain_runner, run_case


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    source = tmp_path_factory.mktemp("source")
    incident = run_case(CASE["checkout-bad-release"], source)
    with plain_runner(source) as (runner, _):
        return export_incident(runner.store, runner.graph.checkpointer, incident)  # type: ignore[arg-type]


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    target: Any = doc
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return doc


TAMPERED = [
    ("created_at", "yesterday"),
    ("created_at", "2026-13-45T00:00:00"),
    ("document", ["not", "a", "dict"]),
    ("audit", "none"),
    ("audit.0", {"actor": "x"}),
    ("checkpoints", []),
    ("checkpoints", {"0": 1}),
    ("checkpoints.0.checkpoint", {"type": "msgpack"}),
    ("checkpoints.0.checkpoint.data", "!!!not base64!!!"),
    ("checkpoints.0.checkpoint.data", base64.b64encode(b"\xc1\xc1\xc1garbage").decode()),
    ("checkpoints.0.checkpoint.type", "pickle"),
    ("checkpoints.0.metadata", "m"),
    ("incident", ["inc"]),
    ("incident", "../../etc/passwd"),
    ("incident", "x" * 300),
    ("dedup_key", None),
]


@pytest.mark.parametrize(("path", "value"), TAMPERED)
def test_a_tampered_export_is_refused_naming_the_field_and_leaves_nothing(
    exported: dict[str, Any], tmp_path: Path, path: str, value: Any
) -> None:
    bad = _set(exported, path, value)
    with plain_runner(tmp_path) as (runner, _):
        saver = runner.graph.checkpointer
        with pytest.raises(ArchiveError) as caught:
            import_incident(runner.store, saver, bad)  # type: ignore[arg-type]
        assert "\n" not in str(caught.value)
        assert runner.store.list() == []
        # nothing half-written: the good file imports afterwards
        assert import_incident(runner.store, saver, exported) == exported["incident"]  # type: ignore[arg-type]


def test_a_failure_after_the_checkpoints_removes_the_thread(exported: dict[str, Any], tmp_path: Path) -> None:
    bad = copy.deepcopy(exported)
    bad["document"] = {**bad["document"], "status": {"not": "a status"}}  # the row insert fails, after the thread
    with plain_runner(tmp_path) as (runner, _):
        saver = runner.graph.checkpointer
        with pytest.raises(ArchiveError, match="could not be imported"):
            import_incident(runner.store, saver, bad)  # type: ignore[arg-type]
        thread = {"configurable": {"thread_id": exported["incident"]}}
        assert saver.get_tuple(thread) is None  # type: ignore[union-attr,arg-type]
        assert import_incident(runner.store, saver, exported) == exported["incident"]  # type: ignore[arg-type]


@pytest.mark.integration
def test_incidents_import_of_a_tampered_file_exits_2_with_one_line(exported: dict[str, Any], tmp_path: Path) -> None:
    import json

    from tests.conftest import run_cli

    home = tmp_path / "home"
    bundle = tmp_path / "bad.json"
    bundle.write_text(json.dumps(_set(exported, "checkpoints.0.checkpoint.data", "AAAA")))
    done = run_cli("incidents", "import", str(bundle), home=home)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("alertpilot: checkpoints[0]: unreadable") and done.stderr.count("\n") == 1
    bundle.write_text(json.dumps(exported))
    assert run_cli("incidents", "import", str(bundle), home=home).returncode == 0
