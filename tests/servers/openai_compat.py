"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, shaped like real providers.

It speaks ``POST /v1/chat/completions`` (no streaming) and answers each request with what
a responder function decides, in the response shape of a chosen provider profile:

- ``openai``: ``content: null`` beside ``tool_calls``, ``finish_reason: tool_calls``,
  ``usage`` with ``*_tokens_details``, ``system_fingerprint``;
- ``dashscope`` (Qwen, compatible mode): ``content: ""`` with tool calls that carry an
  ``index``, ``usage.prompt_tokens_details.cached_tokens``, error bodies with string codes;
- ``vllm``: ``reasoning_content: null``, ``stop_reason`` per choice, ``chatcmpl-tool-`` ids;
- ``llamacpp`` (``llama-server --jinja``): ``timings``, ``system_fingerprint: b<build>``;
- ``llama-cpp-python`` (its server, a compatibility profile): llama.cpp's shapes plus its quirks.

Besides answers it can fail like a provider (an HTTP status with that provider's error
body), answer slowly, or accept the request and never answer (a silent server). Every
request body is kept in :attr:`ScriptedOpenAI.requests` so tests can assert what the
client sent (``tool_choice``, ``max_tokens``, no ``content: null``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROFILES = ("openai", "dashscope", "vllm", "llamacpp")
# llama-cpp-python 0.3.36's server (`python -m llama_cpp.server`): answers like llama.cpp, but 500s
# a json_schema response format, tool_choice "required" and an assistant turn with content null,
# and ignores tools sent without a tool_choice (DESIGN §7). A compatibility profile, not in PROFILES.
LLAMA_CPP_PYTHON = "llama-cpp-python"


@dataclass
class Reply:
    """What to answer one request with."""

    content: str | None = None
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    finish_reason: str | None = None  # default: tool_calls when there are calls, else stop
    status: int = 200
    error: str = ""  # with status >= 400: the provider's error message
    delay_s: float = 0.0
    silent: bool = False  # accept and never answer
    usage: tuple[int, int] = (120, 30)


Responder = Callable[[dict[str, Any]], Reply]


def _tool_calls(profile: str, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for index, (name, args) in enumerate(calls):
        call_id = f"chatcmpl-tool-{uuid.uuid4().hex[:16]}" if profile == "vllm" else f"call_{uuid.uuid4().hex[:24]}"
        entry: dict[str, Any] = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }
        if profile in ("dashscope", "llamacpp"):
            entry["index"] = index
        out.append(entry)
    return out


def body_for(profile: str, model: str, reply: Reply) -> dict[str, Any]:
    """A chat.completion body as ``profile`` sends it."""
    calls = _tool_calls(profile, reply.tool_calls)
    content = reply.content
    if calls and content is None:
        content = None if profile in ("openai", "vllm") else ""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = calls
    if profile == "openai":
        message["refusal"] = None
    if profile == "vllm":
        message["reasoning_content"] = None
    finish = reply.finish_reason or ("tool_calls" if calls else "stop")
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
    if profile == "vllm":
        choice["stop_reason"] = None
    prompt, completion = reply.usage
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if profile == "openai":
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        usage["completion_tokens_details"] = {"reasoning_tokens": 0}
    if profile == "dashscope":
        usage["prompt_tokens_details"] = {"cached_tokens": 0}
    body: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": usage,
    }
    if profile == "openai":
        body["system_fingerprint"] = "fp_0a1b2c3d4e"
        body["service_tier"] = "default"
    if profile == "dashscope":
        body["system_fingerprint"] = None
    if profile == "llamacpp":
        body["system_fingerprint"] = "b11434-0a1b2c3"
        body["timings"] = {"prompt_n": prompt, "prompt_ms": 80.0, "predicted_n": completion, "predicted_ms": 150.0}
    if profile == "vllm":
        body["prompt_logprobs"] = None
    return body


def error_for(profile: str, status: int, message: str) -> dict[str, Any]:
    """An error body as ``profile`` sends it."""
    if profile == "dashscope":
        code = {400: "invalid_parameter_error", 429: "Throttling.RateQuota"}.get(status, "InternalError")
        return {"error": {"code": code, "param": None, "message": message, "type": code}}
    if profile == "llamacpp":
        return {
            "error": {
                "code": status,
                "message": message,
                "type": "server_error" if status >= 500 else "invalid_request_error",
            }
        }
    if profile == "vllm":
        return {"object": "error", "message": message, "type": "BadRequestError", "param": None, "code": status}
    return {"error": {"message": message, "type": "server_error" if status >= 500 else "invalid_request_error",
                      "param": None, "code": None}}  # fmt: skip


