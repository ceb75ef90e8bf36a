"""A case's metrics as OpenMetrics text: the raw series behind its world.yaml timeline.

The simulated world answers a declared query with its signal; a real Prometheus needs
the raw series the expression reads. :func:`synthesize` writes them, in the case's own
time (the alert's ``startsAt`` as sent), until the episode starts:

- every series the world itself exposes (:func:`tools.world_promql.world_series`): each
  workload's version series (``build_info{service,version}``, or any metric/label its
  ``versions`` name), kube-state-metrics series for workloads with an ``image``, raw
  ``series`` of workloads and nodes; one sample every 30 s (a scrape interval) over the 24 h
  diagnosis reads;
- for every query a workload or node declares that those series do not already answer,
  the raw series that make Prometheus answer it with the signal's value
  (:func:`evals.series_plan.plan`: counters split by ``code``, a counter over a limit,
  histogram buckets, gauges, the gates of ``and``...; a base the world's own series
  already carry, such as ``kube_pod_owner``, is read from them); one sample every 30 s
  over the 2 h before the alert.

Every sample carries the value the world gives it at that moment: the version running
then (release history), ramps, events. Then the written series are checked (tools.world_promql's
evaluator over them) as agents and Prometheus read a rule: its main branch (the value
side of the comparison it fires on, through the left of ``and``/``or``/``unless``) must
give the signal's value, and the whole expression must answer that value while the value
fires and nothing while it does not (a gate that does not hold, a mute, an ``or`` side
firing on its own, are named). A query it cannot write, or whose series would answer
something else (two queries writing the same series differently, sides of a ratio that
do not match), raises :class:`UnsupportedQuery` with the reason, and the prometheus world
skips the case.

:func:`shift` moves every sample by a whole number of seconds and drops those after a
cut-off: the Prometheus world re-anchors a case so its episode starts now.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from evals.promql_tree import HOLDS, main_branch, selector_names, text_of, walk
from evals.series_plan import REQUESTS_PER_S, Leaf, UnsupportedQuery, plan
from tools.world import Ramp, WorldSpec, moved_unix_time, unix_time_metric

if TYPE_CHECKING:
    from tools.world import World, WorldQuery, WorldState

__all__ = ["BUCKETS", "LEAD", "UnsupportedQuery", "shift", "synthesize"]

LEAD = timedelta(minutes=5)  # data runs at least until the alert's start + LEAD
HISTORY = timedelta(hours=2)  # signal series: baseline hour, rate windows, margin
VERSION_HISTORY = timedelta(hours=24, minutes=10)  # diagnosis reads the version series over 24 h
LEAK_HISTORY = timedelta(days=7, minutes=10)  # ... and over 7 days for a leak (a coarser step past the first 24 h)
OLD_STEP = 120  # s, the world's series older than VERSION_HISTORY (rate(x[5m]) still finds two samples)
SIGNAL_STEP = 30  # s, a scrape interval
WORLD_STEP = SIGNAL_STEP  # the world's own series are scraped like any other: rate(x[1m]) needs two samples
LOOKBACK_S = 300  # Prometheus' lookback for an instant selector
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CHECKS = (timedelta(minutes=-40), timedelta(0))  # moments (from the alert's start) a declared query is checked at


@dataclass
class Family:
    """One metric family: its type and its series (labels → [(t, value)])."""

    name: str
    kind: str  # counter | gauge | histogram | unknown
    series: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = field(default_factory=dict)

    @property
    def sample_name(self) -> str:
        """The name its samples carry."""
        return self.name + {"counter": "_total", "histogram": "_bucket"}.get(self.kind, "")

    def add(self, labels: dict[str, str], t: int, value: float) -> None:
        """Append one sample to the series ``labels``."""
        self.series.setdefault(tuple(sorted(labels.items())), []).append((t, value))

    def lines(self) -> Iterator[str]:
        """The family in OpenMetrics text (series after series, samples in time order, one per moment)."""
        yield f"# TYPE {self.name} {self.kind}"
        for labels, samples in self.series.items():
            body = ",".join(f'{k}="{v}"' for k, v in labels)
            head = f"{self.sample_name}{{{body}}}" if body else self.sample_name
            last = None
            for t, value in sorted(samples, key=lambda s: s[0]):
                if t != last:
                    yield f"{head} {value:.12g} {t}"
                last = t


class _Writer:
    """Families being written, keyed by name."""

    def __init__(self) -> None:
        self.families: dict[str, Family] = {}

    def family(self, name: str, kind: str) -> Family:
        existing = self.families.setdefault(name, Family(name, kind))
        if existing.kind != kind:
            raise UnsupportedQuery(f"{name} would be both a {existing.kind} and a {kind}")
        return existing

    def for_sample(self, sample: str, kind: str) -> Family:
        """The family whose samples are named ``sample``: a counter's ``_total``, a histogram's ``_bucket``."""
        if kind == "counter":
            return (
                self.family(sample[: -len("_total")], "counter")
                if sample.endswith("_total")
                else self.family(sample, "unknown")
            )
        if kind == "buckets":
            return self.family(sample[: -len("_bucket")], "histogram")
        return self.family(sample, "gauge")

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


class _LeafWriter:
    """Writes one leaf's samples step by step (a counter keeps its running total)."""

    def __init__(self, leaf: Leaf, out: _Writer) -> None:
        self.leaf = leaf
        self.family = out.for_sample(leaf.metric, leaf.kind)
        self.labels = dict(leaf.labels)
        self.total = 0.0
        self.counts = dict.fromkeys([*BUCKETS, math.inf], 0.0)

    def write(self, t: int, value: float, dt: int) -> None:
        leaf = self.leaf
        if leaf.kind == "gauge":
            self.family.add(self.labels, t, leaf.fn(value))
        elif leaf.kind == "counter":
            self.total += leaf.scale * dt * leaf.fn(value)
            self.family.add(self.labels, t, self.total)
        else:
            shares = _quantile_counts(leaf.quantile, leaf.fn(value)) | {math.inf: 1.0}
            for bound in self.counts:
                self.counts[bound] += REQUESTS_PER_S * dt * shares[bound]
                le = "+Inf" if bound == math.inf else f"{bound:g}"
                self.family.add(self.labels | {"le": le}, t, self.counts[bound])


