"""The bridge's pure parts: redaction, backoff with jitter, and request ids across dropped connections."""

from __future__ import annotations

import random

from server.bridge import Backoff, Calls, redact, secrets_of


def test_the_token_never_survives_redaction() -> None:
    url = "wss://api.xiaozhi.me/mcp/?token=eyJhbGciOi.secret.sig&agent=7"
    assert redact(url) == "wss://api.xiaozhi.me/mcp/?token=***&agent=***"
    assert redact("ws://user:pw1234@127.0.0.1:9/mcp/") == "ws://user:***@127.0.0.1:9/mcp/"
    assert secrets_of(url) == ["eyJhbGciOi.secret.sig"]


def test_backoff_doubles_with_jitter_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(7))
    waits = [backoff.next() for _ in range(6)]
    bases = [1, 2, 4, 8, 8, 8]
    assert all(base / 2 <= wait <= base for wait, base in zip(waits, bases, strict=True))
    assert len(set(waits)) == len(waits)  # jittered: two bridges do not retry in step
    backoff.reset()
    assert backoff.next() <= 1.0


def _call(request_id: int, name: str = "set_push_preferences", **arguments: object) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def test_answers_go_back_under_the_endpoints_id_on_the_connection_that_asked() -> None:
    calls = Calls()
    calls.connected(1)
    forward, answer = calls.from_endpoint({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
    assert answer is None and forward is not None
    reply = calls.from_server({"jsonrpc": "2.0", "id": forward["id"], "result": {"ok": True}})
    assert reply == {"jsonrpc": "2.0", "id": 1, "result": {"ok": True}}
    notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert calls.from_endpoint(notification) == (notification, None)


def test_a_call_cut_off_by_a_drop_is_answered_once_when_asked_again() -> None:
    now = [0.0]
    calls = Calls(orphan_ttl_s=60, clock=lambda: now[0])
    calls.connected(1)
    forward, _ = calls.from_endpoint(_call(3, channels="email"))
    assert forward is not None
    calls.dropped()
    # the server answers after the drop: nobody receives it now
    assert calls.from_server({"jsonrpc": "2.0", "id": forward["id"], "result": {"text": "saved"}}) is None
    calls.connected(2)
    again, answer = calls.from_endpoint(_call(3, channels="email"))  # the same ids restart on a new connection
    assert again is None and answer == {"jsonrpc": "2.0", "id": 3, "result": {"text": "saved"}}
    # a third ask is a new question: it runs
    third, answer = calls.from_endpoint(_call(4, channels="email"))
    assert third is not None and answer is None


def test_a_call_still_running_when_asked_again_answers_the_new_request() -> None:
    calls = Calls()
    calls.connected(1)
    forward, _ = calls.from_endpoint(_call(3, name="send_briefing"))
    calls.dropped()
    calls.connected(2)
    assert calls.from_endpoint(_call(3, name="send_briefing")) == (None, None)  # not sent twice
    assert forward is not None
    assert calls.from_server({"jsonrpc": "2.0", "id": forward["id"], "result": {}}) == {"jsonrpc": "2.0", "id": 3,
                                                                                         "result": {}}  # fmt: skip


def test_a_different_call_after_a_drop_runs_and_stale_orphans_expire() -> None:
    now = [0.0]
    calls = Calls(orphan_ttl_s=60, clock=lambda: now[0])
    calls.connected(1)
    forward, _ = calls.from_endpoint(_call(3, channels="email"))
    calls.dropped()
    assert forward is not None
    calls.from_server({"jsonrpc": "2.0", "id": forward["id"], "result": {}})
    calls.connected(2)
    other, answer = calls.from_endpoint(_call(3, channels="dingtalk"))
    assert other is not None and answer is None
    now[0] = 120
    late, answer = calls.from_endpoint(_call(4, channels="email"))
    assert late is not None and answer is None  # two minutes on, asking again means asking anew


def test_a_restarted_server_fails_the_current_requests_in_words() -> None:
    calls = Calls()
    calls.connected(1)
    calls.from_endpoint(_call(5, name="daily_briefing"))
    [error] = calls.server_restarted()
    assert error["id"] == 5 and "ask again" in error["error"]["message"]
