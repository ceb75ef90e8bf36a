"""How long a briefing takes to compose from a store of N incidents (offline template, the overview chart,
no key-metric charts: no recorded tool calls).

Run: /work/main/.venv/bin/python benchmarks/briefing.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.briefing import compose  # noqa: E402
from state.config import Settings, UserConfig  # noqa: E402
from state.store import IncidentRow, Store  # noqa: E402


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp))
        store = Store.from_url(settings.db_url)
        covered = datetime(2026, 11, 19, 16, tzinfo=UTC)
        for i in range(count):
            doc = {"id": f"inc-{i}", "status": "escalated" if i % 10 == 0 else "resolved",
                   "alert": {"source": "alertmanager", "name": f"Alert{i % 7}", "service": f"svc{i % 13}",
                             "severity": ("critical", "warning", "info")[i % 3]},
                   "findings": [{"kind": "log", "title": f"sig {i % 5}"},
                                {"kind": "metric", "title": "x", "evidence": {"baseline": 1, "alert_window": 3}}],
                   "attempts": [{"n": 1, "action": "version_rollback", "params": {"target": "v1"},
                                 "result": {"status": "success"}, "verified": True}]}  # fmt: skip
            store.create_incident(doc["id"], doc["id"], doc)
            with store.session() as session:
                row = session.get(IncidentRow, doc["id"])
                assert row is not None
                row.created_at = covered + timedelta(seconds=i * 60)
        user = UserConfig(name="alice")
        compose(settings, store, user, date(2026, 11, 21))  # warm templates
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            briefing = compose(settings, store, user, date(2026, 11, 21))
            runs.append(time.perf_counter() - started)
        print(f"{count} incidents covered ({briefing.facts.total} in the day): "
              f"compose median {sorted(runs)[2] * 1000:.1f} ms, min {min(runs) * 1000:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