def synthesize(spec: WorldSpec, starts_at: datetime, until: datetime | None = None) -> str:
    """OpenMetrics text of ``spec``'s series and declared queries, in the case's time.

    The samples run until the alert's start + LEAD, or ``until`` when that is later (an
    episode that starts long after the alert's time still finds data at its "now").
    UnsupportedQuery when a declared query cannot be written faithfully.
    """
    import tempfile
    from pathlib import Path

    from tools.world import World
    from tools.world_promql import world_series

    out = _Writer()
    end = max(starts_at + LEAD, until or starts_at)
    with tempfile.TemporaryDirectory(prefix="synthesize-") as tmp:
        world = World(spec, Path(tmp) / "state.json")
        state = world.state()
        recent = starts_at - VERSION_HISTORY
        older = _times(starts_at - LEAK_HISTORY, recent, OLD_STEP) if _climbs(spec) else []
        older = [t for t in older if t < recent.timestamp()]
        for t in older + _times(recent, end, WORLD_STEP):
            for labels, value in world_series(world, state, datetime.fromtimestamp(t, UTC)):
                name = labels.pop("__name__")
                out.family(name, "gauge").add(labels, t, value)
        declared = _declared(world, state, starts_at)
        provided = _provided(world, state, starts_at)
        for key, query in declared:
            _write_query(world, state, key, query, out, provided, (starts_at - HISTORY, end))
        view = _SampleView(out)
        for key, query in declared:
            _check(world, state, key, query, view, starts_at)
    return out.text()


def _climbs(spec: WorldSpec) -> bool:
    """Whether a signal of the world is a ramp (a leak may have begun days before the alert)."""
    return any(
        isinstance(value, Ramp) for w in spec.workloads for values in w.signals.values() for value in values.values()
    )


