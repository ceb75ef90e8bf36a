"""PromQL answers from a scenario world.

Two ways, tried in order:

1. **Declared queries.** An expression (its left-hand side when it ends in a comparison
   with a number) that a workload or node declares under ``queries`` is answered with that
   entity's signal, one series per declaring entity, labelled as declared; the comparison
   filters the answer as Prometheus would. This is how a case says "this is the alert's
   expression and this signal is what it measures".
2. **Evaluation over the world's series.** Anything else is parsed (promql-parser) and
   evaluated over the series the world exposes at each moment: every workload's version
   series (``build_info{namespace,service,version}`` by default; any metric/label per
   ``versions``), kube-state-metrics pod series for workloads with an ``image``, and
   declared raw ``series``. Selectors match by their label matchers; functions and
   aggregations cover what diagnosis asks (``*_over_time``, ``sum/max/min/avg/count
   by|without``, ``topk|bottomk`` per group, ``predict_linear``, ``round`` to a multiple,
   arithmetic and comparisons with scalars and between vectors (one-to-one ``on``/``ignoring``
   keeping or dropping labels, ``group_left|right`` copying the listed ones from the "one"
   side, as Prometheus labels the result), ``and|or|unless``). An expression outside that set
   answers nothing, as a metric that does not exist would.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import promql_parser as pq

from tools.promql import normalize, split_comparison

if TYPE_CHECKING:
    from tools.world import RawSeries, WorkloadSpec, World, WorldState

Labels = tuple[tuple[str, str], ...]
Vector = list[tuple[dict[str, str], float]]
SUBSTEP = timedelta(seconds=30)  # the world's scrape interval, for range vectors
KSM_JOB = "kube-state-metrics"


class Unsupported(ValueError):
    """An expression the world cannot evaluate (it answers nothing)."""


# --------------------------------------------------------------------------- entry points


def answer_instant(world: World, expr: str, at: datetime) -> list[dict[str, Any]]:
    """Instant vector for ``expr`` at ``at``."""
    state = world.state()
    stamp = at.timestamp()
    return [{"metric": labels, "value": [stamp, _text(value)]} for labels, value in _at(world, state, expr, at)]


def answer_range(world: World, expr: str, points: list[datetime]) -> list[dict[str, Any]]:
    """Range matrix for ``expr`` at ``points``: one entry per label set, its values in time order."""
    state = world.state()
    series: dict[Labels, list[list[Any]]] = {}
    for at in points:
        for labels, value in _at(world, state, expr, at):
            series.setdefault(_key(labels), []).append([at.timestamp(), _text(value)])
    return [{"metric": dict(key), "values": values} for key, values in series.items()]


def _at(world: World, state: WorldState, expr: str, at: datetime) -> Vector:
    declared = _declared(world, state, expr, at)
    if declared is not None:
        return declared
    try:
        tree = pq.parse(expr)
    except ValueError:
        return []
    try:
        result = Evaluator(world, state).eval(tree, at)
    except Unsupported:
        return []
    return [] if isinstance(result, float) else result


def _text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return repr(round(value, 6))


def _key(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


# --------------------------------------------------------------------------- declared queries


def _declared(world: World, state: WorldState, expr: str, at: datetime) -> Vector | None:
    """The declared queries' answer, or None when no entity declares ``expr``."""
    whole = normalize(expr)
    lhs, op, threshold = split_comparison(expr)
    wanted = normalize(lhs)
    found: Vector = []
    matched = False
    entities: list[tuple[str, list[Any], bool]] = [(k, w.queries, True) for k, w in world.workloads.items()]
    entities += [(name, node.queries, False) for name, node in world.nodes.items()]
    for key, queries, is_workload in entities:
        for query in queries:
            own = normalize(query.expr)
            if own not in (wanted, whole):
                continue
            matched = True
            if is_workload and world.run_at(at, state, key) is None:
                continue  # nothing of it ran yet
            value = world.value(key, query.signal, at, state)
            keep = own == whole or op is None or threshold is None or _compare(value, op, threshold)
            if keep:
                found.append((dict(query.labels), value))
    return found if matched else None


def _compare(value: float, op: str, threshold: float) -> bool:
    return {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
        "==": value == threshold,
        "!=": value != threshold,
    }[op]


# --------------------------------------------------------------------------- the world's series


