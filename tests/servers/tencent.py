"""A tiny Tencent Cloud API 3.0 server: POST / with X-TC-Action, answers {"Response": {...}}.

Handlers are registered per action; every request is recorded (action, headers, body).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class TencentServer:
    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.endpoint = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> TencentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                action = self.headers.get("X-TC-Action", "")
                server.requests.append((action, dict(self.headers), body))
                handler = server.handlers.get(action)
                if not self.headers.get("Authorization", "").startswith("TC3-HMAC-SHA256"):
                    answer = {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "unsigned"}}
                elif handler is None:
                    answer = {"Error": {"Code": "InvalidAction", "Message": f"{action} not found"}}
                else:
                    answer = handler(body)
                answer["RequestId"] = "req-1"
                data = json.dumps({"Response": answer}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
