"""The Prometheus world: a case's metrics served by a real Prometheus, re-anchored to now.

For one episode: take the case's OpenMetrics (``metrics.om`` when the case commits one,
else written from ``world.yaml`` by :func:`evals.openmetrics.synthesize`), move every
sample so the episode starts now (the alert reached alertpilot ``delivered_after_s``
after its time, 60 s unless the case says otherwise), load it with
``promtool tsdb create-blocks-from openmetrics`` into a throwaway data directory, start
``prometheus`` on 127.0.0.1 and a free port (a config without scrape jobs), wait until it
is ready, run the episode, stop it. The alerts' ``startsAt``/``endsAt``, the world's
release history and events and the case's log records move by the same amount, so the
case stays self-consistent; the episode's simulated clock starts at the anchored now.

Recorded data cannot react to the executor. So the metrics tools are routed by what the
world has been through (:class:`PrometheusUntilActed`): until a mutating call succeeds,
Prometheus answers every metrics read (it holds what happened up to now); once the
executor has changed the simulated world, the reads (verify's re-checks) are answered by
that world, since the recorded series no longer describe it. The oracle reads the
simulated world, as in the live world.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evals.case import Case, CaseSkipped, Expectation
from evals.openmetrics import UnsupportedQuery, shift, synthesize
from state.alert import Alert
from tools.registry import ToolRegistry, ToolResult
from tools.world import WorldSpec

METRICS_FILE = "metrics.om"
READY_TIMEOUT_S = 20.0
LOAD_TIMEOUT_S = 60.0
# The series go on this long past the episode's start, as scrapes would while the agent reads:
# loading Prometheus takes seconds, and a rule over rate(x[1m]) needs two samples in its last minute.
SCRAPED_AHEAD = timedelta(minutes=10)
_TIME_KEY = re.compile(r"time|^ts$|timestamp|^t$", re.I)
# timestamps as text: ISO 8601 / RFC 3339 (T or space, optional fraction and zone), and the
# Common Log Format of nginx/Apache access logs (20/Nov/2026:03:08:01 +0000)
_ISO = re.compile(r"(\d{4}-\d{2}-\d{2})([T ])(\d{2}:\d{2}:\d{2})([.,]\d{1,9})?(Z|[+-]\d{2}:?\d{2})?(?![\d:])")
_CLF = re.compile(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}")
METRICS_TOOLS = frozenset(
    {"execute_query", "execute_range_query", "list_metrics", "get_metric_metadata", "get_targets"}
)


def binaries() -> tuple[str, str] | None:
    """Paths of ``prometheus`` and ``promtool``, or None when either is missing."""
    found = shutil.which("prometheus"), shutil.which("promtool")
    return (found[0], found[1]) if found[0] and found[1] else None


@dataclass
class Anchor:
    """How far a case moves: ``offset`` added to every time in it."""

    offset: timedelta
    now: datetime

    @classmethod
    def for_case(cls, case: Case, now: datetime | None = None) -> Anchor:
        """The whole-second offset that puts the episode's start (the alert's delivery) at ``now``."""
        from evals.worlds import episode_start

        now = (now or datetime.now(UTC)).replace(microsecond=0)
        return cls(timedelta(seconds=round((now - episode_start(case)).total_seconds())), now)

    def alert(self, alert: Alert) -> Alert:
        """The alert with its start (and end) moved."""
        moved = {"starts_at": alert.starts_at + self.offset}
        if alert.ends_at is not None and alert.ends_at.year > 1:
            moved["ends_at"] = alert.ends_at + self.offset
        return alert.model_copy(update=moved)

    def case(self, case: Case) -> Case:
        """The case with every alert of its payload moved."""
        return case.with_alerts([self.alert(a) for a in case.alerts])

    def spec(self, spec: WorldSpec) -> WorldSpec:
        """The world with its release history and events moved."""
        return spec.moved(self.offset)

    def record(self, value: Any, key: str = "") -> Any:
        """A log record with its timestamps moved, at any depth.

        Moved: RFC 3339 strings; epoch seconds or milliseconds under a key naming a time
        (``time``, ``__TIMESTAMP__``, ``ts``...); the same inside a string holding a JSON object
        (a CLS record's ``content``).
        """
        if isinstance(value, dict):
            return {k: self.record(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.record(v, key) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool) and _TIME_KEY.search(key):
            seconds = self.offset.total_seconds()
            if 1e9 <= value < 1e10:
                return type(value)(value + seconds)
            if 1e12 <= value < 1e13:
                return type(value)(value + seconds * 1000)
            return value
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            try:
                inner = json.loads(value)
            except json.JSONDecodeError:
                return value
            return json.dumps(self.record(inner), ensure_ascii=False)
        if isinstance(value, str) and (_ISO.fullmatch(value) or _CLF.fullmatch(value)):
            return self.text(value)
        return value

    def text(self, line: str) -> str:
        """``line`` with every timestamp written in it moved, each in its own format (plain-text logs)."""
        line = _CLF.sub(lambda m: self._clf(m.group(0)), line)
        return _ISO.sub(self._iso, line)

    def _clf(self, text: str) -> str:
        parsed = datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")
        return (parsed + self.offset).strftime("%d/%b/%Y:%H:%M:%S %z")

    def _iso(self, m: re.Match[str]) -> str:
        day, sep, clock, fraction, zone = m.groups()
        try:
            parsed = datetime.fromisoformat(f"{day}T{clock}")
        except ValueError:
            return m.group(0)
        if parsed.year < 1000:  # Alertmanager's "0001-01-01T00:00:00Z": no time at all
            return m.group(0)
        moved = parsed + self.offset  # in the text's own zone: a zone does not change by moving
        return f"{moved:%Y-%m-%d}{sep}{moved:%H:%M:%S}{fraction or ''}{zone or ''}"


def moved_expectation(expect: Expectation, offset_s: int) -> Expectation:
    """``expect`` with every ``{time: ...}`` argument matcher moved by ``offset_s`` (the episode's times moved)."""

    def move(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) - {"tolerance_s"} == {"time"}:
                when = value["time"]
                if isinstance(when, int | float):
                    return value | {"time": when + offset_s}
                parsed = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
                return value | {"time": (parsed + timedelta(seconds=offset_s)).isoformat()}
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, list):
            return [move(v) for v in value]
        return value

    moved = {
        kind: [c.model_copy(update={"args": move(c.args)}) for c in getattr(expect, kind)]
        for kind in ("reads", "mutations")
    }
    return expect.model_copy(update=moved)


def case_openmetrics(case: Case) -> str:
    """The case's OpenMetrics in its own time: ``metrics.om`` if committed, else written from world.yaml."""
    committed = case.path / METRICS_FILE
    if committed.is_file():
        return committed.read_text()
    from evals.worlds import episode_start

    try:
        return synthesize(WorldSpec.load(case.path), case.alert.starts_at, until=episode_start(case) + SCRAPED_AHEAD)
    except UnsupportedQuery as exc:
        raise CaseSkipped(f"{case.id}: the prometheus world cannot serve world.yaml: {exc}") from None


def anchored_openmetrics(case: Case, anchor: Anchor) -> str:
    """The case's OpenMetrics moved by ``anchor`` (nothing past SCRAPED_AHEAD after its ``now``)."""
    until = int((anchor.now + SCRAPED_AHEAD).timestamp())
    return shift(case_openmetrics(case), int(anchor.offset.total_seconds()), until=until)


def moved_logs(files: list[Path], anchor: Anchor, into: Path) -> list[Path]:
    """Copies of the log archives ``files`` (files or directories) with their records' timestamps moved.

    JSON records as :meth:`Anchor.record` moves them; other lines (plain text, logfmt, access
    logs) by the timestamps written in them (:meth:`Anchor.text`). A file that is not UTF-8
    text is copied as it is (a gzip archive keeps its recorded times).
    """
    from tools.logs.reader import expand_paths

    out = []
    for index, root in enumerate(files):
        base = into / f"{index:02d}"
        for source in expand_paths([root], lambda _issue: None):
            target = base / (source.relative_to(root) if root.is_dir() else Path(source.name))
            target.parent.mkdir(parents=True, exist_ok=True)
            out.append(target)
            try:
                text = source.read_text()
            except (UnicodeDecodeError, OSError):
                shutil.copyfile(source, target)
                continue
            target.write_text("".join(moved_line(line, anchor) + "\n" for line in text.splitlines()))
    return out


def moved_line(line: str, anchor: Anchor) -> str:
    """One log line with its timestamps moved (a JSON record, or the times written in a text line)."""
    try:
        return json.dumps(anchor.record(json.loads(line)), ensure_ascii=False)
    except json.JSONDecodeError:
        return anchor.text(line)  # a plain-text or logfmt line: its written timestamps move


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise CaseSkipped(f"prometheus exited with status {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise CaseSkipped(f"prometheus at {url} not ready after {timeout_s:g}s")


@contextmanager
def serve_openmetrics(text: str, workdir: Path, ready_timeout_s: float = READY_TIMEOUT_S) -> Iterator[str]:
    """Load ``text`` with promtool into ``workdir`` and serve it with prometheus; yields its URL."""
    found = binaries()
    if found is None:
        raise CaseSkipped("the prometheus world needs the prometheus and promtool binaries on PATH")
    prometheus, promtool = found
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / METRICS_FILE).write_text(text)
    data = workdir / "data"
    loaded = subprocess.run(
        # one block for the 24 h of history instead of twelve 2 h blocks: ~0.3 s instead of ~2 s
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=48h", "--quiet"]
        + [str(workdir / METRICS_FILE), str(data)],
        capture_output=True,
        text=True,
        timeout=LOAD_TIMEOUT_S,
    )
    if loaded.returncode != 0:
        last = (loaded.stderr or loaded.stdout).strip().splitlines()[-1:] or ["no output"]
        raise CaseSkipped(f"promtool could not load the case's OpenMetrics: {last[0]}")
    (workdir / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")  # no scrape jobs
    port = _free_port()
    args = [
        prometheus,
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=30d",
    ]
    with (workdir / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, proc, ready_timeout_s)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass
class PrometheusUntilActed:
    """Metrics reads from Prometheus until a mutating call succeeds, then from the simulated world.

    Everything else (logs, GitHub, the executor acting on the simulated world) is the
    world registry's. ``answered`` counts the metrics reads each side answered.
    """

    world: ToolRegistry
    prometheus: ToolRegistry
    acted: bool = False
    answered: dict[str, int] = field(default_factory=lambda: {"prometheus": 0, "world": 0})

    def has(self, name: str) -> bool:
        """Whether the world offers ``name``."""
        return self.world.has(name)

    def is_mutating(self, name: str) -> bool:
        """Whether ``name`` changes the world."""
        return self.world.is_mutating(name)

    def invoke(self, name: str, args: dict[str, Any]) -> ToolResult:
        """Route one call (see the class docstring)."""
        if name in METRICS_TOOLS and self.prometheus.has(name):
            side = "world" if self.acted else "prometheus"
            self.answered[side] += 1
            return (self.world if self.acted else self.prometheus).invoke(name, args)
        result = self.world.invoke(name, args)
        if result.ok and self.world.has(name) and self.world.is_mutating(name):
            # the executor answers {"status": "error"} for an operation that did not change anything
            self.acted = self.acted or not isinstance(result.data, dict) or result.data.get("status") == "success"
        return result