def world_series(world: World, state: WorldState, at: datetime) -> Vector:
    """Every series the world exposes at ``at`` (``__name__`` included), for selectors to match."""
    out: Vector = []
    for key, workload in world.workloads.items():
        run = world.run_at(at, state, key)
        if run is None:
            continue
        pods = world.pods(key, run.version)
        for spec in workload.versions:
            version_labels = {"__name__": spec.metric, spec.label: _versioned(spec.template, workload, run.version)}
            for identity in _identities(workload, pods, spec.labels, spec.per_pod):
                out.append((identity | version_labels, 1.0))
        if workload.image:
            out.extend(_kube_state_metrics(workload, run.version, pods))
        for raw in workload.series:
            value = world.value(key, raw.signal, at, state) * raw.scale
            versioned = {raw.version_label: run.version} if raw.version_label else {}
            out.extend((labels | versioned, value) for labels in _raw_labels(raw, workload, pods))
    for name, node in world.nodes.items():
        for raw in node.series:
            value = world.value(name, raw.signal, at, state) * raw.scale
            out.append(({"node": name} | raw.labels | {"__name__": raw.metric}, value))
    return out


def _versioned(template: str, workload: WorkloadSpec, version: str) -> str:
    return template.format(version=version, image=workload.image or workload.name, name=workload.name)


def _identities(
    workload: WorkloadSpec, pods: list[str], labels: dict[str, str] | None, per_pod: bool
) -> list[dict[str, str]]:
    default = {"namespace": workload.namespace, "service": workload.name, "job": workload.name}
    base = dict(labels) if labels is not None else default
    if not per_pod:
        return [base]
    return [base | {"namespace": workload.namespace, "pod": pod, "container": workload.main_container} for pod in pods]


def _raw_labels(raw: RawSeries, workload: WorkloadSpec, pods: list[str]) -> list[dict[str, str]]:
    base = {"namespace": workload.namespace} | raw.labels | {"__name__": raw.metric}
    if not raw.per_pod:
        return [base]
    return [base | {"pod": pod, "container": workload.main_container} for pod in pods]


def _kube_state_metrics(workload: WorkloadSpec, version: str, pods: list[str]) -> Vector:
    from tools.world import replicaset_hash

    common = {"namespace": workload.namespace, "job": KSM_JOB}
    image = f"{workload.image}:{version}"
    out: Vector = []
    replicaset = f"{workload.name}-{replicaset_hash(workload, version)}"
    owner_kind, owner_name = {
        "Deployment": ("ReplicaSet", replicaset),
        "StatefulSet": ("StatefulSet", workload.name),
        "DaemonSet": ("DaemonSet", workload.name),
    }[workload.kind]
    owner = {"owner_kind": owner_kind, "owner_name": owner_name, "owner_is_controller": "true"}
    container = {"container": workload.main_container, "image": image, "image_spec": image}
    for pod in pods:
        mine = common | {"pod": pod}
        created = {"created_by_kind": owner_kind, "created_by_name": owner_name}
        out.append((mine | {"__name__": "kube_pod_info"} | created, 1.0))
        out.append((mine | {"__name__": "kube_pod_owner"} | owner, 1.0))
        out.append((mine | {"__name__": "kube_pod_container_info"} | container, 1.0))
    if workload.kind == "Deployment":
        deployment = {"owner_kind": "Deployment", "owner_name": workload.name, "owner_is_controller": "true"}
        out.append((common | {"__name__": "kube_replicaset_owner", "replicaset": replicaset} | deployment, 1.0))
    return out


def metric_names(world: World) -> list[str]:
    """Every metric name the world knows: its series' names and those its declared queries select."""
    state = world.state()
    names = {labels["__name__"] for labels, _ in world_series(world, state, world.clock()) if "__name__" in labels}
    queries = [q for w in world.workloads.values() for q in w.queries]
    queries += [q for n in world.nodes.values() for q in n.queries]
    for query in queries:
        try:
            tree = pq.parse(split_comparison(query.expr)[0])
        except ValueError:
            continue
        names.update(_selector_names(tree))
    return sorted(names)


def _selector_names(node: Any) -> set[str]:
    """Metric names of the vector selectors in a parsed expression."""
    kind = type(node).__name__
    if kind == "VectorSelector":
        return {node.name} if node.name else set()
    if kind == "MatrixSelector":
        return _selector_names(node.vector_selector)
    found: set[str] = set()
    for attr in ("expr", "lhs", "rhs", "param"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, str | float | int):
            found |= _selector_names(child)
    for arg in getattr(node, "args", None) or []:
        found |= _selector_names(arg)
    return found


# --------------------------------------------------------------------------- evaluation


