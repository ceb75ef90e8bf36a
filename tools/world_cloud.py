"""An eval world's answers to Cloud Monitor's ``GetMonitorData``: the signals its metrics are declared to measure.

A workload or node of a world (tools/world.py) may declare ``cloud_metrics``: which Cloud
Monitor namespace, metric and object (dimensions) measure which of its signals. A request is
answered by every declaration of the same namespace and metric (case-insensitive, as the API
is) whose dimensions the request names with the same values (a request may name more, as a
callback's full dimension set does); it gets one point per period boundary in [start, end],
the signal's value at that moment (the version running then, effects, events), times ``scale``.
Nothing declared answers nothing, as the API does for an object it has no data for.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from tools.world import CloudMetric, World, workload_key


def _declared(world: World) -> list[tuple[str, CloudMetric]]:
    found = [(workload_key(w), m) for w in world.workloads.values() for m in w.cloud_metrics]
    return found + [(name, m) for name, node in world.nodes.items() for m in node.cloud_metrics]


def _matches(entry: CloudMetric, namespace: str, metric: str, dimensions: dict[str, str]) -> bool:
    if entry.namespace.strip().lower() != namespace.strip().lower() or entry.metric.lower() != metric.lower():
        return False
    return all(dimensions.get(name) == value for name, value in entry.dimensions.items())


def answer_monitor(
    world: World, namespace: str, metric: str, dimensions: dict[str, str], period: int, start: datetime, end: datetime
) -> list[tuple[float, float]]:
    """(epoch s, value) at each multiple of ``period`` in [start, end] for the object the dimensions name."""
    entries = [(key, e) for key, e in _declared(world) if _matches(e, namespace, metric, dimensions)]
    if not entries:
        return []
    state = world.state()
    now = world.clock()
    first = math.ceil(start.timestamp() / period) * period
    last = min(end, now).timestamp()
    points = []
    stamp = float(first)
    while stamp <= last:
        when = datetime.fromtimestamp(stamp, UTC)
        points.append((stamp, sum(world.value(key, e.signal, when, state) * e.scale for key, e in entries)))
        stamp += period
    return points
