"""People's credentials beside the incident store: tokens, passwords, page sessions, claims, auth events.

Tables on the store's ``Base`` and database (so they follow ``database.url`` to
PostgreSQL), created when :class:`Identity` is first built:

- ``auth_tokens``: personal API tokens. A token reads ``apt_<id>_<secret>``; only a salted
  SHA-256 of the secret is kept (the secret is 256 random bits, so a slow hash would add
  nothing but latency to every request), the id is what people see and revoke.
- ``auth_passwords``: page passwords as Argon2id hashes (argon2-cffi; salt and cost in the hash).
- ``auth_sessions``: page logins, keyed by the SHA-256 of the cookie value, with the CSRF
  token of every form the session renders.
- ``auth_claims``: single-use keys (an approval link's nonce, the answer to one pending
  approval): the primary key makes exactly one claimant win across processes.
- ``auth_events``: logins, failed logins, logouts and credential changes, with the
  principal, credential id and source.
- ``auth_secrets``: keys the service generates for itself once (the approval links' key).

Times are stored as epoch seconds (floats): the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Float, Integer, String, Text, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from state.store import Base, Store

TOKEN_PREFIX = "apt_"
ROLES = ("viewer", "approver", "admin")
_hasher = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106 low-memory profile


class TokenRow(Base):
    """A personal API token (only its salted hash)."""

    __tablename__ = "auth_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(128), index=True)
    role: Mapped[str] = mapped_column(String(16))
    salt: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class PasswordRow(Base):
    """A user's page password (Argon2id hash)."""

    __tablename__ = "auth_passwords"

    user_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    digest: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[float] = mapped_column(Float)