def _matches(labels: dict[str, str], matcher: Any) -> bool:
    value = labels.get(matcher.name, "")
    op = matcher.op
    if op == pq.MatchOp.Equal:
        return value == matcher.value
    if op == pq.MatchOp.NotEqual:
        return value != matcher.value
    full = re.fullmatch(matcher.value, value) is not None
    return full if op == pq.MatchOp.Re else not full


_OVER_TIME: dict[str, Callable[[list[float]], float]] = {
    "max_over_time": max,
    "min_over_time": min,
    "avg_over_time": lambda v: sum(v) / len(v),
    "sum_over_time": sum,
    "count_over_time": lambda v: float(len(v)),
    "last_over_time": lambda v: v[-1],
    "present_over_time": lambda _v: 1.0,
    "changes": lambda v: float(sum(1 for a, b in zip(v, v[1:], strict=False) if a != b)),
}
_CHANGE = {"rate": True, "irate": True, "deriv": True, "increase": False, "delta": False, "idelta": False}
_MATH: dict[str, Callable[[float], float]] = {
    "abs": abs,
    "ceil": lambda v: float(math.ceil(v)),
    "floor": lambda v: float(math.floor(v)),
    "sqrt": math.sqrt,
    "exp": math.exp,
    "ln": math.log,
}
_AGGREGATE: dict[str, Callable[[list[float]], float]] = {
    "sum": sum,
    "max": max,
    "min": min,
    "avg": lambda v: sum(v) / len(v),
    "count": lambda v: float(len(v)),
    "group": lambda _v: 1.0,
}
_ARITH: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b else (math.nan if a == 0 else math.copysign(math.inf, a)),
    "%": lambda a, b: math.fmod(a, b) if b else math.nan,
    "^": lambda a, b: a**b,
}
_COMPARISONS = frozenset({">", ">=", "<", "<=", "==", "!="})


