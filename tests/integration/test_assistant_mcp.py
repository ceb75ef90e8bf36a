"""The assistant MCP server, driven by a real MCP client over stdio as Xiaozhi's bridge would."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conftest import ROOT, cli_env, free_port, run_cli
from tests.integration.scenario import scenario_config, start_incident
from tests.integration.test_briefing_email import Inbox
from tests.servers.tencent import TencentApi

pytestmark = pytest.mark.integration
ALICE = {"ALICE_ID": "AKIDalice", "ALICE_KEY": "alice-secret-key"}
TOOLS = {
    "daily_briefing", "list_open_incidents", "incident_status", "operations_stats", "approve_rollback",
    "confirm_rollback", "reject_rollback", "send_briefing", "set_push_preferences", "list_clusters", "cluster_nodes",
    "search_logs",
}  # fmt: skip


def _tencent(api: TencentApi) -> None:
    api.actions["DescribeClusters"] = lambda _p: {
        "TotalCount": 2,
        "Clusters": [
            {"ClusterId": "cls-prod", "ClusterName": "prod", "ClusterStatus": "Running", "ClusterNodeNum": 3},
            {"ClusterId": "cls-stage", "ClusterName": "stage", "ClusterStatus": "Abnormal", "ClusterNodeNum": 1},
        ],
    }
    api.actions["DescribeClusterInstances"] = lambda p: {
        "TotalCount": 3,
        "InstanceSet": [
            {"InstanceId": "ins-a", "InstanceRole": "WORKER", "InstanceState": "running", "NodePoolId": "np-web"},
            {"InstanceId": "ins-b", "InstanceRole": "WORKER", "InstanceState": "running", "NodePoolId": "np-web"},
            {"InstanceId": "ins-c", "InstanceRole": "WORKER", "InstanceState": "failed",
             "FailedReason": "DiskPressure", "NodePoolId": "np-batch"},
        ] if p.get("ClusterId") == "cls-prod" else [],
    }  # fmt: skip
    now_ms = int(time.time() * 1000)

    def search_log(params: dict[str, Any]) -> dict[str, Any]:
        first = not params.get("Context")
        lines = ["timeout calling payment 1234", "timeout calling payment 5678"] if first else ["db pool exhausted"]
        return {
            "Context": "page-2" if first else "",
            "ListOver": not first,
            "Analysis": False,
            "Results": [
                {
                    "Time": now_ms,
                    "TopicId": params["TopicId"],
                    "Source": "10.0.0.9",
                    "LogJson": json.dumps({"message": line, "level": "ERROR"}),
                }
                for line in lines
            ],  # fmt: skip
        }

    api.actions["SearchLog"] = search_log


def _config(tmp_path: Path, api: TencentApi, smtp_port: int) -> Path:
    return scenario_config(
        tmp_path,
        {
            "users": [
                {"name": "alice", "email": "alice@example.test", "rollback_permission": True, "channels": [],
                 "tencent_secret_id_env": "ALICE_ID", "tencent_secret_key_env": "ALICE_KEY", "speaker": "alice"},
                {"name": "bob", "rollback_permission": False, "speaker": "bob"},
                {"name": "carol", "rollback_permission": True},
            ],
            "briefing": {"window": "00:00-24:00", "utc_offset_hours": 0},
            "assistant": {"region": "ap-guangzhou", "tke_endpoint": api.endpoint},
            "logs": {"cls": {"endpoint": api.endpoint, "region": "ap-shanghai", "topics": {"business": "topic-biz"}}},
            "notify": {"smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "alertpilot@example.test"}},
        },
    )  # fmt: skip


async def _speak(session: ClientSession, tool: str, **args: Any) -> str:
    result = await session.call_tool(tool, args)
    assert not result.isError, result.content
    answer = json.loads(result.content[0].text)
    assert answer["action"] == "RESPONSE"
    return str(answer["response"])


def _status(home: Path, config: Path, incident_id: str) -> str:
    done = run_cli("incidents", "show", incident_id, "--json", "--config", str(config), home=home)
    return str(json.loads(done.stdout)["status"])


async def _conversation(tmp_path: Path, home: Path, api: TencentApi, inbox: Inbox, smtp_port: int) -> None:
    config = _config(tmp_path, api, smtp_port)
    first = start_incident(config, home)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cli", "mcp", "serve", "assistant", "--config", str(config)],
        env=cli_env(home, **ALICE),
        cwd=str(ROOT),
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(read, write, read_timeout_seconds=timedelta(seconds=90)) as session,
    ):
        await session.initialize()
        assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS

        greeting = await _speak(session, "daily_briefing", user="alice")
        assert greeting.startswith("你好，alice。下面我将从告警历史、日志文件、仪表盘三个角度为你播报昨日告警内容")
        assert "邮箱" in greeting
        assert "已经为你播报过" in await _speak(session, "daily_briefing", user="alice")

        assert "1个未关闭的事件" in await _speak(session, "list_open_incidents")
        status = await _speak(session, "incident_status", incident_id=first["id"])
        assert "等待批准的操作是：版本回滚到 v2.1" in status

        rejected = await _speak(session, "reject_rollback", incident_id=first["id"], user="alice", reason="sale")
        assert "已拒绝" in rejected and "已转交人工" in rejected
        assert _status(home, config, first["id"]) == "escalated"

        second = start_incident(config, home, variant="second")
        refused = await _speak(session, "approve_rollback", incident_id=second["id"], user="bob")
        assert refused == "抱歉，bob，你没有回滚权限，不能批准这次回滚。请联系有权限的同事。"
        unidentified = await _speak(session, "approve_rollback", incident_id=second["id"], user="carol")
        assert "没能通过声音确认你的身份" in unidentified  # a configured name without a voiceprint is not enough
        assert _status(home, config, second["id"]) == "awaiting_approval"
        asked = await _speak(session, "approve_rollback", incident_id=second["id"], user="alice")
        assert "version_rollback" in asked and "确认" in asked
        assert _status(home, config, second["id"]) == "awaiting_approval"  # nothing is approved before the confirmation
        code = asked.split("操作码")[1].strip(" 。")
        approved = await _speak(session, "confirm_rollback", incident_id=second["id"], action_hash=code)
        assert "已批准" in approved and "已解决" in approved
        assert _status(home, config, second["id"]) == "resolved"

        # the week so far: the rejected rollback is with people, the approved one fixed its incident
        week = await _speak(session, "operations_stats", days=7)
        assert week.startswith("过去 7 天共有 2 个事件，已解决 1 个，仍在人工处理 1 个。"), week
        assert "approval_rejected" in week and "验证成功率是 100%" in week

        sent = await _speak(session, "send_briefing", user="alice", channel="email")
        assert "alice@example.test" in sent and len(inbox.messages) == 1

        # alice is remembered for the session TTL: her credentials sign the Tencent calls.
        clusters = await _speak(session, "list_clusters", region="ap-guangzhou")
        assert clusters.startswith("广州地域有2个集群") and "stage，异常" in clusters
        nodes = await _speak(session, "cluster_nodes", cluster_id="cls-prod")
        assert "3个节点，2个运行正常" in nodes and "ins-c 异常，原因：DiskPressure，属于节点池 np-batch" in nodes
        logs = await _speak(session, "search_logs", kind="business", query="level:ERROR", minutes=30)
        assert "3条" in logs and "“timeout calling payment #”2次" in logs

        assert {c["secret_id"] for c in api.calls} == {"AKIDalice"}
        assert [c["action"] for c in api.calls] == [
            "DescribeClusters", "DescribeClusterInstances", "SearchLog", "SearchLog"]  # fmt: skip
        assert api.calls[2]["params"]["TopicId"] == "topic-biz" and api.calls[3]["params"]["Context"] == "page-2"
        assert api.calls[2]["region"] == "ap-shanghai"

        no_creds = await _speak(session, "list_clusters", region="ap-guangzhou", user="bob")
        assert no_creds == "抱歉，bob，你的腾讯云凭据还没有配置，我不能替你查询。"
        assert len(api.calls) == 4
        assert "没有配置" in await _speak(session, "search_logs", kind="audit", query="*", minutes=5)


def test_voice_assistant_over_stdio(tmp_path: Path, home: Path) -> None:
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with TencentApi({ALICE["ALICE_ID"]: ALICE["ALICE_KEY"]}) as api:
            _tencent(api)
            asyncio.run(asyncio.wait_for(_conversation(tmp_path, home, api, inbox, smtp_port), timeout=240))
    finally:
        controller.stop()
