"""Daily jobs inside ``serve``: cron expressions in config, jobs in a registry by name.

``schedule:`` in alertpilot.yaml maps a job name to a cron expression (server-local
time is UTC)::

    schedule:
      waiting_batch: "0 5 * * *"     # 05:00: walk incidents still waiting from the day before
      briefing: "30 7 * * *"

A job is a function ``(JobContext) -> str`` (the string is logged and kept as its last
result). Jobs are found in :data:`JOBS` by name, as ``"module:function"`` paths imported
on first use, so a module can plug a job in with one line (or by calling
:func:`register_job`) without this module importing it.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from state.config import ConfigError, Settings
from state.store import Store

log = logging.getLogger("alertpilot.scheduler")

JobFn = Callable[["JobContext"], str]
# Run under `serve` whether or not `schedule:` names them: follow-ups and delivery retries are
# promises of the notifier, not options. `schedule: {follow_ups: "off"}` turns one off.
DEFAULT_SCHEDULE = {"follow_ups": "*/5 * * * *", "delivery_retries": "* * * * *"}
# name -> "module:function" (imported lazily) or the function itself.
JOBS: dict[str, str | JobFn] = {
    "waiting_batch": "server.scheduler:waiting_batch",
    "briefing": "server.scheduler:daily_briefing",
    "escalation_reminders": "server.scheduler:follow_ups",  # its old name
    "follow_ups": "server.scheduler:follow_ups",
    "delivery_retries": "server.scheduler:delivery_retries",
}


@dataclass(frozen=True)
class JobContext:
    """What a scheduled job gets: settings, the store, the time it was due."""

    settings: Settings
    store: Store
    due: datetime


def register_job(name: str, fn: JobFn) -> None:
    """Make ``fn`` schedulable as ``schedule.<name>``."""
    JOBS[name] = fn


def resolve_job(name: str) -> JobFn:
    """The function registered as ``name``; ConfigError naming ``schedule.<name>`` if none."""
    target = JOBS.get(name)
    if target is None:
        raise ConfigError(f"schedule.{name}: no such job (known: {', '.join(sorted(JOBS))})")
    if callable(target):
        return target
    module_name, _, attr = target.partition(":")
    try:
        fn: JobFn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"schedule.{name}: cannot load {target} ({exc})") from None
    return fn


def waiting_batch(ctx: JobContext) -> str:
    """The 05:00 batch: remind about incidents still waiting (approval, escalated) from before today."""
    start_of_day = ctx.due.replace(hour=0, minute=0, second=0, microsecond=0)
    stale = [
        row
        for status in ("awaiting_approval", "escalated")
        for row in ctx.store.list(status=status, limit=1000)
        if datetime.fromisoformat(row["created_at"]).replace(tzinfo=UTC) < start_of_day
    ]
    for row in stale:
        ctx.store.audit(row["id"], "scheduler", "reminder", {"status": row["status"], "job": "waiting_batch"})
        log.warning("still %s since %s: %s %s", row["status"], row["created_at"][:16], row["id"], row["name"])
    return f"{len(stale)} incident(s) still waiting from before {start_of_day:%Y-%m-%d}"


def effective_schedule(settings: Settings) -> dict[str, str]:
    """``schedule:`` plus the jobs that always run unless configured otherwise (``"off"`` disables one)."""
    schedule = dict(settings.schedule)
    defaults = dict(DEFAULT_SCHEDULE)
    if "escalation_reminders" in schedule:  # the old name of follow_ups already runs it
        defaults.pop("follow_ups")
    schedule = {**defaults, **schedule}
    return {name: expr for name, expr in schedule.items() if str(expr).strip().lower() != "off"}


def validate_schedule(settings: Settings) -> dict[str, tuple[str, JobFn]]:
    """Each scheduled job's cron and function; ConfigError naming ``schedule.<name>`` if bad."""
    from croniter import croniter

    jobs = {}
    for name, expr in effective_schedule(settings).items():
        if not isinstance(expr, str) or not croniter.is_valid(expr):
            raise ConfigError(f"schedule.{name}: not a cron expression: {expr!r}")
        jobs[name] = (expr, resolve_job(name))
    return jobs