class SessionRow(Base):
    """A page login."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # sha256 of the cookie value
    user_name: Mapped[str] = mapped_column(String(128), index=True)
    role: Mapped[str] = mapped_column(String(16))
    credential: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)


class ClaimRow(Base):
    """A single-use key, claimed once."""

    __tablename__ = "auth_claims"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    at: Mapped[float] = mapped_column(Float)


class AuthEventRow(Base):
    """A login, logout or credential change."""

    __tablename__ = "auth_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    principal: Mapped[str] = mapped_column(String(128), index=True)
    credential: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)


class SecretRow(Base):
    """A key the service generated for itself."""

    __tablename__ = "auth_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


TABLES = [TokenRow, PasswordRow, SessionRow, ClaimRow, AuthEventRow, SecretRow]


@dataclass(frozen=True)
class TokenInfo:
    """What is known about a token without its secret."""

    id: str
    user: str
    role: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None

    def state(self, now: float) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"


@dataclass(frozen=True)
class SessionInfo:
    """A live page login."""

    user: str
    role: str
    credential: str
    csrf: str
    expires_at: float


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def _cookie_id(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def _token_info(row: TokenRow) -> TokenInfo:
    return TokenInfo(row.id, row.user_name, row.role, row.created_at, row.expires_at, row.revoked_at, row.last_used_at)


class Identity:
    """Credentials and auth records on the incident store's database; one per process."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        Base.metadata.create_all(store.engine, tables=[t.__table__ for t in TABLES])  # type: ignore[misc]

    # ------------------------------------------------------------------ tokens

    def create_token(self, user: str, role: str, expires_days: float | None = None) -> tuple[str, TokenInfo]:
        """A new token for ``user``: the plain token (shown once) and what is stored about it."""
        if role not in ROLES:
            raise ValueError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
        now = self.clock()
        token_id = secrets.token_hex(5)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16).hex()
        row = TokenRow(
            id=token_id, user_name=user, role=role, salt=salt, digest=_digest(salt, secret), created_at=now,
            expires_at=now + expires_days * 86400 if expires_days else None,
        )  # fmt: skip
        with self.store.session() as session:
            session.add(row)
        return f"{TOKEN_PREFIX}{token_id}_{secret}", _token_info(row)

    def verify_token(self, presented: str) -> TokenInfo | None:
        """The active token ``presented`` is, or None (unknown, wrong secret, expired or revoked)."""
        if not presented.startswith(TOKEN_PREFIX):
            return None
        token_id, _, secret = presented.removeprefix(TOKEN_PREFIX).partition("_")
        now = self.clock()
        with self.store.session() as session:
            row = session.get(TokenRow, token_id)
            if row is None or not hmac.compare_digest(row.digest, _digest(row.salt, secret)):
                return None
            info = _token_info(row)
            if info.state(now) != "active":
                return None
            if row.last_used_at is None or now - row.last_used_at > 60:  # one write a minute, not one a request
                row.last_used_at = now
            return info

    def revoke_token(self, token_id: str) -> TokenInfo | None:
        """Revoke a token and end the page sessions opened with it; None when there is no such token."""
        now = self.clock()
        with self.store.session() as session:
            row = session.get(TokenRow, token_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = now
            session.execute(delete(SessionRow).where(SessionRow.credential == f"token:{token_id}"))
            return _token_info(row)

    def tokens(self, user: str | None = None) -> list[TokenInfo]:
        """Every token (of ``user``), oldest first."""
        stmt = select(TokenRow).order_by(TokenRow.created_at)
        if user is not None:
            stmt = stmt.where(func.lower(TokenRow.user_name) == user.lower())
        with self.store.session() as session:
            return [_token_info(row) for row in session.scalars(stmt)]

    # ------------------------------------------------------------------ passwords

    def set_password(self, user: str, password: str) -> None:
        """Store ``user``'s page password as an Argon2id hash, ending their password sessions."""
        digest = _hasher.hash(password)
        key = user.lower()
        with self.store.session() as session:
            row = session.get(PasswordRow, key)
            if row is None:
                session.add(PasswordRow(user_name=key, digest=digest, updated_at=self.clock()))
            else:
                row.digest, row.updated_at = digest, self.clock()
            session.execute(
                delete(SessionRow).where(func.lower(SessionRow.user_name) == key, SessionRow.credential == "password")
            )

    def check_password(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s; re-hashes when argon2's parameters have moved on."""
        key = user.lower()
        with self.store.session() as session:
            row = session.get(PasswordRow, key)
            if row is None:
                _hasher.hash(password)  # same cost as a wrong password: no user enumeration by timing
                return False
            try:
                _hasher.verify(row.digest, password)
            except (VerificationError, InvalidHashError):
                return False
            if _hasher.check_needs_rehash(row.digest):
                row.digest = _hasher.hash(password)
            return True

    def has_password(self, user: str) -> bool:
        """Whether ``user`` has a page password."""
        with self.store.session() as session:
            return session.get(PasswordRow, user.lower()) is not None

    # ------------------------------------------------------------------ sessions

    def open_session(self, user: str, role: str, credential: str, ttl_s: float) -> tuple[str, SessionInfo]:
        """A new page session: the cookie value and the session (with its CSRF token)."""
        cookie = secrets.token_urlsafe(32)
        now = self.clock()
        row = SessionRow(
            id=_cookie_id(cookie), user_name=user, role=role, credential=credential,
            csrf=secrets.token_urlsafe(32), created_at=now, expires_at=now + ttl_s,
        )  # fmt: skip
        with self.store.session() as session:
            session.execute(delete(SessionRow).where(SessionRow.expires_at < now))
            session.add(row)
        return cookie, SessionInfo(user, role, credential, row.csrf, row.expires_at)

    def session(self, cookie: str) -> SessionInfo | None:
        """The live session behind a cookie value, or None."""
        with self.store.session() as session:
            row = session.get(SessionRow, _cookie_id(cookie))
            if row is None or row.expires_at <= self.clock():
                return None
            return SessionInfo(row.user_name, row.role, row.credential, row.csrf, row.expires_at)

    def close_session(self, cookie: str) -> None:
        """End the session behind a cookie value (logout)."""
        with self.store.session() as session:
            session.execute(delete(SessionRow).where(SessionRow.id == _cookie_id(cookie)))

    # ------------------------------------------------------------------ single use

    def claim(self, key: str) -> bool:
        """Claim ``key`` once: True for the one caller that got it, False for everyone after."""
        try:
            with self.store.session() as session:
                session.add(ClaimRow(key=key, at=self.clock()))
        except IntegrityError:
            return False
        return True

    def claimed(self, key: str) -> bool:
        """Whether ``key`` was claimed."""
        with self.store.session() as session:
            return session.get(ClaimRow, key) is not None

    def release(self, key: str) -> None:
        """Give a claim back (what it guarded did not happen)."""
        with self.store.session() as session:
            session.execute(delete(ClaimRow).where(ClaimRow.key == key))

    # ------------------------------------------------------------------ events

    def record(self, kind: str, principal: str, credential: str, source: str, **detail: Any) -> None:
        """Append an auth event (login, login_failed, logout, token_created, token_revoked, password_set)."""
        with self.store.session() as session:
            session.add(
                AuthEventRow(
                    at=self.clock(), kind=kind, principal=principal, credential=credential, source=source,
                    detail=json.dumps(detail, ensure_ascii=False, default=str),
                )
            )  # fmt: skip

    def events(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest auth events, newest first."""
        stmt = select(AuthEventRow).order_by(AuthEventRow.id.desc()).limit(limit)
        with self.store.session() as session:
            return [
                {"at": r.at, "kind": r.kind, "principal": r.principal, "credential": r.credential,
                 "source": r.source, "detail": json.loads(r.detail)}
                for r in session.scalars(stmt)
            ]  # fmt: skip

    def failures_since(self, principal: str, since: float) -> int:
        """Failed logins naming ``principal`` at or after ``since`` (the login throttle)."""
        stmt = select(func.count()).where(
            AuthEventRow.kind == "login_failed", AuthEventRow.principal == principal.lower(), AuthEventRow.at >= since
        )
        with self.store.session() as session:
            return int(session.scalar(stmt) or 0)

    # ------------------------------------------------------------------ own keys

    def own_secret(self, name: str) -> bytes:
        """A 256-bit key the service keeps for itself, generated on first use (the same in every process)."""
        with self.store.session() as session:
            row = session.get(SecretRow, name)
            if row is not None:
                return bytes.fromhex(row.value)
        try:
            with self.store.session() as session:
                session.add(SecretRow(name=name, value=secrets.token_bytes(32).hex()))
        except IntegrityError:
            pass  # another process made it first: use theirs
        with self.store.session() as session:
            row = session.get(SecretRow, name)
            assert row is not None
            return bytes.fromhex(row.value)


__all__ = ["ROLES", "TOKEN_PREFIX", "Identity", "SessionInfo", "TokenInfo"]
