"""The approval notice: tell people an incident waits on them, each with their own signed links.

The worker calls :func:`announcer`'s function whenever a lane leaves its incident waiting
for a person. Every configured person with channels (not the agent's own account) gets
the notice once per pending approval (the delivery ledger's key is the approval's
:func:`server.decisions.answer_key`), worded by :func:`agents.escalation.approval_text`.
An approver with ``rollback_permission`` gets approve and reject links, another approver
a reject link only, a viewer none; links need ``server.auth.public_url``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from agents.escalation import approval_text
from server.decisions import answer_key
from server.links import links_for
from state.config import Settings
from state.delivery import Ledger
from state.identity import Identity
from state.store import Store
from tools.guard import approval_problem
from tools.notify import Message, Notifier


def announce(settings: Settings, identity: Identity, notifier: Notifier, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Send the approval notice for ``doc`` to every person with channels; returns the deliveries."""
    key = "approval:" + answer_key(doc)
    sent: list[dict[str, Any]] = []
    for user in settings.readers():
        if not user.channels:
            continue
        answers = user.page_role in ("approver", "admin")
        may_approve = answers and approval_problem(settings, user.name, approved=True) is None
        links = links_for(settings, identity, doc, user.name, time.time(), approve=may_approve) if answers else {}
        subject, text, markdown = approval_text(doc, settings.language, links)
        message = Message(subject=subject, text=text, markdown=markdown)
        for outcome in notifier.send(user, message, key=key, kind="approval", incident_id=doc["id"]):
            sent.append({"user": user.name, **vars(outcome)})
    return sent


def announcer(settings: Settings, store: Store) -> Callable[[dict[str, Any]], None]:
    """The worker's ``on_waiting``: :func:`announce` over the store's identity tables and delivery ledger."""
    identity = Identity(store)
    notifier = Notifier(settings, Ledger(store))

    def on_waiting(doc: dict[str, Any]) -> None:
        if any(user.channels for user in settings.readers()):
            announce(settings, identity, notifier, doc)

    return on_waiting
