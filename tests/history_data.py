"""A small history whose numbers an on-call engineer can count by hand (stats and recall tests, SQLite and PostgreSQL).

16 incidents over five services, restored through the store as the product records them
(evals/history_gen.py), plus five notification deliveries:

- checkout HighErrorRate: 3 bad releases rolled back in one attempt (one after a 120 s approval), one
  rollback that did not bring the signal back (escalated, still open), one rollback rejected after 300 s
  (escalated, still open);
- cart MemoryNearLimit: 2 leaks, the restart masked, the rollback held;
- search HighLatencyP99: 4 times healthy again before anyone looked (escalated as noise, closed later);
- feed CPUNearLimit: 3 informational alerts;
- billing HighErrorRate: 2 dependency outages, 100 days ago (escalated, closed later).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from evals.history_gen import PastIncident, seed
from state.alert import Alert
from state.config import Settings
from state.delivery import Ledger
from state.store import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
RB = {"action": "version_rollback", "outcome": "cleared"}


def alert(service: str, namespace: str, rule: str) -> Alert:
    """The alert of one service's rule, as a generic webhook would send it."""
    return Alert(
        source="alertmanager", status="firing", name=rule, severity="critical", service=service,
        namespace=namespace, workload=service, starts_at=NOW, fingerprint=f"fp-{service}-{rule}",
    )  # fmt: skip


HISTORY: list[tuple[Alert, list[dict[str, Any]]]] = [
    (alert("checkout", "shop", "HighErrorRate"), [
        {"count": 2, "days_before": 40, "until_days_before": 20, "pattern": "release", "release": "v2",
         "known_good": "v1", "attempts": [RB], "signatures": ["NullPointerException in Pricer"]},
        {"days_before": 10, "pattern": "release", "release": "v3", "known_good": "v2",
         "attempts": [{**RB, "approval": "approved", "wait_s": 120}]},
        {"days_before": 5, "pattern": "release", "release": "v4", "known_good": "v3", "closed": False,
         "attempts": [{"action": "version_rollback", "outcome": "not_baseline"}]},
        {"days_before": 3, "pattern": "release", "release": "v5", "known_good": "v4", "closed": False,
         "attempts": [{**RB, "approval": "rejected", "wait_s": 300}]},
    ]),
    (alert("cart", "shop", "MemoryNearLimit"), [
        {"count": 2, "days_before": 30, "until_days_before": 8, "pattern": "leak", "release": "v9", "known_good": "v8",
         "attempts": [{"action": "restart", "outcome": "masked"}, RB]},
    ]),
    (alert("search", "web", "HighLatencyP99"), [
        {"count": 4, "days_before": 50, "until_days_before": 2, "pattern": "healthy", "verdict": "noise",
         "abstain": "the alert's own signal is already healthy at diagnosis; nothing to change"},
    ]),
    (alert("feed", "social", "CPUNearLimit"), [
        {"count": 3, "days_before": 20, "until_days_before": 4, "pattern": "healthy", "informational": True},
    ]),
    (alert("billing", "finance", "HighErrorRate"), [
        {"count": 2, "days_before": 100, "until_days_before": 95, "pattern": "dependency",
         "abstain": "billing's errors say redis-billing cannot be reached"},
    ]),
]  # fmt: skip


def load_history(store: Store, settings: Settings | None = None) -> int:
    """Restore the 16 incidents and the deliveries into ``store``; how many incidents."""
    settings = settings or Settings()
    n = 0
    for k, (about, pasts) in enumerate(HISTORY):
        n += seed(store, about, [PastIncident.model_validate(p) for p in pasts], NOW, settings, prefix=f"h{k}")
    ledger = Ledger(store)
    for i, (channel, status) in enumerate([("email", "delivered")] * 3 + [("email", "failed"), ("wecom", "delivered")]):
        ledger.record(key=f"d{i}", kind="escalation", channel=channel, status=status, tries=1, incident_id="h0-1-0")
    return n
