"""``alertpilot users``: people's credentials for the API and the page (issue 21).

Users themselves are configured (``users:`` in alertpilot.yaml: name, e-mail, role,
rollback_permission, speaker); these commands manage their credentials in the store
(``$ALERTPILOT_HOME`` or ``database.url``): personal tokens (shown once, kept as a salted
hash) and page passwords (Argon2id). Running them needs the store itself, which is what
makes the local operator the administrator; each change is an auth event with the
operating-system account that made it (source ``cli``).
"""

from __future__ import annotations

import getpass
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from cli_common import ConfigOpt, JsonOpt, UsageError, emit_json, guarded, load, out

if TYPE_CHECKING:
    from state.config import Settings, UserConfig
    from state.identity import Identity

app = typer.Typer(help="People's credentials: personal tokens and page passwords.", no_args_is_help=True)
token_app = typer.Typer(help="Personal API tokens (Authorization: Bearer, or the page's token login).")
app.add_typer(token_app, name="token", no_args_is_help=True)
MIN_PASSWORD = 12


def _open(settings: Settings) -> Identity:
    from state.identity import Identity
    from state.store import Store

    return Identity(Store.from_url(settings.db_url))


def _person(settings: Settings, name: str) -> UserConfig:
    from server.users_api import CredentialError, person

    try:
        return person(settings, name)
    except CredentialError as exc:
        raise UsageError(str(exc)) from None


def _operator() -> str:
    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers)
        return "local:?"


@app.command("list")
def users_list(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Configured users with their role, permission, speaker, password and tokens."""
    from rich.table import Table

    from server.users_api import users_doc

    with guarded():
        settings = load(config)
        docs = users_doc(settings, _open(settings))
    if as_json:
        emit_json(docs)
        return
    table = Table("name", "role", "rollback", "speaker", "password", "tokens")
    for doc in docs:
        held: list[dict[str, object]] = doc["tokens"]  # type: ignore[assignment]
        listed = ", ".join(f"{t['id']} {t['role']} {t['state']}" for t in held) or "-"
        name = f"{doc['name']} (agent)" if doc["agent"] else str(doc["name"])
        table.add_row(
            name, str(doc["role"]), "yes" if doc["rollback_permission"] else "no", str(doc["speaker"] or "-"),
            "set" if doc["password"] else "-", listed,
        )  # fmt: skip
    out.print(table)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A configured user.")],
    role: Annotated[str, typer.Option(help="viewer, approver or admin.")] = "viewer",
    expires: Annotated[float | None, typer.Option(help="Days until it stops working (default: never).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token for NAME and print it once (only a salted hash is kept)."""
    import time

    from server.users_api import token_doc, when
    from state.identity import ROLES

    with guarded():
        if role not in ROLES:
            raise UsageError(f"--role: expected one of {', '.join(ROLES)}, got {role!r}")
        if expires is not None and not 0 < expires <= 3650:
            raise UsageError(f"--expires: expected days between 0 and 3650, got {expires}")
        settings = load(config)
        user = _person(settings, name)
        identity = _open(settings)
        plain, info = identity.create_token(user.name, role, expires)
        identity.record("token_created", _operator(), f"token:{info.id}", "cli", user=user.name, role=role,
                        expires_at=when(info.expires_at))  # fmt: skip
    if as_json:
        emit_json({**token_doc(info, time.time()), "token": plain})
        return
    out.print(plain, markup=False)
    print(
        f"token {info.id} for {user.name} ({role}, expires {when(info.expires_at)}): shown once, keep it now",
        file=sys.stderr,
    )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (users list shows it).")],
    config: ConfigOpt = None,
) -> None:
    """Revoke a token at once; page sessions opened with it end too."""
    with guarded():
        settings = load(config)
        identity = _open(settings)
        info = identity.revoke_token(token_id.strip())
        if info is None:
            raise UsageError(f"ID: no token {token_id!r} (see alertpilot users list)")
        identity.record("token_revoked", _operator(), f"token:{info.id}", "cli", user=info.user)
    out.print(f"revoked token {info.id} of {info.user}", markup=False)


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != first:
            raise UsageError("password: the two entries differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@app.command("password")
def users_password(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A configured user.")],
    config: ConfigOpt = None,
) -> None:
    """Set NAME's page password, read from stdin (one line; prompted on a terminal); stored as Argon2id."""
    with guarded():
        settings = load(config)
        user = _person(settings, name)
        password = _read_password()
        if len(password) < MIN_PASSWORD:
            raise UsageError(f"password: at least {MIN_PASSWORD} characters, got {len(password)}")
        if len(password) > 1024:
            raise UsageError("password: at most 1024 characters")
        identity = _open(settings)
        identity.set_password(user.name, password)
        identity.record("password_set", _operator(), "password", "cli", user=user.name)
    out.print(f"password set for {user.name}", markup=False)


@app.command("audit")
def users_audit(
    limit: Annotated[int, typer.Option(help="How many events, newest first.", min=1, max=10000)] = 50,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Logins, failed logins, logouts and credential changes (principal, credential, source)."""
    from server.users_api import when

    with guarded():
        settings = load(config)
        events = _open(settings).events(limit)
    for event in events:
        event["at"] = when(event["at"])
    if as_json:
        emit_json(events)
        return
    for e in events:
        out.print(f"{e['at']} {e['kind']} {e['principal']} {e['credential']} via {e['source']} {e['detail']}",
                  markup=False)  # fmt: skip
