"""SMTP email: HTML with a plain-text part and attachments, over STARTTLS, SSL or plain SMTP.

Config lives in ``notify.smtp``: ``host``, ``port``, ``sender``, ``starttls`` (bool),
``ssl`` (bool, implicit TLS, usually port 465), ``username_env``/``password_env`` (names
of the environment variables holding the login), ``timeout_s``.
"""

from __future__ import annotations

import html
import os
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

from tools.notify.message import DeliveryError, Message


def build_email(message: Message, sender: str, recipient: str) -> EmailMessage:
    """A multipart email: text, an HTML alternative showing the inline images (``cid:``), then the attachments."""
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = sender
    email["To"] = recipient
    email.set_content(message.text)
    body = message.html or f"<pre>{html.escape(message.text)}</pre>"
    email.add_alternative(body, subtype="html")
    html_part: EmailMessage = email.get_payload()[-1]  # type: ignore[index,assignment]  # the alternative added
    for attachment in message.attachments:
        maintype, _, subtype = attachment.mime.partition("/")
        if attachment.inline:
            html_part.add_related(
                attachment.content, maintype=maintype, subtype=subtype, cid=f"<{attachment.filename}>",
                filename=attachment.filename, disposition="inline",
            )  # fmt: skip
        else:
            email.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return email


def send_email(smtp: dict[str, Any], recipient: str, message: Message, env: dict[str, str] | None = None) -> str:
    """Send ``message`` to ``recipient`` through the configured SMTP server."""
    env = dict(os.environ) if env is None else env
    host = smtp.get("host")
    if not host:
        raise DeliveryError("notify.smtp.host is not configured")
    use_ssl = bool(smtp.get("ssl", False))
    port = int(smtp.get("port") or (465 if use_ssl else 25))
    sender = str(smtp.get("sender") or f"alertpilot@{host}")
    timeout = float(smtp.get("timeout_s", 15))
    email = build_email(message, sender, recipient)
    try:
        if use_ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if smtp.get("starttls") and not use_ssl:
                client.starttls(context=ssl.create_default_context())
            username = env.get(smtp.get("username_env") or "")
            if username:
                client.login(username, env.get(smtp.get("password_env") or "", ""))
            refused = client.send_message(email)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP login refused: {exc.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryError(f"SMTP refused recipient {recipient}") from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", retryable=400 <= exc.smtp_code < 500) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {host}:{port} unreachable: {type(exc).__name__}: {exc}", retryable=True) from None
    if refused:
        raise DeliveryError(f"SMTP refused {sorted(refused)}")
    return f"accepted by {host}:{port}"
