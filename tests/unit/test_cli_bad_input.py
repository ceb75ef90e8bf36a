"""`alertpilot run` on bad files (issue 14): exit 2 with one line naming the field, never a traceback.

Before, 9 of 18 such files exited 1 with a traceback. Run in-process through typer's CliRunner
(the console script's own app object), so the exception a command lets out would show.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli import app
from tests.conftest import DEMO_CASE


def _am(**alert: Any) -> bytes:
    payload = json.loads((DEMO_CASE / "alert.json").read_text())
    payload["alerts"][0].update(alert)
    return json.dumps(payload).encode()


BAD: dict[str, bytes] = {
    "empty": b"",
    "blank": b"   \n",
    "not json": b"{nope",
    "binary": bytes(range(256)),
    "a list": b"[1, 2]",
    "a string": b'"alert"',
    "null": b"null",
    "nan literal": b'{"name": "X", "service": "checkout", "value": NaN}',
    "5000-digit integer": b'{"name": "X", "value": ' + b"7" * 5000 + b"}",
    "deep nesting": b'{"name": "X", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "startsAt out of range": _am(startsAt="1800-01-01T00:00:00Z"),
    "startsAt a number past any calendar": _am(startsAt=10**30),
    "startsAt not a time": _am(startsAt="soon"),
    "labels a list": _am(labels=["a"]),
    "alerts empty": json.dumps({"version": "4", "groupKey": "g", "alerts": []}).encode(),
    "name too long": json.dumps({"name": "N" * 400, "service": "checkout"}).encode(),
    "unknown format": b'{"hello": "world"}',
    "group_key an object": json.dumps({"name": "X", "group_key": {"a": 1}}).encode(),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_run_on_a_bad_file_exits_2_with_one_line(name: str, tmp_path: Path, home: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(BAD[name])
    result = CliRunner().invoke(app, ["run", str(path), "--config", str(DEMO_CASE / "config.yaml")])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("alertpilot: "), result.output
    assert "Traceback" not in result.output


def test_run_on_a_directory_or_a_missing_file_exits_2(tmp_path: Path, home: Path) -> None:
    for target in (tmp_path, tmp_path / "missing.json"):
        result = CliRunner().invoke(app, ["run", str(target)])
        assert result.exit_code == 2 and "FILE: no such file" in result.output


def test_run_with_grafanas_zero_starts_at_works_the_incident(tmp_path: Path, home: Path) -> None:
    """Issue 14: `0001-01-01T00:00:00Z` crashed `run` with a traceback; it means "received now"."""
    from datetime import UTC, datetime, timedelta

    path = tmp_path / "grafana.json"
    path.write_bytes(_am(startsAt="0001-01-01T00:00:00Z"))
    before = datetime.now(UTC)
    result = CliRunner().invoke(app, ["run", str(path), "--config", str(DEMO_CASE / "config.yaml"), "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] in ("resolved", "escalated")
    started = datetime.fromisoformat(doc["alert"]["starts_at"])
    assert before - timedelta(seconds=1) <= started <= datetime.now(UTC)
