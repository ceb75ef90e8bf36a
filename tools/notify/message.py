"""A message every channel can render, and the error a channel raises when it cannot deliver."""

from __future__ import annotations

from dataclasses import dataclass, field


class DeliveryError(Exception):
    """A channel could not deliver; ``retryable`` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email (charts)."""

    filename: str
    content: bytes
    mime: str = "image/png"


@dataclass(frozen=True)
class Message:
    """One notification: a subject, plain text, Markdown (robots) and optional HTML (email)."""

    subject: str
    text: str
    markdown: str
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