@dataclass
class ScheduledJob:
    """One configured job with its next due time and last outcome."""

    name: str
    cron: str
    fn: JobFn
    next_due: datetime
    last_result: str = ""
    runs: int = 0


@dataclass
class Scheduler:
    """Runs configured jobs at their cron times on one thread; a job's failure is logged, not fatal."""

    settings: Settings
    store: Store
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    jobs: list[ScheduledJob] = field(default_factory=list)

    def __post_init__(self) -> None:
        now = self.clock()
        for name, (expr, fn) in validate_schedule(self.settings).items():
            self.jobs.append(ScheduledJob(name, expr, fn, self._next(expr, now)))

    @staticmethod
    def _next(expr: str, after: datetime) -> datetime:
        from croniter import croniter

        nxt: datetime = croniter(expr, after).get_next(datetime)
        return nxt

    def run_due(self) -> list[str]:
        """Run every job that is due now; returns the names run."""
        now = self.clock()
        ran = []
        for job in self.jobs:
            if job.next_due > now:
                continue
            try:
                job.last_result = job.fn(JobContext(self.settings, self.store, job.next_due))
            except Exception as exc:  # noqa: BLE001 - one job's failure must not stop the others
                log.exception("scheduled job %s failed", job.name)
                job.last_result = f"error: {type(exc).__name__}: {exc}"
            log.info("scheduled job %s: %s", job.name, job.last_result)
            job.runs += 1
            job.next_due = self._next(job.cron, now)
            ran.append(job.name)
        return ran

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop``: sleep to the next due time (at most a minute), run what is due."""
        while not stop.is_set():
            self.run_due()
            if not self.jobs:
                stop.wait(60)
                continue
            wait = min(job.next_due for job in self.jobs) - self.clock()
            stop.wait(min(60.0, max(0.05, wait / timedelta(seconds=1))))

    def status(self) -> list[dict[str, Any]]:
        """Each job's cron, next due time, runs and last result."""
        return [
            {"name": j.name, "cron": j.cron, "next_due": j.next_due.isoformat(), "runs": j.runs, "last": j.last_result}
            for j in self.jobs
        ]


def daily_briefing(ctx: JobContext) -> str:
    """Brief every person not yet briefed today (inside the briefing window; once a day each)."""
    from agents.briefing import run_daily
    from graph.runner import open_reader

    with open_reader(ctx.settings, ctx.store) as reader:
        outcomes = run_daily(ctx.settings, ctx.store, ctx.due, calls_for=reader.tool_calls)
    given = [o.user for o in outcomes if o.status == "given"]
    return (
        f"briefed {', '.join(given) or 'nobody'} ({len(outcomes) - len(given)} already briefed or outside the window)"
    )


def follow_ups(ctx: JobContext) -> str:
    """Push incidents still unresolved after ``notify.follow_up_after_h`` again; resolve closed ones in PagerDuty."""
    from agents.escalation import follow_up_open, resolve_closed

    pushed = follow_up_open(ctx.settings, ctx.store, ctx.due)
    resolved = resolve_closed(ctx.settings, ctx.store)
    incidents = len({p["incident_id"] for p in pushed})
    failed = sum(1 for p in pushed + resolved if p["status"] == "failed")
    return f"{incidents} incident(s) followed up, {len(resolved)} PagerDuty resolve(s), {failed} failed push(es)"


def delivery_retries(ctx: JobContext) -> str:
    """Try again the pushes that failed for a reason that may pass (5xx, timeouts, rate limits)."""
    from state.delivery import Ledger
    from tools.notify import Notifier

    outcomes = Notifier(ctx.settings, Ledger(ctx.store)).retry_due(ctx.due)
    by_status = {s: sum(1 for o in outcomes if o.status == s) for s in ("delivered", "retrying", "failed")}
    return f"{len(outcomes)} retried: " + ", ".join(f"{n} {s}" for s, n in by_status.items())
