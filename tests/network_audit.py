"""Watch where the process opens connections (Python audit events); refuse any that leaves 127.0.0.1.

Audit hooks cannot be removed, so one hook is installed once. It records while a
:func:`connections` block is open (to prove an eval stays on 127.0.0.1), and while
:func:`forbid_remote` is on (every test: an autouse fixture in conftest.py) it raises
:class:`RemoteCallError` before a connection or name lookup for a host off the machine
is made, so no test can reach a real model provider or any other remote service.
Nothing is patched: the events are CPython's own ``socket.connect`` and
``socket.getaddrinfo``.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_open: list[list[tuple[str, str]]] = []
_forbidden = [False]
_installed = False


class RemoteCallError(ConnectionError):
    """A test tried to reach a host off the machine (a real model provider, a public API...)."""


def _host(event: str, args: tuple[Any, ...]) -> str | None:
    if event == "socket.connect":
        address = args[1]
        return str(address[0]) if isinstance(address, tuple) else f"unix:{address}"
    if event == "socket.getaddrinfo":
        return str(args[0])
    return None


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _open and not _forbidden[0]:
        return
    host = _host(event, args)
    if host is None:
        return
    for log in _open:
        log.append((event, host))
    if _forbidden[0] and not (is_local(host) or _unspecified(host)):
        raise RemoteCallError(f"{event} {host}: tests stay on 127.0.0.1 (tests/network_audit.py)")


def _install() -> None:
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


def is_local(host: str) -> bool:
    """Loopback (or a Unix socket)."""
    if host.startswith("unix:") or host in ("localhost", "None"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unspecified(host: str) -> bool:
    """0.0.0.0 or :: (a bind address, looked up by servers that listen; never a destination)."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return host == ""


@contextmanager
def connections() -> Iterator[list[tuple[str, str]]]:
    """Every (event, host) the process connects to or resolves while the block runs."""
    _install()
    log: list[tuple[str, str]] = []
    _open.append(log)
    try:
        yield log
    finally:
        _open.remove(log)


@contextmanager
def forbid_remote() -> Iterator[None]:
    """While the block runs, a connection or name lookup for a host off the machine raises."""
    _install()
    before = _forbidden[0]
    _forbidden[0] = True
    try:
        yield
    finally:
        _forbidden[0] = before