def _declared(world: World, state: WorldState, at: datetime) -> list[tuple[str, WorldQuery]]:
    """(entity key, query) for every declared query the world's own series do not answer.

    One expression may be declared by several entities, each for one series of its answer
    (``sum by (service) (...)``: one per service, told apart by their labels); declaring the
    same series twice with different answers is refused.
    """
    from tools.promql import normalize, split_comparison

    found: list[tuple[str, WorldQuery]] = []
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, WorldQuery]] = {}
    entities: list[tuple[str, list[WorldQuery]]] = [(k, w.queries) for k, w in world.workloads.items()]
    entities += [(name, node.queries) for name, node in world.nodes.items()]
    for key, queries in entities:
        for query in queries:
            series = (normalize(split_comparison(query.expr)[0]), tuple(sorted(query.labels.items())))
            if series in seen:
                first_key, first = seen[series]
                if (first_key, first.signal) != (key, query.signal):
                    raise UnsupportedQuery(
                        f"{query.expr!r} is declared twice for the series {query.labels} "
                        f"with different answers ({first_key}, {key})"
                    )
                continue
            seen[series] = (key, query)
            if not _own_answer(world, state, key, query, at):
                found.append((key, query))
    return found


def _own_answer(world: World, state: WorldState, key: str, query: WorldQuery, at: datetime) -> bool:
    """Whether the world's own series answer ``query`` (so nothing more is written for it); they must agree."""
    import promql_parser as pq

    from tools.world_promql import Evaluator, Unsupported

    try:
        got = Evaluator(world, state).eval(main_branch(pq.parse(query.expr)).value, at)
    except (Unsupported, ValueError):
        return False
    if isinstance(got, float) or not got:
        return False
    want = world.value(key, query.signal, at, state)
    if not any(_close(value, [want]) for _, value in got):
        raise UnsupportedQuery(
            f"{query.expr!r}: the world's own series answer {got[0][1]:.6g}, its query {want:.6g} "
            "(world.yaml's series and its query disagree)"
        )
    return True


def _write_query(
    world: World,
    state: WorldState,
    key: str,
    query: WorldQuery,
    out: _Writer,
    provided: Callable[[Leaf], float | None],
    span: tuple[datetime, datetime],
) -> None:
    writers = [_LeafWriter(leaf, out) for leaf in plan(query.expr, query.labels, provided)]
    for t in _times(*span, SIGNAL_STEP):
        at = datetime.fromtimestamp(t, UTC)
        if key in world.workloads and world.run_at(at, state, key) is None:
            continue  # nothing of it ran yet
        value = world.value(key, query.signal, at, state)
        for writer in writers:
            writer.write(t, value, SIGNAL_STEP)


def _provided(world: World, state: WorldState, at: datetime) -> Callable[[Leaf], float | None]:
    """The value the world's own series give a leaf's selector at ``at`` (one value, else None)."""
    from tools.world_promql import world_series

    series = world_series(world, state, at)

    def provided(leaf: Leaf) -> float | None:
        values = {value for labels, value in series if leaf.answered_by(labels)}
        return values.pop() if len(values) == 1 else None

    return provided


class _SampleView:
    """The written series as an instant vector at any moment (the last sample within the lookback)."""

    def __init__(self, out: _Writer) -> None:
        self.series: list[tuple[dict[str, str], list[int], list[float]]] = []
        for family in out.families.values():
            for labels, samples in family.series.items():
                ordered = sorted(samples, key=lambda s: s[0])
                name = {"__name__": family.sample_name}
                self.series.append((name | dict(labels), [t for t, _ in ordered], [v for _, v in ordered]))

    def at(self, when: datetime) -> list[tuple[dict[str, str], float]]:
        t = when.timestamp()
        vector = []
        for labels, stamps, values in self.series:
            i = bisect.bisect_right(stamps, t) - 1
            if i >= 0 and t - stamps[i] <= LOOKBACK_S:
                vector.append((dict(labels), values[i]))
        return vector