class Evaluator:
    """Evaluates a parsed PromQL expression at one moment over a world's series."""

    def __init__(self, world: World, state: WorldState) -> None:
        self.world = world
        self.state = state
        self._series: dict[datetime, Vector] = {}

    def series(self, at: datetime) -> Vector:
        """The world's series at ``at`` (cached per moment)."""
        if at not in self._series:
            self._series[at] = world_series(self.world, self.state, at)
        return self._series[at]

    def eval(self, node: Any, at: datetime) -> Vector | float:
        """The value of ``node`` at ``at``: a vector, or a float for a scalar."""
        kind = type(node).__name__
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            raise Unsupported(kind)
        result: Vector | float = handler(node, at)
        return result

    def _NumberLiteral(self, node: Any, at: datetime) -> float:  # noqa: N802 (named after the AST class)
        return float(node.val)

    def _ParenExpr(self, node: Any, at: datetime) -> Vector | float:  # noqa: N802
        return self.eval(node.expr, at)

    def _UnaryExpr(self, node: Any, at: datetime) -> Vector | float:  # noqa: N802
        inner = self.eval(node.expr, at)
        if isinstance(inner, float):
            return -inner
        return [(_drop_name(labels), -value) for labels, value in inner]

    def _VectorSelector(self, node: Any, at: datetime) -> Vector:  # noqa: N802
        matchers = list(node.matchers.matchers)
        found = []
        for labels, value in self.series(at):
            if node.name and labels.get("__name__") != node.name:
                continue
            if all(_matches(labels, m) for m in matchers):
                found.append((dict(labels), value))
        return found

    def _points(self, node: Any, at: datetime) -> dict[Labels, tuple[dict[str, str], list[tuple[float, float]]]]:
        """A range vector: per series, (seconds relative to ``at``, value) at every substep, oldest first."""
        if type(node).__name__ != "MatrixSelector":
            raise Unsupported("a range function needs a range vector")
        steps = max(1, int(node.range / SUBSTEP))
        grouped: dict[Labels, tuple[dict[str, str], list[tuple[float, float]]]] = {}
        for i in range(steps, -1, -1):
            for labels, value in self._VectorSelector(node.vector_selector, at - i * SUBSTEP):
                grouped.setdefault(_key(labels), (labels, []))[1].append((-(i * SUBSTEP).total_seconds(), value))
        return grouped

    def _samples(self, node: Any, at: datetime) -> dict[Labels, tuple[dict[str, str], list[float]]]:
        return {key: (labels, [v for _, v in points]) for key, (labels, points) in self._points(node, at).items()}

    def _Call(self, node: Any, at: datetime) -> Vector | float:  # noqa: N802
        name = node.func.name
        if name in _OVER_TIME:
            reduce = _OVER_TIME[name]
            return [(_drop_name(labels), reduce(vals)) for labels, vals in self._samples(node.args[0], at).values()]
        if name in _CHANGE:
            seconds = node.args[0].range.total_seconds()
            per_second = _CHANGE[name]
            return [
                (_drop_name(labels), (vals[-1] - vals[0]) / (seconds if per_second else 1.0))
                for labels, vals in self._samples(node.args[0], at).values()
            ]
        if name == "predict_linear":
            ahead = self.eval(node.args[1], at)
            if not isinstance(ahead, float):
                raise Unsupported(name)
            points = self._points(node.args[0], at).values()
            return [(_drop_name(labels), _predict(pts, ahead)) for labels, pts in points if len(pts) > 1]
        if name in _MATH:
            return _vector_map(self.eval(node.args[0], at), _MATH[name])
        if name == "round":  # Prometheus rounds half up, to the nearest multiple of its second argument
            nearest = self.eval(node.args[1], at) if len(node.args) > 1 else 1.0
            if not isinstance(nearest, float) or nearest == 0:
                raise Unsupported(name)
            inverse = 1.0 / nearest
            return _vector_map(self.eval(node.args[0], at), lambda v: math.floor(v * inverse + 0.5) / inverse)
        if name in ("clamp_min", "clamp_max"):
            bound = self.eval(node.args[1], at)
            if not isinstance(bound, float):
                raise Unsupported(name)
            pick = max if name == "clamp_min" else min
            return _vector_map(self.eval(node.args[0], at), lambda v: pick(v, bound))
        if name == "time":
            return at.timestamp()
        if name in ("vector", "scalar", "sort", "sort_desc"):
            return _reshape(name, self.eval(node.args[0], at))
        raise Unsupported(name)

    def _AggregateExpr(self, node: Any, at: datetime) -> Vector:  # noqa: N802
        inner = self.eval(node.expr, at)
        if isinstance(inner, float):
            raise Unsupported("aggregation over a scalar")
        op = str(node.op)
        modifier = node.modifier
        keep = list(modifier.labels) if modifier is not None else []
        without = modifier is not None and "without" in str(modifier.type).lower()
        if op in ("topk", "bottomk"):
            param = self.eval(node.param, at) if node.param is not None else 1.0
            k = int(param) if isinstance(param, float) else 1
            members: dict[Labels, Vector] = {}
            for labels, value in inner:  # the k largest (smallest) of each group, series kept as they are
                members.setdefault(_key(_grouping(labels, keep, without)), []).append((labels, value))
            return [
                s for group in members.values() for s in sorted(group, key=lambda s: s[1], reverse=op == "topk")[:k]
            ]
        if op not in _AGGREGATE:
            raise Unsupported(op)
        groups: dict[Labels, tuple[dict[str, str], list[float]]] = {}
        for labels, value in inner:
            group = _grouping(labels, keep, without)
            groups.setdefault(_key(group), (group, []))[1].append(value)
        return [(group, _AGGREGATE[op](values)) for group, values in groups.values()]

    def _BinaryExpr(self, node: Any, at: datetime) -> Vector | float:  # noqa: N802
        op = str(node.op)
        lhs, rhs = self.eval(node.lhs, at), self.eval(node.rhs, at)
        as_bool = bool(node.modifier and node.modifier.return_bool)
        if op in ("and", "or", "unless"):
            if isinstance(lhs, float) or isinstance(rhs, float):
                raise Unsupported(op)
            return _set_operation(op, lhs, rhs, node.modifier)
        if isinstance(lhs, float) and isinstance(rhs, float):
            if op in _COMPARISONS:
                return float(_compare(lhs, op, rhs))
            return _ARITH[op](lhs, rhs)
        if isinstance(rhs, float) or isinstance(lhs, float):
            vector, scalar, scalar_left = (lhs, rhs, False) if isinstance(rhs, float) else (rhs, lhs, True)
            assert not isinstance(vector, float) and isinstance(scalar, float)
            return _with_scalar(op, vector, scalar, scalar_left, as_bool)
        return _vector_vector(op, lhs, rhs, node.modifier, as_bool)


def _grouping(labels: dict[str, str], keep: list[str], without: bool) -> dict[str, str]:
    """The labels an aggregation groups a series by (``by`` keeps ``keep``, ``without`` drops them)."""
    if without:
        return {k: v for k, v in labels.items() if k not in keep and k != "__name__"}
    return {k: labels[k] for k in keep if k in labels}


