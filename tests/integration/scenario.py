"""Build a scenario home: the bundled checkout world with approval from rung 1 and extra config."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import DEMO_CASE, run_cli


def scenario_config(tmp: Path, extra: dict[str, Any]) -> Path:
    """Copy the demo case to ``tmp/case`` and write a config that asks approval from rung 1."""
    case = tmp / "case"
    shutil.copytree(DEMO_CASE, case, dirs_exist_ok=True)
    config = yaml.safe_load((case / "config.yaml").read_text())
    config["policy"]["approval_from_rung"] = 1
    config.setdefault("briefing", {})["utc_offset_hours"] = 0
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key].update(value)
        elif key == "users":  # keep the acting user (it holds the rollback permission)
            config[key] = [*config.get(key, []), *value]
        else:
            config[key] = value
    path = case / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def start_incident(config: Path, home: Path, variant: str = "", **env: str) -> dict[str, Any]:
    """Run the scenario's alert; with approval from rung 1 it stops waiting for approval.

    A ``variant`` gives the alert its own fingerprint and group, so it opens a new
    incident instead of joining an open (or escalated) one.
    """
    alert_path = config.parent / "alert.json"
    if variant:
        payload = json.loads(alert_path.read_text())
        payload["groupKey"] += f"/{variant}"
        for alert in payload["alerts"]:
            alert["fingerprint"] += f"-{variant}"
        alert_path = config.parent / f"alert-{variant}.json"
        alert_path.write_text(json.dumps(payload))
    done = run_cli("run", str(alert_path), "--config", str(config), "--json", home=home, **env)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    assert doc["status"] == "awaiting_approval", doc["status"]
    return doc


def briefing_day_for(home: Path, config: Path) -> date:
    """The briefing day that covers today's incidents (UTC, as the config says offset 0)."""
    done = run_cli("incidents", "list", "--json", "--config", str(config), home=home)
    created = [datetime.fromisoformat(r["created_at"]).astimezone(UTC).date() for r in json.loads(done.stdout)]
    return (created[0] if created else datetime.now(UTC).date()) + timedelta(days=1)
