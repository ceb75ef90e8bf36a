"""What a model may not see: secrets, credentials and personal addresses are masked before it does.

Everything sent to a model passes :meth:`Redactor.mask` (logs, PR text, alert annotations,
tool answers), and the recorded request is the masked one, so neither the provider nor
the checkpoint holds the secret. Masked are:

- the values of every secret the configuration names by environment variable (``*_env``
  fields: API keys, tokens, passwords), when that variable is set;
- credentials in URLs (``scheme://user:password@host`` keeps the scheme and host);
- bearer/basic authorization values and well-known token shapes (GitHub, OpenAI-style
  ``sk-`` keys, AWS access key ids, Slack tokens, JWTs), and ``key=value`` pairs whose key
  says secret, password, token or api key;
- e-mail addresses;
- anything matching ``llm.redact`` (the operator's own patterns).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from state.config import Settings, secret_env_names

MASK = "[REDACTED]"
MIN_SECRET_LEN = 6  # shorter env values ("1", "true") would mask ordinary words

PATTERNS: tuple[tuple[str, str], ...] = (
    (r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@:]+:[^\s/@]+@", rf"\1{MASK}@"),  # URL userinfo
    (r"(?i)\b(authorization\s*[:=]\s*(?:bearer|basic|token)?\s*)[A-Za-z0-9._~+/=-]{8,}", rf"\1{MASK}"),
    (r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{16,}", rf"\1{MASK}"),
    (
        r"(?i)\b((?:api[_-]?key|apikey|secret|secret[_-]?key|password|passwd|pwd|access[_-]?token|auth[_-]?token|"
        r"token)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]{4,}",
        rf"\1{MASK}",
    ),
    (r"\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}", MASK),
    (r"\bsk-[A-Za-z0-9_-]{16,}", MASK),
    (r"\bAKIA[0-9A-Z]{16}\b", MASK),
    (r"\bxox[abprs]-[A-Za-z0-9-]{10,}", MASK),
    (r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", MASK),  # JWT
    (r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b", "[EMAIL]"),
)


class Redactor:
    """Masks configured secrets and well-known credential shapes in text."""

    def __init__(self, secrets: Iterable[str] = (), extra: Iterable[str] = ()) -> None:
        longest_first = sorted({s for s in secrets if len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)
        self._secrets = longest_first
        self._patterns = [(re.compile(p), r) for p, r in PATTERNS] + [(re.compile(p), MASK) for p in extra]

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        """A redactor for the secrets ``settings`` names (read from the environment now) and ``llm.redact``."""
        values = [settings.secret(name) for name in sorted(secret_env_names(settings))]
        return cls([v for v in values if v], settings.llm.redact)

    def mask(self, text: str) -> str:
        """``text`` with every secret, credential and e-mail address masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in self._patterns:
            text = pattern.sub(replacement, text)
        return text

    def mask_value(self, value: Any) -> Any:
        """Strings masked inside JSON-like ``value`` (dicts, lists), other values unchanged."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {k: self.mask_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask_value(v) for v in value]
        return value
