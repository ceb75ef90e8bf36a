"""Our MCP servers over stdio: a call answers JSON with status/data/error and logs nothing per request."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conftest import DEMO_CASE, ROOT, cli_env

pytestmark = pytest.mark.integration


async def _calls(config: Path, home: Path, errlog: Path) -> list[dict[str, object]]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cli", "mcp", "serve", "observability", "--config", str(config)],
        env=cli_env(home),
        cwd=str(ROOT),
    )
    answers = []
    with errlog.open("w") as sink:
        async with stdio_client(params, errlog=sink) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            for _ in range(5):
                result = await session.call_tool("execute_query", {"query": 'http_requests_total{service="checkout"}'})
                answers.append(json.loads(result.content[0].text))  # type: ignore[union-attr]
    return answers


def test_execute_query_answers_and_writes_no_line_per_request(tmp_path: Path) -> None:
    config = tmp_path / "alertpilot.yaml"
    config.write_text(f"world: {DEMO_CASE}\n")
    errlog = tmp_path / "stderr.txt"
    answers = asyncio.run(_calls(config, tmp_path / "home", errlog))
    assert all(a["status"] == "success" and a["data"]["resultType"] == "vector" for a in answers)
    assert "Processing request" not in errlog.read_text()
