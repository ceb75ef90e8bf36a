"""A local server speaking Tencent Cloud's API 3.0 (TC3-HMAC-SHA256 signed JSON over POST).

Drives the real tencentcloud-sdk-python clients pointed at it through
``HttpProfile(endpoint="127.0.0.1:PORT")``. Every request's signature is checked with the
documented algorithm against the secret key of the SecretId it names; a bad signature
answers ``AuthFailure.SignatureFailure`` as the real API does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key: str, *, method: str, uri: str, query: str, headers: dict[str, str],
                  signed: list[str], body: bytes, timestamp: str, date: str, service: str) -> str:  # fmt: skip
    """The TC3-HMAC-SHA256 signature as documented (cloud.tencent.com/document/api/213/30654)."""
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    canonical = "\n".join([method, uri, query, canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class TencentApi:
    """Serves registered actions; records (service, action, secret id, params) of every call."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.actions: dict[str, Handler] = {}
        self.calls: list[dict[str, Any]] = []
        api = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = api.handle(self.command, self.path, dict(self.headers.items()), body)
                data = json.dumps({"Response": answer}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.port = self.server.server_address[1]
        self.endpoint = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TencentApi:
        self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        lower = {k.lower(): v for k, v in headers.items()}
        request_id = str(uuid.uuid4())
        match = re.fullmatch(
            r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
            r"SignedHeaders=([a-z;-]+), Signature=([0-9a-f]{64})",
            lower.get("authorization", ""),
        )
        if not match:
            return {
                "Error": {"Code": "AuthFailure.InvalidAuthorization", "Message": "bad header"},
                "RequestId": request_id,
            }
        secret_id, date, service, signed, signature = match.groups()
        secret_key = self.secrets.get(secret_id)
        if secret_key is None:
            return {"Error": {"Code": "AuthFailure.SecretIdNotFound", "Message": secret_id}, "RequestId": request_id}
        expected = tc3_signature(
            secret_key, method=method, uri=path.split("?")[0], query="", headers=lower,
            signed=signed.split(";"), body=body, timestamp=lower["x-tc-timestamp"], date=date, service=service,
        )  # fmt: skip
        if not hmac.compare_digest(expected, signature):
            return {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "signature"}, "RequestId": request_id}
        action = lower.get("x-tc-action", "")
        params = json.loads(body or b"{}")
        self.calls.append({"service": service, "action": action, "secret_id": secret_id, "params": params,
                           "region": lower.get("x-tc-region"), "version": lower.get("x-tc-version")})  # fmt: skip
        handler = self.actions.get(action)
        if handler is None:
            return {"Error": {"Code": "InvalidAction", "Message": action}, "RequestId": request_id}
        return {**handler(params), "RequestId": request_id}
