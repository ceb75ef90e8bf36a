"""A scenario case on disk: the alert as sent, the world, the config and the expectations.

See evals/README.md for the format. Loading validates everything up front and raises
:class:`CaseError` naming the file and field, so a broken case is one line, not a
traceback in the middle of an eval run; :func:`load_cases` keeps going past a broken
case and lists it (:class:`CaseSet.broken`), so the rest still run.

``expect.yaml`` is one mapping (the expectations of the payload's first or only alert)
or a list of them, each naming its alert by ``alert:`` (the alert's fingerprint or its
index in the payload's ``alerts``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from state.alert import Alert, AlertParseError, parse_alerts

EXPECT = "expect.yaml"
RECORDING = "recording.json"


class CaseError(ValueError):
    """A case directory that cannot be used; the message names the file and field."""


class CaseSkipped(CaseError):
    """A valid case this world cannot serve (no world.yaml, a query shape it cannot write, a binary missing).

    The run reports it with this one-line reason and goes on with the other cases.
    """


class CallExpectation(BaseModel):
    """One expected tool call: the tool's name and matchers over some of its arguments.

    A matcher is either a plain value (strings exact, numbers equal, booleans equal) or a
    one-key mapping: ``exact``, ``text`` (case/punctuation-normalized), ``number``,
    ``time`` (±60 s, or ``tolerance_s``), ``promql`` (whitespace-insensitive),
    ``contains``, ``any`` (present, any value).
    """

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class Mitigation(BaseModel):
    """The world's oracle: the signal recovered (and stays so) and the right version runs."""

    signal: str
    below: float
    version: str | None = None
    workload: str | None = Field(default=None, description="Whose signal and version; default the first workload.")
    after_s: float = Field(
        default=0.0, ge=0, description="Read the oracle this long after the episode ends (a masked leak climbs back)."
    )


class Human(BaseModel):
    """How the simulated on-call human answers an approval request."""

    approve: bool = True
    by: str | None = Field(
        default=None,
        description="Who answers; default the first configured user with rollback_permission other than the "
        "acting user, else the acting user (see approver()).",
    )
    reason: str = ""


class ReviewExpectation(BaseModel):
    """What the release review should find."""

    release: str | None = None
    pulls: list[int] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)


RootCauseEntry = str | Annotated[list[str], Field(min_length=1)]
"""One true root-cause entity, or a list of alternatives any one of which names it."""
CASE_WIDE = (
    "title", "template", "source", "agents", "needs", "confirmed", "human", "delivered_after_s", "received_at",
)  # fmt: skip
# what an alert without a time of its own is dated when a case does not say: fixed, so no run reads the wall clock
RECEIVED_AT = datetime(2026, 12, 1, tzinfo=UTC)
"""Fields of the first entry that later entries of the list form inherit unless they set their own."""


class Expectation(BaseModel):
    """``expect.yaml`` (or one entry of its list form: the expectations of one alert)."""

    id: str = ""
    alert: str | int | None = Field(
        default=None, description="List form: the alert's fingerprint or its index in the payload's alerts."
    )
    title: str = ""
    template: str = "custom"
    source: str = "auto"
    agents: list[str] = Field(default_factory=list)
    needs: list[str] = Field(default_factory=list, description="Features the case depends on (informational).")
    confirmed: bool = Field(default=True, description="False for a captured case a human has not checked yet.")
    reads: list[CallExpectation] = Field(default_factory=list)
    mutations: list[CallExpectation] = Field(default_factory=list, description="Strict, in order; [] = Noop.")
    root_cause: list[RootCauseEntry] = Field(default_factory=list)
    mitigation: Mitigation | None = None
    outcome: Literal["resolved", "escalated", "awaiting_approval", "open"] | None = None
    human: Human = Field(default_factory=Human)
    review: ReviewExpectation | None = None
    delivered_after_s: float = Field(
        default=60.0,
        ge=0,
        description="The episode's simulated clock starts this long after the alert's time (delivery, first look).",
    )
    received_at: datetime = Field(
        default=RECEIVED_AT,
        description="When the payload reached alertpilot: the time of an alert that carries none (a zero startsAt).",
    )

    @property
    def noop(self) -> bool:
        """Whether the right behaviour is to change nothing."""
        return not self.mutations


