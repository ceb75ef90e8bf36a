"""Signed approval links for the notices people get in DingTalk, WeCom, Feishu and e-mail.

A link is ``{server.auth.public_url}/ui/links/<token>``; the token is
``base64url(claims).base64url(HMAC-SHA256(key, claims))`` over the incident, the exact
action (:func:`server.decisions.action_hash` of operation + params), the user it was sent
to, the verdict (approve/reject), an expiry (``policy.approval_link_ttl_s``) and a nonce.
The key is ``server.auth.link_secret_env``'s value, else one the service generates once and
keeps in its database (every worker and ``serve`` read the same one).

A link is not a credential: opening it shows a confirmation page with the impact preview
to the user it was sent to, logged in; only their confirming post (CSRF-checked) answers,
once (the nonce is claimed), and only while the incident still waits on that same action.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any, Literal

from server.decisions import action_hash
from state.config import Settings
from state.identity import Identity

Verdict = Literal["approve", "reject"]
KEY_NAME = "approval-links"


class LinkError(Exception):
    """A link that cannot be used; ``status`` is the HTTP status the page answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class LinkClaims:
    """What a link is bound to."""

    incident: str
    action: str
    user: str
    verdict: Verdict
    expires: int  # epoch seconds
    nonce: str


def link_key(settings: Settings, identity: Identity) -> bytes:
    """The signing key: ``server.auth.link_secret_env`` if set, else the service's own stored key."""
    env_name = settings.server.auth.link_secret_env
    if env_name:
        value = settings.secret(env_name)
        if not value:
            raise ValueError(f"server.auth.link_secret_env: environment variable {env_name} is not set")
        return value.encode()
    return identity.own_secret(KEY_NAME)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, claims: LinkClaims) -> str:
    """The link token for ``claims``."""
    payload = _b64(json.dumps(asdict(claims), separators=(",", ":"), sort_keys=True).encode())
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def verify(key: bytes, token: str, now: float) -> LinkClaims:
    """The claims of a genuine, unexpired token; :class:`LinkError` otherwise."""
    payload, _, signature = token.partition(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        raise LinkError(403, "this link is not genuine")
    try:
        claims = LinkClaims(**json.loads(_unb64(payload)))
    except (ValueError, TypeError, binascii.Error):
        raise LinkError(403, "this link is not genuine") from None
    if now >= claims.expires:
        raise LinkError(410, "this link has expired: open the incident page instead")
    return claims


def links_for(
    settings: Settings, identity: Identity, doc: dict[str, Any], user: str, now: float, *, approve: bool
) -> dict[str, str]:
    """Approve (when ``approve``) and reject links for ``user`` on ``doc``'s pending action; {} without a public URL."""
    base = settings.server.auth.public_url
    if not base or doc.get("status") != "awaiting_approval" or not doc.get("pending"):
        return {}
    key = link_key(settings, identity)
    expires = int(now + settings.policy.approval_link_ttl_s)
    action = action_hash(doc["pending"])
    verdicts: tuple[Verdict, ...] = ("approve", "reject") if approve else ("reject",)
    return {
        verdict: f"{base}/ui/links/"
        + sign(key, LinkClaims(doc["id"], action, user, verdict, expires, secrets.token_urlsafe(12)))
        for verdict in verdicts
    }


def usable(claims: LinkClaims, doc: dict[str, Any] | None, user: str) -> None:
    """Refuse (:class:`LinkError`) a link opened by someone else, or for an incident that moved on."""
    if claims.user.lower() != user.lower():
        raise LinkError(403, f"this link was sent to {claims.user}; you are logged in as {user}")
    if doc is None:
        raise LinkError(404, f"no incident {claims.incident}")
    if doc.get("status") != "awaiting_approval":
        raise LinkError(409, f"incident {claims.incident} is not waiting for approval (status {doc.get('status')})")
    if action_hash(doc.get("pending")) != claims.action:
        raise LinkError(409, "the action changed since this link was sent: this link is void, open the incident page")
