"""Follow-ups: incidents still unresolved after ``notify.follow_up_after_h`` are pushed again, once per interval,
across restarts (each run of the job is its own process here)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env, run_cli
from tests.integration.scenario import scenario_config, start_incident
from tests.servers.notify import notify_server

pytestmark = pytest.mark.integration
RUN_JOB = """
import sys
from datetime import datetime
from server.scheduler import JobContext, resolve_job
from state.config import load_settings
from state.store import Store
from pathlib import Path
settings = load_settings(Path(sys.argv[1]))
print(resolve_job("follow_ups")(JobContext(settings, Store.from_url(settings.db_url), datetime.fromisoformat(sys.argv[2]))))
"""


def _job(config: Path, home: Path, at: datetime, env: dict[str, str]) -> str:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", RUN_JOB, str(config), at.isoformat()], cwd=ROOT, env=cli_env(home, **env),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_unresolved_incidents_are_followed_up_once_per_interval_across_restarts(tmp_path: Path, home: Path) -> None:
    with notify_server() as server:
        env = server.env()
        config = scenario_config(
            tmp_path,
            {
                # the people's own channel is email; follow-ups go to the team's webhook instead
                "users": [{"name": "ops", "email": "ops@example.test", "channels": ["email"], "rollback_permission": True}],
                "notify": {"follow_up_after_h": 12, "follow_up_channels": ["webhook"], "webhook_url_env": "HOOK_URL",
                           "webhook_secret_env": "HOOK_SECRET"},
            },
        )  # fmt: skip
        waiting = start_incident(config, home, **env)
        escalated = start_incident(config, home, variant="b", **env)
        done = run_cli("reject", escalated["id"], "--reason", "freeze", "--config", str(config), home=home, **env)
        assert done.returncode == 0, done.stderr
        resolved = start_incident(config, home, variant="c", **env)
        done = run_cli("approve", resolved["id"], "--config", str(config), "--json", home=home, **env)
        assert json.loads(done.stdout)["status"] == "resolved"
        opened = datetime.now(UTC)

        assert _job(config, home, opened + timedelta(hours=11), env).startswith("0 incident(s)")
        assert server.received["hook"] == []
        assert _job(config, home, opened + timedelta(hours=13), env).startswith("2 incident(s)")
        assert _job(config, home, opened + timedelta(hours=13, minutes=5), env).startswith("0 incident(s)")
        assert _job(config, home, opened + timedelta(hours=23), env).startswith("0 incident(s)")
        followed = {h["body"]["incident_id"]: h["body"] for h in server.received["hook"]}
        assert set(followed) == {waiting["id"], escalated["id"]}  # the resolved one is left alone
        assert {b["event"] for b in followed.values()} == {"follow_up"}
        assert "等待批准" in followed[waiting["id"]]["text"] and "版本回滚" in followed[waiting["id"]]["text"]
        assert "仍未关闭" in followed[escalated["id"]]["text"]

        assert _job(config, home, opened + timedelta(hours=25), env).startswith("2 incident(s)")
        assert len(server.received["hook"]) == 4
