"""Error signatures: values are parameters, constants stay, similar messages group like Drain or better."""

from __future__ import annotations

import json

import pytest

from tools.logs.classify import LogSummary, feed
from tools.logs.signatures import group, key_of

WILD = "<*>"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Receiving block blk_-1608999687919862906 src", "Receiving block blk_7503483334202473044 src"),  # signed ids
        (
            "session 5f0c7a2e-1111-4abc-8def-0123456789ab expired",
            "session 00000000-2222-4abc-8def-0a23456789ab expired",
        ),
        ("connect to 10.0.3.4:5432 refused", "connect to 192.168.10.250:6432 refused"),
        ("pointer 0x7ffd5b1c at fault", "pointer 0xdeadbeef at fault"),
        ("query took 250ms", "query took 3.2s"),  # durations with their unit
        ("wrote 1.2 KB (1234 bytes) to disk", "wrote 16.0 B (16 bytes) to disk"),
        ("open /var/lib/app/data/4411.db failed", "open /tmp/x.db failed"),  # paths
        ("GET https://pay.example.com/v1/charge failed", "GET http://10.0.0.2:8080/ failed"),  # URLs
        ("user 'alice' not found", "user 'bob' not found"),  # quoted values
        ("started at 2026-11-20T03:00:01.123Z", "started at 2026-11-21 04:05:06,789"),  # time stamps
        ("resolve proxy.cse.example.com failed", "resolve mail.example.org failed"),  # host names
    ],
)
def test_values_are_parameters(a: str, b: str) -> None:
    assert key_of(a) == key_of(b)


def test_constants_with_a_digit_stay_words() -> None:
    assert key_of("open through proxy SOCKS5") != key_of("open through proxy HTTPS")
    assert "ssh2" in key_of("Failed password for root from 10.0.0.9 port 22 ssh2")


def test_group_merges_variable_words_but_keeps_few_valued_constants() -> None:
    users = ["root", "ftp", "git", "mysql", "sshd", "uucp"]
    failed = [f"Failed password for {u} from 10.0.0.{i} port {40000 + i} ssh2" for i, u in enumerate(users * 3)]
    states = [f"[instance: {i:08x}-1111-4abc-8def-0123456789ab] VM {s} (Lifecycle Event)" for i, s in enumerate(
        ["Paused", "Resumed", "Started", "Stopped"] * 5
    )]  # fmt: skip
    templates = group(failed + states)
    assert set(templates[: len(failed)]) == {f"Failed password for {WILD} from {WILD} port {WILD} ssh2"}
    assert len(set(templates[len(failed) :])) == 4  # four constants, four templates


def test_a_summary_groups_its_error_signatures_and_keeps_the_first_example() -> None:
    lines = [
        json.dumps({"level": "error", "msg": f"Invalid user {name} from 10.1.2.{i}", "ts": 1795000000 + i})
        for i, name in enumerate(["admin", "test", "oracle", "guest", "support", "user", "pi", "ubnt"])
    ]
    summary = feed(LogSummary(), [("t", ("\n".join(lines) + "\n").encode())])
    (signature,) = summary.ranked()
    assert signature.signature == f"Invalid user {WILD} from {WILD}" and signature.count == 8
    assert signature.example == "Invalid user admin from 10.1.2.0"
    assert signature.first_seen == 1795000000 and signature.last_seen == 1795000007
