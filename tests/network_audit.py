"""Watch where the process opens connections (Python audit events), to prove an eval stays on 127.0.0.1.

Audit hooks cannot be removed, so one hook is installed once and only records while a
:func:`connections` block is open. Nothing is patched: the events are CPython's own
``socket.connect`` and ``socket.getaddrinfo``.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_open: list[list[tuple[str, str]]] = []
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _open:
        return
    if event == "socket.connect":
        address = args[1]
        host = str(address[0]) if isinstance(address, tuple) else f"unix:{address}"
    elif event == "socket.getaddrinfo":
        host = str(args[0])
    else:
        return
    for log in _open:
        log.append((event, host))


def is_local(host: str) -> bool:
    """Loopback (or a Unix socket)."""
    if host.startswith("unix:") or host in ("localhost", "None"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def connections() -> Iterator[list[tuple[str, str]]]:
    """Every (event, host) the process connects to or resolves while the block runs."""
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
    log: list[tuple[str, str]] = []
    _open.append(log)
    try:
        yield log
    finally:
        _open.remove(log)
