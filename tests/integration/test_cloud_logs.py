"""CLS through tencentcloud-sdk-python and COS through cos-python-sdk-v5, each against a local server
speaking the documented wire format (TC3 JSON ``{"Response": ...}``; COS ListBucketResult XML + objects).
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from state.config import ClsConfig, ClsTopics, CosConfig, LogsConfig
from tests.servers.tencent import TencentApi
from tools.logs.sources import LogSources
from tools.logs.tools import log_tools
from tools.registry import ToolRegistry

pytestmark = pytest.mark.integration
LOGS = Path(__file__).resolve().parents[2] / "evals" / "cases" / "checkout-bad-release" / "logs"
ENV = {"TENCENTCLOUD_SECRET_ID": "AKIDtest", "TENCENTCLOUD_SECRET_KEY": "secret"}
WINDOW = {"start": "2026-11-20T02:50:00Z", "end": "2026-11-20T03:15:00Z"}


def _records(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (LOGS / name).read_text().splitlines() if line.startswith("{")]


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> int:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return int(server.server_address[1])

    yield start
    for server in servers:
        server.shutdown()


def _search_log(params: dict[str, Any]) -> dict[str, Any]:
    """CLS SearchLog over the scenario's records: two pages per topic, audit search disabled."""
    topic, context = params["TopicId"], params.get("Context", "")
    if topic == "audit-topic":
        return {"Error": {"Code": "OperationDenied.AnalysisSwitchClose", "Message": "audit search disabled"}}
    cluster = _records("cluster.jsonl")
    rows = _records("checkout-app.jsonl") if topic == "biz-topic" else [r for r in cluster if r["apiVersion"] == "v1"]
    half = len(rows) // 2
    page = rows[half:] if context == "page-2" else rows[:half]
    return {
        "Context": "" if context else "page-2",
        "ListOver": bool(context),
        "Analysis": False,
        "Results": [
            {"Time": 1795142410000, "TopicId": topic, "Source": "10.0.0.1", "LogJson": json.dumps(r)} for r in page
        ],
    }


def test_cls_search_pages_and_reports_error_codes() -> None:
    api = TencentApi({ENV["TENCENTCLOUD_SECRET_ID"]: ENV["TENCENTCLOUD_SECRET_KEY"]})
    api.actions["SearchLog"] = _search_log
    with api:
        data = _trace_over_cls(api.endpoint)
    assert data["counts"]["business"] == 21 and data["counts"]["event"] == 6, data
    assert data["chains"][0]["signature"].startswith("payment client: nil response")
    assert {e["reason"] for e in data["chains"][0]["events"]} >= {"Unhealthy", "BackOff"}
    assert any("OperationDenied.AnalysisSwitchClose" in issue for issue in data["issues"])
    biz = [c["params"] for c in api.calls if c["params"]["TopicId"] == "biz-topic"]
    assert [p.get("Context", "") for p in biz] == ["", "page-2"]  # Context paging
    assert all(c["action"] == "SearchLog" and c["service"] == "cls" for c in api.calls)
    assert all(c["params"]["To"] - c["params"]["From"] == 25 * 60 * 1000 for c in api.calls)


def _trace_over_cls(endpoint: str) -> dict[str, Any]:
    cls = ClsConfig(endpoint=endpoint, topics=ClsTopics(business="biz-topic", event="event-topic", audit="audit-topic"))
    tools = ToolRegistry(log_tools(LogSources(LogsConfig(cls=cls), ENV)))
    result = tools.invoke("trace_chain", {"source": "cls", "service": "checkout", **WINDOW})
    assert result.ok, result.error
    data: dict[str, Any] = result.data
    return data


def test_cls_without_credentials_says_which_variables(serve: Any) -> None:
    tools = ToolRegistry(log_tools(LogSources(LogsConfig(cls=ClsConfig(topics=ClsTopics(business="t"))), {})))
    result = tools.invoke("classify_logs", {"source": "cls", **WINDOW})
    assert result.status == "error" and "TENCENTCLOUD_SECRET_ID" in result.error


def _cos_handler(objects: dict[str, bytes], listed: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/":
                prefix = parse_qs(url.query).get("prefix", [""])[0]
                listed.append(prefix)
                keys = sorted(k for k in objects if k.startswith(prefix))
                contents = "".join(
                    f'<Contents><Key>{k}</Key><Size>{len(objects[k])}</Size><ETag>"x"</ETag></Contents>' for k in keys
                )
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>logs-1250000000</Name>'
                    f"<Prefix>{prefix}</Prefix><Marker></Marker><MaxKeys>1000</MaxKeys>"
                    f"<IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
                ).encode()
                kind = "application/xml"
            else:
                key = url.path.lstrip("/")
                if key not in objects:
                    self.send_response(404)
                    self.end_headers()
                    return
                body, kind = objects[key], "application/octet-stream"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def test_cos_archives_stream_through_the_sdk(serve: Any) -> None:
    app = (LOGS / "checkout-app.jsonl").read_bytes()
    cluster = (LOGS / "cluster.jsonl").read_bytes()
    noise = b"".join(json.dumps({"level": "error", "message": f"disk {i} full"}).encode() + b"\n" for i in range(3000))
    objects = {
        "shop/2026/11/20/app-0001.json.gz": gzip.compress(app),
        "shop/2026/11/20/cluster-0001.json.gz": gzip.compress(cluster),
        "shop/2026/11/20/app-0002.json.gz": gzip.compress(noise)[:-300],  # truncated upload
        "shop/2026/11/19/old.json.gz": gzip.compress(app),
    }
    listed: list[str] = []
    port = serve(_cos_handler(objects, listed))
    cos = CosConfig(bucket="logs-1250000000", prefix="shop/%Y/%m/%d/", endpoint=f"127.0.0.1:{port}")
    tools = ToolRegistry(log_tools(LogSources(LogsConfig(cos=cos), ENV)))
    result = tools.invoke("trace_chain", {"source": "cos", "service": "checkout", **WINDOW})
    assert result.ok, result.error
    data = result.data
    assert listed == ["shop/2026/11/20/"]  # one day's prefix, not the bucket
    assert data["counts"]["audit"] == 5 and data["counts"]["event"] == 6
    assert any("truncated gzip" in issue and "app-0002" in issue for issue in data["issues"])
    assert data["signatures"][0]["signature"] == "disk <*> full"  # the lines before the cut count
    chain = next(c for c in data["chains"] if c["signature"].startswith("payment client"))
    assert chain["audit"][0]["who"] == "deploy-bot@ci"