@dataclass(frozen=True)
class Case:
    """One loaded case: the payload's alerts and, per scored alert, its expectations."""

    path: Path
    expect: Expectation  # the first entry: case-wide fields (template, source, delivered_after_s) come from it
    alert: Alert  # the alert the first entry scores
    payload: dict[str, Any]
    alerts: tuple[Alert, ...] = ()  # every alert of the payload, in order (default: just ``alert``)
    expects: tuple[tuple[int, Expectation], ...] = ()  # (index in ``alerts``, its expectations)

    def __post_init__(self) -> None:
        if not self.alerts:
            object.__setattr__(self, "alerts", (self.alert,))
        if not self.expects:
            object.__setattr__(self, "expects", ((self.alerts.index(self.alert), self.expect),))

    @property
    def id(self) -> str:
        """The case id (its directory name)."""
        return self.path.name

    @property
    def config_path(self) -> Path:
        """The case's alertpilot config."""
        return self.path / "config.yaml"

    @property
    def has_world(self) -> bool:
        """Whether the case carries a simulated world (else it can only be replayed)."""
        return (self.path / "world.yaml").is_file()

    @property
    def recording_path(self) -> Path:
        """Where recorded tool answers live."""
        return self.path / RECORDING

    @property
    def notified_at(self) -> datetime:
        """When the payload was sent: its newest alert time (a resolved alert's end, else its start)."""
        return max(notice_time(a) for a in self.alerts)

    def with_alerts(self, alerts: list[Alert]) -> Case:
        """The same case with its alerts replaced one for one (the prometheus world moves them)."""
        index = self.alerts.index(self.alert)
        return dataclasses.replace(self, alerts=tuple(alerts), alert=alerts[index])


def notice_time(alert: Alert) -> datetime:
    """When a notice of ``alert`` is sent: a resolved alert's end, else its start."""
    if alert.status == "resolved" and alert.ends_at is not None and alert.ends_at.year > 1:
        return alert.ends_at
    return alert.starts_at


def approver(human: Human, users: list[Any], acting_user: str) -> str:
    """Who answers an approval request in an episode.

    ``human.by`` when the case names one, else the first user with rollback_permission other
    than the acting user, else the acting user (``users`` are state.config.UserConfig).
    """
    if human.by:
        return human.by
    allowed = [u.name for u in users if u.rollback_permission and u.name.lower() != acting_user.lower()]
    return allowed[0] if allowed else acting_user


