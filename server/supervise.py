"""`serve` keeps its worker child alive: a child that dies is reported and restarted with backoff.

Without this, a killed or crashed child left intake answering 200 while nothing worked the
queue. The supervisor polls the child; when it has exited (and ``stop`` is not set) it logs
the exit code, counts the restart (``alertpilot_worker_restarts_total``) and starts a new one
after a backoff that doubles up to :data:`MAX_BACKOFF_S` and resets once a child has lived
:data:`STABLE_S`. Work the dead child held is resumed by the next one when its lease runs out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("alertpilot.supervise")
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0
STABLE_S = 60.0


def supervise(make_child: Callable[[], Any], stop: threading.Event, on_restart: Callable[[int | None], None]) -> None:
    """Run children from ``make_child()`` until ``stop``; restart each one that dies (``on_restart(exitcode)``)."""
    backoff = FIRST_BACKOFF_S
    while not stop.is_set():
        child = make_child()
        child.start()
        started = time.monotonic()
        while not stop.wait(0.5) and child.process.is_alive():
            pass
        if stop.is_set():
            child.stop()
            return
        code = child.process.exitcode
        child.stop(timeout=2.0)  # reap it and its metrics forwarder
        if time.monotonic() - started >= STABLE_S:
            backoff = FIRST_BACKOFF_S
        log.error("worker child %s exited (code %s); restarting in %.0fs", child.process.pid, code, backoff)
        on_restart(code)
        if stop.wait(backoff):
            return
        backoff = min(backoff * 2, MAX_BACKOFF_S)