class ScriptedOpenAI:
    """The server; use :func:`serve` to run it on a free loopback port."""

    def __init__(self, responder: Responder, profile: str = "openai") -> None:
        assert profile in (*PROFILES, LLAMA_CPP_PYTHON), profile
        self.responder = responder
        self.profile = profile
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.closing = threading.Event()

    def handle(self, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None, Reply]:
        with self._lock:
            self.requests.append(body)
        if self.profile == LLAMA_CPP_PYTHON:
            quirk = _llama_cpp_python_refusal(body)
            if quirk:
                return 500, error_for("llamacpp", 500, quirk), Reply(status=500)
            if body.get("tools") and "tool_choice" not in body:
                body = {k: v for k, v in body.items() if k != "tools"}  # it answers as if none were sent
        reply = self.responder(body)
        if reply.status >= 400:
            return reply.status, error_for(self.profile, reply.status, reply.error or "failure"), reply
        shape = "llamacpp" if self.profile == LLAMA_CPP_PYTHON else self.profile
        return 200, body_for(shape, str(body.get("model", "scripted")), reply), reply


def _llama_cpp_python_refusal(body: dict[str, Any]) -> str:
    """The request shapes llama-cpp-python's server answers 500 to (empty: it serves the request)."""
    if (body.get("response_format") or {}).get("type") == "json_schema":
        return "'json_schema' response format is not supported"
    if body.get("tool_choice") == "required":
        return "tool_choice 'required' is not supported"
    if any(m.get("role") == "assistant" and m.get("content") is None for m in body.get("messages", [])):
        return "assistant message content must be a string"
    return ""


def _handler(server: ScriptedOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:  # quiet
            return

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            status, payload, reply = server.handle(body)
            if reply.silent:  # hold the connection open and say nothing
                server.closing.wait(600)
                return
            if reply.delay_s:
                server.closing.wait(reply.delay_s)
            self._send(status, payload or {})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (its timeout): nothing to do

    return Handler


@contextmanager
def serve(responder: Responder, profile: str = "openai") -> Iterator[tuple[ScriptedOpenAI, str]]:
    """Run a scripted server on 127.0.0.1; yields (server, base_url ending in /v1)."""
    scripted = ScriptedOpenAI(responder, profile)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(scripted))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield scripted, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        scripted.closing.set()
        httpd.shutdown()
        httpd.server_close()


# ----------------------------------------------------------------------------- responders


def has_tool(body: dict[str, Any], name: str) -> bool:
    """Whether the request offers tool ``name``."""
    return any((t.get("function") or {}).get("name") == name for t in body.get("tools") or [])


def last_user(body: dict[str, Any]) -> str:
    """The text of the request's last user message."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return str(users[-1].get("content") or "") if users else ""


def incident_agent(read: tuple[str, dict[str, Any]] | None = ("list_metrics", {})) -> Responder:
    """A model that plays every role of the incident graph sensibly.

    Investigations make one read (``read``) and then stop; final answers are JSON of the
    asked schema (diagnosis and review answers); the planner proposes the ladder's
    suggestion; the briefing is a short speech.
    """

    def respond(body: dict[str, Any]) -> Reply:
        messages = body.get("messages", [])
        if has_tool(body, "version_rollback") or has_tool(body, "restart"):
            name = next(t["function"]["name"] for t in body["tools"])
            text = last_user(body)
            target = "v2.1" if "v2.1" in text else None
            args = {"service": "checkout", "namespace": "shop", **({"target": target} if target else {})}
            return Reply(tool_calls=[(name, args)])
        system = str(messages[0].get("content", "")) if messages else ""
        if body.get("tools") and not any(m.get("role") == "tool" for m in messages) and read is not None:
            return Reply(tool_calls=[read])
        if "ReviewAnswer" in system or '"findings"' in system:
            return Reply(content=json.dumps({"findings": [], "summary": "no fatal bug beyond the analyzers'"}))
        if "DiagnosisAnswer" in system or "root_cause" in system:
            return Reply(content=json.dumps({
                "summary": "checkout errors began with release v2.2",
                "root_cause": "release v2.2 of checkout",
                "suspected_release": "v2.2",
                "known_good_release": "v2.1",
                "release_confidence": 0.8,
                "evidence": ["version change"],
            }))  # fmt: skip
        if body.get("tools"):
            return Reply(content="Done reading.")
        return Reply(content="Good morning. Here is yesterday's alert briefing.")

    return respond