def _predict(points: list[tuple[float, float]], ahead: float) -> float:
    """``predict_linear``: the least-squares line through ``points`` (t relative to now), ``ahead`` s from now."""
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / spread if spread else 0.0
    return mean_v + slope * (ahead - mean_t)


def _reshape(name: str, inner: Vector | float) -> Vector | float:
    """``vector()``, ``scalar()`` and the sorts (order does not matter to a set of series)."""
    if name == "vector":
        return [({}, inner)] if isinstance(inner, float) else inner
    if name == "scalar":
        return inner if isinstance(inner, float) else (inner[0][1] if len(inner) == 1 else math.nan)
    return inner


def _drop_name(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "__name__"}


def _vector_map(value: Vector | float, fn: Callable[[float], float]) -> Vector | float:
    if isinstance(value, float):
        return float(fn(value))
    return [(_drop_name(labels), float(fn(v))) for labels, v in value]


def _with_scalar(op: str, vector: Vector, scalar: float, scalar_left: bool, as_bool: bool) -> Vector:
    out: Vector = []
    for labels, value in vector:
        a, b = (scalar, value) if scalar_left else (value, scalar)
        if op in _COMPARISONS:
            holds = _compare(a, op, b)
            if as_bool:
                out.append((_drop_name(labels), float(holds)))
            elif holds:
                out.append((labels, value))
        else:
            out.append((_drop_name(labels), _ARITH[op](a, b)))
    return out


def _signature(labels: dict[str, str], modifier: Any) -> Labels:
    matching = modifier.matching if modifier is not None else None
    names = list(matching.labels) if matching is not None else []
    if matching is not None and str(matching.type).endswith("Include"):  # on (...)
        return tuple(sorted((k, labels.get(k, "")) for k in names))
    return _key({k: v for k, v in labels.items() if k != "__name__" and k not in names})


def _vector_vector(op: str, lhs: Vector, rhs: Vector, modifier: Any, as_bool: bool) -> Vector:
    """Vector op vector: each series of the "many" side (the left; the right under ``group_right``) with its match."""
    right_many = modifier is not None and str(modifier.card).endswith("OneToMany")
    many, one = (rhs, lhs) if right_many else (lhs, rhs)
    index: dict[Labels, tuple[dict[str, str], float]] = {}
    for labels, value in one:
        index.setdefault(_signature(labels, modifier), (labels, value))
    out: Vector = []
    for labels, value in many:
        match = index.get(_signature(labels, modifier))
        if match is None:
            continue
        a, b = (match[1], value) if right_many else (value, match[1])
        metric = _result_metric(labels, match[0], op in _COMPARISONS and not as_bool, modifier)
        if op in _COMPARISONS:
            holds = _compare(a, op, b)
            if as_bool:
                out.append((metric, float(holds)))
            elif holds:
                out.append((metric, a))
        else:
            out.append((metric, _ARITH[op](a, b)))
    return out


def _result_metric(many: dict[str, str], one: dict[str, str], keep_name: bool, modifier: Any) -> dict[str, str]:
    """The labels of a vector-vector result, as Prometheus builds them.

    One-to-one: ``on (...)`` keeps only those labels, ``ignoring (...)`` drops them; with
    ``group_left``/``group_right`` the "many" side keeps its labels and the listed ones are
    copied from the "one" side (dropped where it has none).
    """
    labels = dict(many) if keep_name else _drop_name(many)
    matching = modifier.matching if modifier is not None else None
    grouped = modifier is not None and not str(modifier.card).endswith("OneToOne")
    if matching is not None and not grouped:
        names = set(matching.labels)
        on = str(matching.type).endswith("Include")
        labels = {k: v for k, v in labels.items() if (k in names) == on}
    for name in (modifier.group_labels or []) if grouped else []:
        if one.get(name):
            labels[name] = one[name]
        else:
            labels.pop(name, None)
    return labels


def _set_operation(op: str, lhs: Vector, rhs: Vector, modifier: Any) -> Vector:
    right = {_signature(labels, modifier) for labels, _ in rhs}
    if op == "and":
        return [(labels, v) for labels, v in lhs if _signature(labels, modifier) in right]
    if op == "unless":
        return [(labels, v) for labels, v in lhs if _signature(labels, modifier) not in right]
    left = {_signature(labels, modifier) for labels, _ in lhs}
    return lhs + [(labels, v) for labels, v in rhs if _signature(labels, modifier) not in left]
