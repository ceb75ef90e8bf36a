"""Stats, recall and the informed ladder on a real PostgreSQL, against SQLite, and end to end through `serve`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from evals.case import load_case
from evals.history import seed_case
from evals.history_gen import generate, load
from state.config import load_settings
from state.history import recall
from state.stats import operations_stats
from state.store import Store
from tests.conftest import ROOT, cli_env, free_port, person_token, wait_for_port, wait_until
from tests.history_data import load_history
from tests.unit.test_recall import query
from tests.unit.test_stats import check_counts

pytestmark = pytest.mark.integration
HOOK = "history-webhook-token"
CASE = ROOT / "evals" / "history" / "hist-am-cart-leak-rollback-first"


def test_stats_and_recall_on_postgresql_equal_sqlite(pg_database: str, tmp_path: Path) -> None:
    pg, lite = Store.from_url(pg_database), Store.from_url(f"sqlite:///{tmp_path / 'a.db'}")
    for store in (pg, lite):
        load_history(store)
    on_pg = operations_stats(pg)
    check_counts(on_pg)
    assert on_pg.model_dump() == operations_stats(lite).model_dump()
    assert recall(pg, query()).model_dump() == recall(lite, query()).model_dump()
    pg.engine.dispose()


def test_a_generated_history_gives_the_same_numbers_on_both(pg_database: str, tmp_path: Path) -> None:
    until = datetime(2026, 11, 20, tzinfo=UTC)
    pg, lite = Store.from_url(pg_database), Store.from_url(f"sqlite:///{tmp_path / 'a.db'}")
    for store in (pg, lite):
        assert load(store, generate(3000, until)) == 3000
    since = datetime(2026, 10, 1, tzinfo=UTC)
    for kwargs in ({}, {"since": since}, {"service": "checkout"}):
        assert operations_stats(pg, **kwargs).model_dump() == operations_stats(lite, **kwargs).model_dump()  # type: ignore[arg-type]
    pg.engine.dispose()


def test_serve_on_postgresql_recalls_starts_at_the_rung_that_held_and_counts_it(
    pg_database: str, tmp_path: Path
) -> None:
    config = yaml.safe_load((CASE / "config.yaml").read_text())
    config.update({"world": str(CASE), "database": {"url": pg_database}, "users": [
        *config["users"], {"name": "vera", "email": "vera@example.test"}]})  # fmt: skip
    path = tmp_path / "alertpilot.yaml"
    path.write_text(yaml.safe_dump(config))
    home = tmp_path / "home"
    settings = load_settings(path, home=home)
    store = Store.from_url(pg_database)
    assert seed_case(load_case(CASE), store, settings, datetime.now(UTC)) == 4  # four earlier leaks of cart
    token = person_token(path, home, "vera")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--config", str(path)], cwd=ROOT,
        env=cli_env(home, ALERTPILOT_WEBHOOK_TOKEN=HOOK), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=40)
        alert = json.loads((CASE / "alert.json").read_text())
        posted = httpx.post(f"{base}/webhooks/alertmanager", json=alert, headers={"Authorization": f"Bearer {HOOK}"})
        assert posted.status_code == 200
        reader = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=20)
        row = wait_until("the incident resolved", lambda: [
            r for r in reader.get("/incidents").json() if not r["id"].startswith("past-") and r["status"] == "resolved"])[0]  # fmt: skip
        doc = reader.get(f"/incidents/{row['id']}").json()
        assert [a["action"] for a in doc["attempts"]] == ["version_rollback"]  # not the restart history says fails
        plans = [d["summary"] for d in doc["decisions"] if d["node"] == "plan"]
        assert "restart held 0 of 4" in plans[0] and "starting at rung 3" in plans[0]
        assert "History: the last 3 times this fired after a release" in doc["report"]["content"]
        stats = reader.get("/stats", params={"service": "cart"}).json()
        assert stats["incidents"] == 5
        rungs = {r["operation"]: (r["verified"], r["failed"]) for r in stats["rungs"]}
        assert rungs == {"restart": (0, 4), "version_rollback": (5, 0)}
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        log.close()
        store.engine.dispose()