def _read_yaml(path: Path) -> Any:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CaseError(f"{path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict | list):
        raise CaseError(f"{path}: expected a mapping (or a list of them, one per alert)")
    return data


def _where(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a field path: ``[1].reads.0.tool`` for a list entry."""
    head, rest = (f"[{loc[0]}]", loc[1:]) if loc and isinstance(loc[0], int) else ("", loc)
    tail = ".".join(str(p) for p in rest)
    return f"{head}.{tail}" if head and tail else head or tail


def _validated(path: Path, model: Any, data: Any) -> Any:
    try:
        return model.validate_python(data) if isinstance(model, TypeAdapter) else model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CaseError(f"{path}: {_where(tuple(first['loc'])) or 'top level'}: {first['msg']}") from None


def _expectations(path: Path) -> list[Expectation]:
    data = _read_yaml(path)
    if isinstance(data, dict):
        return [_validated(path, Expectation, data)]
    if not data:
        raise CaseError(f"{path}: an empty list (one entry per alert)")
    entries: list[Expectation] = _validated(path, TypeAdapter(list[Expectation]), data)
    first = entries[0]
    for n, entry in enumerate(entries[1:], start=1):
        if "source" in entry.model_fields_set and entry.source != first.source:
            raise CaseError(f"{path}: [{n}].source: {entry.source!r} differs from the first entry's {first.source!r}")
    return [first] + [
        e.model_copy(update={k: getattr(first, k) for k in CASE_WIDE if k not in e.model_fields_set})
        for e in entries[1:]
    ]


def _alert_index(ref: str | int | None, alerts: list[Alert], where: str) -> int:
    if ref is None:
        return 0
    if isinstance(ref, int):
        if not 0 <= ref < len(alerts):
            raise CaseError(f"{where}: index {ref} outside the payload's {len(alerts)} alert(s)")
        return ref
    found = [i for i, a in enumerate(alerts) if a.fingerprint == ref]
    if not found:
        raise CaseError(f"{where}: no alert with fingerprint {ref!r} (the payload has {_fingerprints(alerts)})")
    return found[0]


def _fingerprints(alerts: list[Alert]) -> str:
    return ", ".join(a.fingerprint for a in alerts[:5]) + (" ..." if len(alerts) > 5 else "")


def _scored(path: Path, entries: list[Expectation], alerts: list[Alert]) -> list[tuple[int, Expectation]]:
    """Each entry with the index of the alert it scores (one entry per alert at most)."""
    out: list[tuple[int, Expectation]] = []
    for n, entry in enumerate(entries):
        where = f"{path}: {f'[{n}].' if len(entries) > 1 else ''}alert"
        if entry.alert is None and len(entries) > 1:
            raise CaseError(f"{where}: is required in the list form (a fingerprint or an index in alerts)")
        index = _alert_index(entry.alert, alerts, where)
        if any(index == i for i, _ in out):
            raise CaseError(f"{where}: alert {index} already has expectations")
        out.append((index, entry.model_copy(update={"id": entry.id or path.parent.name})))
    return out


def _check_world(path: Path) -> None:
    from tools.world import WorldSpec

    world = path / "world.yaml"
    if world.is_file():
        data = _read_yaml(world)
        _validated(world, WorldSpec, data)


def _check_kube(path: Path) -> None:
    from evals.kube_world import load_fixtures

    if (path / "kube").is_dir():
        try:
            load_fixtures(path / "kube")
        except (ValueError, OSError, yaml.YAMLError) as exc:
            raise CaseError(str(exc).splitlines()[0]) from None


def _check_history(path: Path) -> None:
    from evals.history import load

    load(path)  # past incidents in the store (history.yaml): CaseError names the file and field


def load_case(path: Path) -> Case:
    """Load and validate the case in directory ``path``."""
    if not (path / EXPECT).is_file():
        raise CaseError(f"{path}: no {EXPECT}")
    entries = _expectations(path / EXPECT)
    try:
        payload = json.loads((path / "alert.json").read_text())
        alerts = parse_alerts(payload, entries[0].source, received=entries[0].received_at)
    except (OSError, json.JSONDecodeError) as exc:
        raise CaseError(f"{path / 'alert.json'}: {exc}") from None
    except AlertParseError as exc:
        raise CaseError(f"{path / 'alert.json'}: {exc}") from None
    scored = _scored(path / EXPECT, entries, alerts)
    if not (path / "config.yaml").is_file():
        raise CaseError(f"{path}: no config.yaml")
    if not (path / "world.yaml").is_file() and not (path / RECORDING).is_file():
        raise CaseError(f"{path}: needs world.yaml or {RECORDING}")
    _check_world(path)
    _check_kube(path)
    _check_history(path)
    first_index, first = scored[0]
    return Case(
        path=path,
        expect=first,
        alert=alerts[first_index],
        payload=payload,
        alerts=tuple(alerts),
        expects=tuple(scored),
    )


@dataclass(frozen=True)
class BrokenCase:
    """A case directory that could not be loaded, and why (path and field)."""

    path: Path
    error: str

    @property
    def id(self) -> str:
        """The directory name."""
        return self.path.name


class CaseSet(list[Case]):
    """The cases that loaded, plus the ones that did not (``broken``), which the run reports."""

    def __init__(self, cases: list[Case], broken: list[BrokenCase] | None = None) -> None:
        super().__init__(cases)
        self.broken: list[BrokenCase] = list(broken or [])


def load_cases(root: Path, only: list[str] | None = None) -> CaseSet:
    """Every case under ``root`` (sorted by id), or only the ids in ``only``.

    A case that does not load is listed in ``broken`` (path and field) and the others
    still load; CaseError only when nothing under ``root`` can run (or ``--case`` names
    an unknown id).
    """
    if not root.is_dir():
        raise CaseError(f"--cases: no such directory {root}")
    if (root / EXPECT).is_file():
        return CaseSet([load_case(root)])
    dirs = [p.parent for p in sorted(root.glob(f"*/{EXPECT}"))]
    if only:
        missing = sorted(set(only) - {d.name for d in dirs})
        if missing:
            raise CaseError(f"--case: unknown case {missing[0]!r} under {root}")
        dirs = [d for d in dirs if d.name in only]
    cases, broken = [], []
    for directory in dirs:
        try:
            cases.append(load_case(directory))
        except CaseError as exc:
            broken.append(BrokenCase(directory, str(exc)))
    if not cases and broken:
        raise CaseError(broken[0].error)
    if not cases:
        raise CaseError(f"--cases: no case (a directory with {EXPECT}) under {root}")
    return CaseSet(cases, broken)
