"""Secrets never reach a log: one redaction for every logger, ours and the libraries'.

httpx logs every request at INFO with its full URL, so a DingTalk robot's ``access_token``
(or a token in any webhook URL) landed in ``serve``'s output. :func:`install` replaces the
logging module's record factory, so *every* record, from any logger, through any handler,
present or added later, is redacted once when it is made: its message (with its arguments
applied), and a traceback's text. What is redacted:

- the value of every configured secret (each settings field ending in ``_env`` names one);
- credentials in URLs: ``user:password@``, and query parameters that carry them
  (``access_token``, ``token``, ``sign``, ``secret``, ``key``, ``password``...);
- ``Authorization: Bearer ...`` and ``X-Auth-Token: ...`` header values.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

MASK = "***"
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s:@]+:[^/\s@]*@")
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&;](?:access_token|token|sign|signature|secret|key|api_key|apikey|password|passwd|auth)=)"
    r"(?P<value>[^&\s#\"']+)",
    re.IGNORECASE,
)
_HEADER_SECRET = re.compile(r"(?P<key>(?:authorization:\s*bearer|x-auth-token:)\s*)(?P<value>[^\s,;\"']+)", re.I)
MIN_SECRET = 4  # shorter values would mask ordinary words


def configured_secrets(settings: BaseModel, env: Any = None) -> set[str]:
    """The values of every environment variable a settings field ending in ``_env`` names."""
    import os

    from state.config import secret_env_names

    env = os.environ if env is None else env
    return {value for name in secret_env_names(settings) if (value := env.get(name)) and len(value) >= MIN_SECRET}


class Redactor:
    """Masks the given secrets and any URL or header credentials in a text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret that contains another is masked whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
        text = _QUERY_SECRET.sub(lambda m: f"{m.group('key')}{MASK}", text)
        return _HEADER_SECRET.sub(lambda m: f"{m.group('key')}{MASK}", text)

    def record(self, record: logging.LogRecord) -> logging.LogRecord:
        """Redact a log record in place: its formatted message and its traceback text."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep it, redacted, unformatted
            message = str(record.msg)
        record.msg, record.args = self(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self(record.stack_info)
        return record


_installed: dict[str, Any] = {}


def install(secrets: Iterable[str] = ()) -> Redactor:
    """Redact every log record made from now on (idempotent: a second call replaces the secrets)."""
    redactor = Redactor(secrets)
    base = _installed.get("base") or logging.getLogRecordFactory()
    _installed["base"] = base

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redactor.record(base(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed["redactor"] = redactor
    return redactor


def install_for(settings: BaseModel) -> Redactor:
    """:func:`install` with the configured secrets of ``settings`` (every entry point calls this)."""
    return install(configured_secrets(settings))
