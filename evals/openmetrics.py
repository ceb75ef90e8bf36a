"""A case's metrics as OpenMetrics text: the raw series behind its world.yaml timeline.

The simulated world answers PromQL by matching the expression text; a real Prometheus
needs the raw series the expression reads. :func:`synthesize` writes them, in the case's
own time (the alert's ``startsAt`` as sent), for every query the world answers plus the
version series (``build_info{service,version}``):

| world query shape | series written |
|---|---|
| ``sum(rate(M{S,code=~"5.."}[5m])) / sum(rate(M{S}[5m]))`` | counters ``M{S,code="500"}``, ``M{S,code="200"}`` |
| ``max(rate(C{S}[5m])) / max(L{S2})`` | counter ``C{S}`` growing at value x limit, gauge ``L{S2}`` = limit |
| ``max(G{S}) / max(L{S2})`` | gauges ``G{S}`` = value x limit, ``L{S2}`` = limit |
| ``histogram_quantile(Q, sum by (le) (rate(B{S}[5m])))`` | histogram ``B{S,le}``, Q-quantile = the value |
| ``G{S}`` | gauge ``G{S}`` = value |

Each series carries, at every sample, the value the world gives the version running
then (its release history). Anything else is refused (:class:`UnsupportedQuery`):
guessing the series behind an arbitrary expression would test the guess, not the agent.

:func:`shift` moves every sample by a whole number of seconds and drops those after a
cut-off: the Prometheus world re-anchors a case so its alert started minutes ago.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tools.world import WorldSpec

LEAD = timedelta(minutes=5)  # data runs until the alert's start + LEAD ("now" once re-anchored)
HISTORY = timedelta(hours=2)  # signal series: baseline hour, rate windows, margin
VERSION_HISTORY = timedelta(hours=24, minutes=10)  # diagnosis reads the version series over 24 h
SIGNAL_STEP = 30  # s, a scrape interval
VERSION_STEP = 60
REQUESTS_PER_S = 20.0
CPU_LIMIT = 2.0
MEMORY_LIMIT = 1024.0**3
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_LABEL = re.compile(r'(\w+)(=~|!=|!~|=)"((?:[^"\\]|\\.)*)"')
SHAPES = {
    "error_ratio": re.compile(r'^sum\(rate\((\w+)\{(.*),code=~"5\.\."\}\[5m\]\)\)/sum\(rate\(\1\{\2\}\[5m\]\)\)$'),
    "rate_over_limit": re.compile(r"^max\(rate\((\w+)\{(.*?)\}\[5m\]\)\)/max\((\w+)\{(.*?)\}\)$"),
    "gauge_over_limit": re.compile(r"^max\((\w+)\{(.*?)\}\)/max\((\w+)\{(.*?)\}\)$"),
    "quantile": re.compile(r"^histogram_quantile\(([\d.]+),sumby\(le\)\(rate\((\w+)\{(.*?)\}\[5m\]\)\)\)$"),
    "gauge": re.compile(r"^(\w+)(?:\{(.*?)\})?$"),
}


class UnsupportedQuery(ValueError):
    """A world query whose raw series cannot be written faithfully."""


@dataclass
class Family:
    """One metric family: its type and its series (labels → [(t, value)])."""

    name: str
    kind: str  # counter | gauge | histogram
    series: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = field(default_factory=dict)

    def add(self, labels: dict[str, str], t: int, value: float) -> None:
        """Append one sample to the series ``labels``."""
        self.series.setdefault(tuple(sorted(labels.items())), []).append((t, value))

    def lines(self) -> Iterator[str]:
        """The family in OpenMetrics text (series after series, samples in time order)."""
        yield f"# TYPE {self.name} {self.kind}"
        suffix = {"counter": "_total", "histogram": "_bucket"}.get(self.kind, "")
        for labels, samples in self.series.items():
            body = ",".join(f'{k}="{v}"' for k, v in labels)
            for t, value in samples:
                yield f"{self.name}{suffix}{{{body}}} {value:.6g} {t}"


def selector_labels(text: str) -> dict[str, str]:
    """Equality matchers of a selector body; UnsupportedQuery for any other matcher."""
    labels: dict[str, str] = {}
    for key, op, value in _LABEL.findall(text or ""):
        if op != "=":
            raise UnsupportedQuery(f"matcher {key}{op}{value!r} names no single series")
        labels[key] = value
    return labels


def _family_name(metric: str, suffix: str) -> str:
    if not metric.endswith(suffix):
        raise UnsupportedQuery(f"{metric}: expected a name ending in {suffix}")
    return metric[: -len(suffix)]


class _Writer:
    """Families being written, keyed by name."""

    def __init__(self) -> None:
        self.families: dict[str, Family] = {}

    def family(self, name: str, kind: str) -> Family:
        existing = self.families.setdefault(name, Family(name, kind))
        if existing.kind != kind:
            raise UnsupportedQuery(f"{name} would be both a {existing.kind} and a {kind}")
        return existing

    def text(self) -> str:
        return "\n".join(line for family in self.families.values() for line in family.lines()) + "\n# EOF\n"


def _times(start: datetime, end: datetime, step: int) -> list[int]:
    first = int(start.timestamp()) // step * step
    return list(range(first, int(end.timestamp()) + 1, step))


def _quantile_counts(q: float, value: float) -> dict[float, float]:
    """Cumulative share of observations per bucket bound so the ``q``-quantile interpolates to ``value``.

    Exact for values above the first bound (5 ms) and up to 1% of a bucket's width below its top.
    """
    upper = next((b for b in BUCKETS if b >= value), BUCKETS[-1])
    lower = max((b for b in BUCKETS if b < upper), default=0.0)
    x = min(max((value - lower) / (upper - lower), 0.0), q)  # position inside the bucket
    below = (q - x) / (1 - x)  # share at or under ``lower``
    return {b: below if b <= lower else 1.0 for b in BUCKETS}  # all the ``below`` share sits in the first bucket


def _writers(shape: str, m: re.Match[str], out: _Writer) -> Callable[[int, float, int], None]:
    """A function writing one step (t, value, dt) of the series behind a query of ``shape``."""
    if shape == "error_ratio":
        fam, labels = out.family(_family_name(m[1], "_total"), "counter"), selector_labels(m[2])
        totals = {"500": 0.0, "200": 0.0}

        def ratio(t: int, value: float, dt: int) -> None:
            totals["500"] += REQUESTS_PER_S * dt * value
            totals["200"] += REQUESTS_PER_S * dt * (1 - value)
            for code, total in totals.items():
                fam.add(labels | {"code": code}, t, round(total, 3))

        return ratio
    if shape in ("rate_over_limit", "gauge_over_limit"):
        counter = shape == "rate_over_limit"
        labels, limit_labels = selector_labels(m[2]), selector_labels(m[4])
        limit = MEMORY_LIMIT if limit_labels.get("resource") == "memory" else CPU_LIMIT
        num = out.family(_family_name(m[1], "_total") if counter else m[1], "counter" if counter else "gauge")
        den = out.family(m[3], "gauge")
        used = [0.0]

        def over_limit(t: int, value: float, dt: int) -> None:
            used[0] = used[0] + value * limit * dt if counter else value * limit
            num.add(labels, t, round(used[0], 3))
            den.add(limit_labels, t, limit)

        return over_limit
    if shape == "quantile":
        q, fam, labels = float(m[1]), out.family(_family_name(m[2], "_bucket"), "histogram"), selector_labels(m[3])
        counts = dict.fromkeys([*BUCKETS, float("inf")], 0.0)

        def quantile(t: int, value: float, dt: int) -> None:
            shares = _quantile_counts(q, value) | {float("inf"): 1.0}
            for bound in counts:
                counts[bound] += REQUESTS_PER_S * dt * shares[bound]
                fam.add(labels | {"le": "+Inf" if bound == float("inf") else f"{bound:g}"}, t, round(counts[bound], 3))

        return quantile
    fam, labels = out.family(m[1], "gauge"), selector_labels(m[2])
    return lambda t, value, _dt: fam.add(labels, t, value)


def _match(expr: str) -> tuple[str, re.Match[str]]:
    text = re.sub(r"\s+", "", expr)
    for shape, pattern in SHAPES.items():
        found = pattern.match(text)
        if found:
            return shape, found
    raise UnsupportedQuery(f"no raw series known for {expr!r}")


def synthesize(spec: WorldSpec, starts_at: datetime, until: datetime | None = None) -> str:
    """OpenMetrics text of ``spec``'s queries and version series, in the case's time.

    The samples run until the alert's start + LEAD, or ``until`` when that is later (an
    episode that starts long after the alert's time still finds data at its "now").
    """
    import tempfile
    from pathlib import Path

    from tools.world import World, workload_key
    from tools.world_promql import world_series

    out = _Writer()
    end = max(starts_at + LEAD, until or starts_at)
    with tempfile.TemporaryDirectory(prefix="synthesize-") as tmp:
        world = World(spec, Path(tmp) / "state.json")
        state = world.state()
        for t in _times(starts_at - VERSION_HISTORY, end, VERSION_STEP):
            at = datetime.fromtimestamp(t, UTC)
            for labels, value in world_series(world, state, at):
                name = labels.pop("__name__")
                out.family(name, "gauge").add(labels, t, value)
        for workload in spec.all_workloads():
            key = workload_key(workload)
            for query in workload.queries:
                write = _writers(*_match(query.expr), out)
                for t in _times(starts_at - HISTORY, end, SIGNAL_STEP):
                    at = datetime.fromtimestamp(t, UTC)
                    if world.run_at(at, state, key) is not None:
                        write(t, world.value(key, query.signal, at, state), SIGNAL_STEP)
    return out.text()


def shift(text: str, seconds: int, until: int | None = None) -> str:
    """``text`` with every sample's timestamp moved by ``seconds`` (samples after ``until`` dropped)."""
    lines = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            lines.append(line)
            continue
        head, _, stamp = line.rpartition(" ")
        moved = float(stamp) + seconds
        if until is not None and moved > until:
            continue
        lines.append(f"{head} {moved:.3f}".replace(".000", ""))
    return "\n".join(lines) + "\n"
