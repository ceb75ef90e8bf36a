"""The redacting log filter: configured secrets and URL credentials never reach a handler."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from server.redact import MASK, Redactor, configured_secrets, install
from state.config import NotifyConfig, Settings


@pytest.fixture
def restored() -> Iterator[None]:
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "POST https://oapi.dingtalk.com/robot/send?access_token=abc123def&timestamp=1",
            f"POST https://oapi.dingtalk.com/robot/send?access_token={MASK}&timestamp=1",
        ),
        ("postgresql://alert:pa55w0rd@db:5432/ap", f"postgresql://{MASK}@db:5432/ap"),
        ("GET /webhooks/tencent?token=zzz-top", f"GET /webhooks/tencent?token={MASK}"),
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6",
            f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={MASK}",
        ),
        ("Authorization: Bearer eyJhbGciOi", f"Authorization: Bearer {MASK}"),
        ("X-Auth-Token: s3cr3t", f"X-Auth-Token: {MASK}"),
        ("the token was used", "the token was used"),
    ],
)
def test_url_and_header_credentials_are_masked(text: str, expected: str) -> None:
    assert Redactor()(text) == expected


def test_every_settings_field_ending_in_env_names_a_secret() -> None:
    settings = Settings(notify=NotifyConfig(dingtalk_webhook_env="DING_URL", dingtalk_secret_env="DING_SECRET"))
    env = {
        "DING_URL": "https://robot/send?access_token=T0K3N",
        "DING_SECRET": "SECxyz1",
        "ALERTPILOT_WEBHOOK_TOKEN": "wh-tok",
        "GITHUB_TOKEN": "ghp_123456",
        "UNRELATED": "not-a-secret",
    }
    assert configured_secrets(settings, env) == {
        "https://robot/send?access_token=T0K3N",
        "SECxyz1",
        "wh-tok",
        "ghp_123456",
    }


def test_every_logger_is_redacted_including_libraries_and_tracebacks(
    restored: None, caplog: pytest.LogCaptureFixture
) -> None:
    install(["wh-secret-1", "SECding"])
    with caplog.at_level(logging.INFO):
        logging.getLogger("httpx").info('HTTP Request: POST %s "HTTP/1.1 200 OK"', "http://h/send?access_token=xyz789")
        logging.getLogger("alertpilot.server").warning("token %s and %s", "wh-secret-1", "SECding")
        try:
            raise ValueError("failed with wh-secret-1")
        except ValueError:
            logging.getLogger("uvicorn.error").exception("boom")
    text = caplog.text
    assert "xyz789" not in text and "wh-secret-1" not in text and "SECding" not in text
    assert f"access_token={MASK}" in text and f"token {MASK} and {MASK}" in text
    assert "ValueError: failed with ***" in text
