"""A voice session end to end: a local Xiaozhi MCP endpoint, `alertpilot mcp connect assistant`, the real stdio server.

The endpoint speaks MCP JSON-RPC as Xiaozhi's does (initialize, tools/list, tools/call, one
message per text frame, ids restarting on every connection) and drops the connection in
the middle of a call; the bridge must reconnect, and the call must take effect once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from state.config import load_settings
from state.delivery import Ledger
from state.store import Store
from tests.conftest import ROOT, cli_env, free_port, run_cli
from tests.integration.scenario import scenario_config, start_incident
from tests.integration.test_briefing_email import Inbox
from tests.servers.xiaozhi import CountingConnection, xiaozhi_endpoint

pytestmark = pytest.mark.integration
TOKEN = "eyJhbGciOiJFUzI1NiJ9.xiaozhi-test-token.c2lnbmF0dXJl"


def _config(tmp_path: Path, smtp_port: int) -> Path:
    return scenario_config(
        tmp_path,
        {
            "users": [
                {
                    "name": "alice",
                    "email": "alice@example.test",
                    "rollback_permission": True,
                    "channels": [],
                    "speaker": "alice",
                },
                {"name": "bob", "rollback_permission": False, "speaker": "bob"},
            ],
            "briefing": {"window": "00:00-24:00", "utc_offset_hours": 0},
            "assistant": {"ping_interval_s": 0.5, "ping_timeout_s": 10, "reconnect_max_s": 2},
            "notify": {"smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "alertpilot@example.test"}},
        },
    )


def _bridge(config: Path, home: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "mcp", "connect", "assistant", "--config", str(config)],
        cwd=ROOT, env=cli_env(home, XIAOZHI_MCP_ENDPOINT=url), stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _stop(bridge: subprocess.Popen[bytes]) -> int:
    bridge.send_signal(signal.SIGTERM)
    return bridge.wait(timeout=30)


def _gone(pid: int) -> bool:
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_a_voice_session_through_the_bridge_survives_a_dropped_connection(tmp_path: Path, home: Path) -> None:
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    log = tmp_path / "bridge.log"
    try:
        config = _config(tmp_path, smtp_port)
        waiting = start_incident(config, home)
        with xiaozhi_endpoint(TOKEN) as endpoint:
            bridge = _bridge(config, home, endpoint.url, log)
            try:
                first = endpoint.wait_ready(1)
                assert first.server_info["name"] == "alertpilot-assistant"
                assert {"daily_briefing", "incident_status", "set_push_preferences", "send_briefing",
                        "approve_rollback"} <= set(first.tools)  # fmt: skip

                greeting = endpoint.speak("daily_briefing", user="alice")
                assert greeting.startswith("你好，alice。")
                status = endpoint.speak("incident_status")  # no id: the newest open incident
                assert "等待批准的操作是：版本回滚到 v2.1" in status and "{" not in status

                # The connection drops while alice's new preferences are being saved; Xiaozhi asks again.
                confirmed = endpoint.speak("set_push_preferences", drop=True, channels="邮件",
                                           email="alice.ops@example.test")  # fmt: skip
                assert confirmed == "好的，alice，以后通过邮件通知你，邮箱是 alice.ops@example.test。"
                assert len(endpoint.sessions) == 2 and endpoint.sessions[1].ready.is_set()
                assert endpoint.sessions[1].next_id == 4  # the retried call was id 3 again on the new connection

                sent = endpoint.speak("send_briefing")  # the speaker is remembered across the drop
                assert sent == "好的，简报已经发到alice.ops@example.test。"
                assert [rcpt for _from, rcpt in inbox.envelopes] == [["alice.ops@example.test"]]
                mail = inbox.messages[0]
                inline = [p.get_filename() for p in mail.walk() if p.get("Content-ID")]
                assert "overview.png" in inline  # the overview chart is in the mail itself

                refused = endpoint.speak("approve_rollback", incident_id=waiting["id"], user="bob")
                assert "没有回滚权限" in refused
                asked = endpoint.speak("approve_rollback", incident_id=waiting["id"], user="alice")
                assert "确认" in asked  # the action and a code are spoken back; nothing is approved yet
                code = asked.split("操作码")[1].strip(" 。")
                approved = endpoint.speak("confirm_rollback", incident_id=waiting["id"], action_hash=code)
                assert "已批准" in approved
                done = run_cli("incidents", "show", waiting["id"], "--json", "--config", str(config), home=home)
                assert json.loads(done.stdout)["status"] == "resolved"
                for answer in ("greeting", "status", "confirmed", "sent", "refused", "approved"):
                    text = locals()[answer]
                    assert not re.search(r"[{}\[\]`*#_]", text), (answer, text)  # speakable: no markup or JSON
                    assert answer == "greeting" or len(text) <= 80, (answer, text)
            finally:
                code = _stop(bridge)
        output = log.read_text()
        assert code == 0, output
        assert endpoint.closes[-1] == 1001  # going away: a clean close on SIGTERM
        assert endpoint.bad_frames == []
        assert CountingConnection.pings > 0  # keepalive
        assert TOKEN not in output and "token=***" in output
        assert "cut off by the dropped connection" in output  # the retried call was not run a second time
        pids = [int(p) for p in re.findall(r"MCP server started \(pid (\d+)\)", output)]
        assert len(pids) == 1 and _gone(pids[0])  # one server across both connections, ended with the bridge
    finally:
        controller.stop()

    settings = load_settings(config)
    ledger = Ledger(Store.from_url(f"sqlite:///{home / 'alertpilot.db'}"))
    assert settings.user("alice") is not None
    assert ledger.preferences("alice")["channels"] == ["email"]  # type: ignore[index]


def test_a_refused_token_stops_the_bridge_and_is_never_logged(tmp_path: Path, home: Path) -> None:
    config = _config(tmp_path, free_port())
    log = tmp_path / "bridge.log"
    with xiaozhi_endpoint(TOKEN) as endpoint:
        bridge = _bridge(config, home, endpoint.url.replace(TOKEN, "revoked-token-123"), log)
        code = bridge.wait(timeout=60)
    output = log.read_text()
    assert code == 1 and endpoint.refused == 1
    assert "HTTP 401" in output and "assistant.endpoint_env" in output
    assert "revoked-token-123" not in output


def test_the_bridge_waits_for_an_endpoint_that_is_not_up_yet(tmp_path: Path, home: Path) -> None:
    config = _config(tmp_path, free_port())
    port = free_port()
    log = tmp_path / "bridge.log"
    bridge = _bridge(config, home, f"ws://127.0.0.1:{port}/mcp/?token={TOKEN}", log)
    try:
        for _ in range(300):
            if log.read_text().count("reconnecting to") >= 2:
                break
            time.sleep(0.1)
        with xiaozhi_endpoint(TOKEN, port) as endpoint:
            endpoint.wait_ready(1)
            assert "目前没有未关闭的事件" in endpoint.speak("list_open_incidents")
    finally:
        code = _stop(bridge)
    output = log.read_text()
    delays = [float(d) for d in re.findall(r"reconnecting to \S+ in ([\d.]+)s", output)]
    assert len(delays) >= 2 and all(0 < d <= 2 for d in delays)  # backoff, capped by assistant.reconnect_max_s
    assert code == 0 and TOKEN not in output


def test_missing_or_bad_endpoint_is_a_one_line_usage_error(tmp_path: Path, home: Path) -> None:
    config = _config(tmp_path, free_port())
    missing = run_cli("mcp", "connect", "assistant", "--config", str(config), home=home)
    assert missing.returncode == 2
    assert "assistant.endpoint_env: environment variable XIAOZHI_MCP_ENDPOINT is not set" in missing.stderr
    bad = run_cli("mcp", "connect", "assistant", "--endpoint", "https://x/mcp/?token=secret99", home=home)
    assert bad.returncode == 2 and "--endpoint: expected a ws:// or wss:// URL" in bad.stderr
    assert "secret99" not in bad.stderr
    unknown = run_cli("mcp", "connect", "nope", "--endpoint", "ws://127.0.0.1:1/mcp/", home=home)
    assert unknown.returncode == 2 and "NAME: unknown MCP server 'nope'" in unknown.stderr


def test_serve_runs_the_bridge_as_a_supervised_child(tmp_path: Path, home: Path) -> None:
    import yaml

    config = _config(tmp_path, free_port())
    data = yaml.safe_load(config.read_text())
    data["assistant"]["connect"] = True
    config.write_text(yaml.safe_dump(data))
    refused = run_cli("serve", "--no-worker", "--config", str(config), home=home, ALERTPILOT_WEBHOOK_TOKEN="t")
    assert refused.returncode == 2 and "assistant.endpoint_env" in refused.stderr

    log = tmp_path / "serve.log"
    port = free_port()
    with xiaozhi_endpoint(TOKEN) as endpoint:
        serve = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--no-worker", "--port", str(port), "--config", str(config)],
            cwd=ROOT, env=cli_env(home, XIAOZHI_MCP_ENDPOINT=endpoint.url, ALERTPILOT_WEBHOOK_TOKEN="t"),
            stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            endpoint.wait_ready(1, timeout=90)
            assert "目前有1个" not in endpoint.speak("list_open_incidents")
        finally:
            serve.send_signal(signal.SIGTERM)
            code = serve.wait(timeout=60)
        for _ in range(100):
            if endpoint.closes:
                break
            time.sleep(0.1)
    output = log.read_text()
    assert code in (0, -signal.SIGTERM), output  # uvicorn re-raises the signal after its graceful shutdown
    assert endpoint.closes == [1001]  # serve stopped its child, which said goodbye
    child = re.search(r"assistant bridge runs as child pid (\d+)", output)
    assert child and _gone(int(child.group(1)))
    assert TOKEN not in output
    run_files = list((home / "run").glob("serve-*.yaml"))
    assert run_files and all(oct(f.stat().st_mode & 0o777) == "0o600" for f in run_files)
