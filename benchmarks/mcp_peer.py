"""Our observability MCP server against prometheus-mcp-server, over stdio, on the same Prometheus and query.

    python benchmarks/mcp_peer.py --peer /path/to/venv/bin/prometheus-mcp-server [--calls 300]

Starts a real Prometheus on 127.0.0.1 (scraping itself), then both servers as stdio
subprocesses, and times ``execute_query`` (the same PromQL) through the MCP client
(``mcp.ClientSession``), alternating between the two in rounds so the machine's load
falls on both alike. Prints start-up (spawn to initialized + tools listed) and the median
and p90 per-call latency of each, their ratio, and whether either wrote to stderr per
request. The peer is installed apart (its pins clash with ours):
``python -m venv /tmp/peer && /tmp/peer/bin/pip install prometheus-mcp-server==1.6.2``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUERY = 'sum by (job) (rate(prometheus_http_requests_total[1m])) or up{job="prometheus"}'


def start_prometheus(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    config = tmp / "prometheus.yml"
    config.write_text(
        f"global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: prometheus\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    binary = shutil.which("prometheus") or sys.exit("needs prometheus on PATH")
    return subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def open_server(stack: AsyncExitStack, command: list[str], env: dict[str, str], errlog: Any) -> tuple[Any, float]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    started = time.perf_counter()
    params = StdioServerParameters(command=command[0], args=command[1:], env=env)
    read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    await session.list_tools()
    return session, time.perf_counter() - started


async def bench(peer: str, calls: int, prometheus_url: str, tmp: Path) -> dict[str, Any]:
    config = tmp / "alertpilot.yaml"
    config.write_text(f"prometheus: {{url: {prometheus_url}}}\n")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTPILOT_")}
    ours_cmd = [sys.executable, "-m", "cli", "mcp", "serve", "observability", "--config", str(config)]
    ours_env = {**base_env, "PYTHONPATH": str(ROOT), "ALERTPILOT_HOME": str(tmp / "home")}
    peer_env = {**base_env, "PROMETHEUS_URL": prometheus_url}
    logs = {name: (tmp / f"{name}.stderr").open("w+") for name in ("ours", "peer")}
    async with AsyncExitStack() as stack:
        os.chdir(ROOT)
        ours, ours_start = await open_server(stack, ours_cmd, ours_env, logs["ours"])
        theirs, peer_start = await open_server(stack, [peer], peer_env, logs["peer"])
        sessions = {"ours": ours, "peer": theirs}
        for session in sessions.values():  # warm both (connection pools, imports on first call)
            for _ in range(20):
                await session.call_tool("execute_query", {"query": QUERY})
        sizes = {name: log.tell() for name, log in logs.items()}
        times: dict[str, list[float]] = {"ours": [], "peer": []}
        for round_ in range(calls):
            order = ("ours", "peer") if round_ % 2 == 0 else ("peer", "ours")
            for name in order:
                t0 = time.perf_counter()
                result = await sessions[name].call_tool("execute_query", {"query": QUERY})
                times[name].append((time.perf_counter() - t0) * 1000)
                assert not result.isError, result
    for log in logs.values():
        log.flush()
    stderr_growth = {name: log.seek(0, 2) - sizes[name] for name, log in logs.items()}
    return {
        "calls": calls,
        "startup_s": {"ours": round(ours_start, 3), "peer": round(peer_start, 3)},
        "median_ms": {n: round(statistics.median(v), 3) for n, v in times.items()},
        "p90_ms": {n: round(statistics.quantiles(v, n=10)[-1], 3) for n, v in times.items()},
        "stderr_bytes_during_calls": stderr_growth,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", default=shutil.which("prometheus-mcp-server"), help="prometheus-mcp-server binary")
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    if not args.peer:
        sys.exit("--peer: prometheus-mcp-server not found (install it in its own venv, see the docstring)")
    from tests.conftest import free_port, wait_for_port

    with tempfile.TemporaryDirectory(prefix="mcp-bench-") as name:
        tmp = Path(name)
        port = free_port()
        prometheus = start_prometheus(tmp, port)
        try:
            wait_for_port(port)
            time.sleep(3)  # a few scrapes, so the query has samples
            result = asyncio.run(bench(args.peer, args.calls, f"http://127.0.0.1:{port}", tmp))
        finally:
            prometheus.terminate()
            prometheus.wait(10)
    ratio = result["median_ms"]["ours"] / result["median_ms"]["peer"]
    print(f"start-up  ours {result['startup_s']['ours']:.2f}s  peer {result['startup_s']['peer']:.2f}s")
    print(f"median    ours {result['median_ms']['ours']:.2f}ms  peer {result['median_ms']['peer']:.2f}ms  "
          f"ratio {ratio:.2f} (target <= 1)")  # fmt: skip
    print(f"p90       ours {result['p90_ms']['ours']:.2f}ms  peer {result['p90_ms']['peer']:.2f}ms")
    print(f"stderr bytes written during {result['calls']} calls: {result['stderr_bytes_during_calls']}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
