"""A message every channel can render, and the error a channel raises when it cannot deliver."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any


class DeliveryError(Exception):
    """A channel could not deliver; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email (charts); ``inline`` ones are shown in the HTML body as ``cid:<filename>``."""

    filename: str
    content: bytes
    mime: str = "image/png"
    inline: bool = False


@dataclass(frozen=True)
class Message:
    """One notification: a subject, plain text, Markdown (robots) and optional HTML (email).

    ``severity`` and ``source`` (the alert's severity and subject) are for incident-management
    channels (PagerDuty); chat channels show the words only.
    """

    subject: str
    text: str
    markdown: str
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    severity: str | None = None
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON form (attachments base64) kept while a push waits for its retry."""
        return {
            "subject": self.subject, "text": self.text, "markdown": self.markdown, "html": self.html,
            "severity": self.severity, "source": self.source,
            "attachments": [
                {"filename": a.filename, "mime": a.mime, "inline": a.inline,
                 "content": base64.b64encode(a.content).decode()}
                for a in self.attachments
            ],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        """The message :meth:`to_json` kept."""
        attachments = [
            Attachment(a["filename"], base64.b64decode(a["content"]), a.get("mime", "image/png"), bool(a.get("inline")))
            for a in data.get("attachments") or []
        ]
        return cls(
            subject=data["subject"], text=data["text"], markdown=data.get("markdown") or data["text"],
            html=data.get("html"), attachments=attachments, severity=data.get("severity"), source=data.get("source"),
        )  # fmt: skip