def _check(
    world: World, state: WorldState, key: str, query: WorldQuery, view: _SampleView, starts_at: datetime
) -> None:
    """UnsupportedQuery unless Prometheus' reading of the written series is the world's (where evaluable).

    The main branch must answer the signal's value; the whole expression that value while it
    fires (its comparison holds) and nothing while it does not.
    """
    import promql_parser as pq

    from tools.world_promql import Evaluator, Unsupported

    class _OverWritten(Evaluator):
        def series(self, at: datetime) -> list[tuple[dict[str, str], float]]:
            return view.at(at)

    expr = query.expr.strip()
    tree = pq.parse(expr)
    branch = main_branch(tree)
    window = _longest_range(branch.value)
    evaluator = _OverWritten(world, state)
    for delta in CHECKS:
        at = datetime.fromtimestamp(int((starts_at + delta).timestamp()) // SIGNAL_STEP * SIGNAL_STEP, UTC)
        if key in world.workloads and world.run_at(at - window, state, key) is None:
            continue
        try:
            got = _values(evaluator.eval(branch.value, at), query.labels)
            whole = got if branch.value is tree else _values(evaluator.eval(tree, at), query.labels)
        except Unsupported:
            return  # beyond the checker (histogram_quantile): the leaves' own tests vouch for it
        steps = range(0, int(window.total_seconds()) + SIGNAL_STEP, SIGNAL_STEP)
        wants = [world.value(key, query.signal, at - timedelta(seconds=s), state) for s in steps]
        shown = text_of(branch.value) if branch.value is not tree else expr
        if len(got) != 1 or not _close(got[0], wants):
            raise UnsupportedQuery(
                f"{shown!r}: the written series answer {_shown(got)} at {at:%H:%M}, the world {wants[0]:.6g}"
            )
        fires = branch.op is None or HOLDS[branch.op](got[0], branch.threshold or 0.0)
        if fires and (len(whole) != 1 or not _close(whole[0], wants)):
            why = _failing_gate(branch, evaluator, at)
            raise UnsupportedQuery(
                f"{expr!r} answers {_shown(whole)} at {at:%H:%M} while its main branch answers {got[0]:.6g}{why}"
            )
        if not fires and whole:
            raise UnsupportedQuery(
                f"{expr!r} answers {_shown(whole)} at {at:%H:%M} while its main branch answers {got[0]:.6g}, "
                f"not {branch.op} {branch.threshold:g}: another branch fires on its own"
            )


def _values(answer: list[tuple[dict[str, str], float]] | float, declared: dict[str, str]) -> list[float]:
    """The answer's values for the declared series (a series with another value for a declared label is another's)."""
    if isinstance(answer, float):
        return [answer]
    return [value for labels, value in answer if all(labels.get(k, v) == v for k, v in declared.items())]


def _shown(values: list[float]) -> str:
    return "nothing" if not values else ", ".join(f"{v:.6g}" for v in values[:3])


def _failing_gate(branch: Any, evaluator: Any, at: datetime) -> str:
    """Which set operation drops the main branch: an ``and`` side answering nothing, an ``unless`` side answering."""
    for operation in reversed(branch.secondary):  # from the main branch up
        op = str(operation.op)
        side = evaluator.eval(operation.rhs, at)
        if op == "and" and not side:
            own = selector_names(operation.rhs) <= selector_names(branch.value)
            tail = " (it reads the main branch's series, which follow the world's signal)" if own else ""
            return f": {text_of(operation.rhs)!r} does not hold over the written series{tail}"
        if op == "unless" and side:
            return f": {text_of(operation.rhs)!r} answers and mutes it"
    return ""


def _longest_range(node: Any) -> timedelta:
    """The longest range selector in the expression (the window its value averages over)."""
    ranges = [item.range for item in walk(node) if type(item).__name__ == "MatrixSelector"]
    return max(ranges, default=timedelta(0))


def _close(got: float, wants: list[float]) -> bool:
    """Whether ``got`` lies within the values the signal took over the window (plus rounding)."""
    if math.isnan(got):
        return False
    low, high = min(wants), max(wants)
    margin = 1e-5 + 1e-3 * max(abs(low), abs(high))
    return low - margin <= got <= high + margin


def shift(text: str, seconds: int, until: int | None = None) -> str:
    """``text`` with every sample's timestamp moved by ``seconds`` (samples after ``until`` dropped).

    A sample whose value is itself a Unix time (a certificate's expiry, a start time, by the
    metric's name: :func:`tools.world.unix_time_metric`) moves with it, or the re-anchored case
    would say the certificate expires days later (or earlier) than it does.
    """
    lines = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            lines.append(line)
            continue
        head, _, stamp = line.rpartition(" ")
        moved = float(stamp) + seconds
        if until is not None and moved > until:
            continue
        series, _, value = head.rpartition(" ")
        if unix_time_metric(series.split("{", 1)[0]):
            head = f"{series} {moved_unix_time(float(value), seconds):.15g}"
        stamp = f"{moved:.3f}".removesuffix(".000")  # the stamp only: a value such as 4.00041e+09 keeps its digits
        lines.append(f"{head} {stamp}")
    return "\n".join(lines) + "\n"
