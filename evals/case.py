"""A scenario case on disk: the alert as sent, the world, the config and the expectations.

See evals/README.md for the format. Loading validates everything up front and raises
:class:`CaseError` naming the file and field, so a broken case is one line, not a
traceback in the middle of an eval run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from state.alert import Alert, AlertParseError, parse_alerts

EXPECT = "expect.yaml"
RECORDING = "recording.json"


class CaseError(ValueError):
    """A case directory that cannot be used; the message names the file and field."""


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
    by: str = "oncall"
    reason: str = ""


class ReviewExpectation(BaseModel):
    """What the release review should find."""

    release: str | None = None
    pulls: list[int] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)


class Expectation(BaseModel):
    """``expect.yaml``."""

    id: str
    title: str = ""
    template: str = "custom"
    source: str = "auto"
    agents: list[str] = Field(default_factory=list)
    needs: list[str] = Field(default_factory=list, description="Features the case depends on (informational).")
    confirmed: bool = Field(default=True, description="False for a captured case a human has not checked yet.")
    reads: list[CallExpectation] = Field(default_factory=list)
    mutations: list[CallExpectation] = Field(default_factory=list, description="Strict, in order; [] = Noop.")
    root_cause: list[str] = Field(default_factory=list)
    mitigation: Mitigation | None = None
    outcome: Literal["resolved", "escalated", "awaiting_approval", "open"] | None = None
    human: Human = Field(default_factory=Human)
    review: ReviewExpectation | None = None

    @property
    def noop(self) -> bool:
        """Whether the right behaviour is to change nothing."""
        return not self.mutations


@dataclass(frozen=True)
class Case:
    """One loaded case."""

    path: Path
    expect: Expectation
    alert: Alert
    payload: dict[str, Any]

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


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CaseError(f"{path}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise CaseError(f"{path}: expected a mapping")
    return data


def load_case(path: Path) -> Case:
    """Load and validate the case in directory ``path``."""
    if not (path / EXPECT).is_file():
        raise CaseError(f"{path}: no {EXPECT}")
    try:
        expect = Expectation.model_validate(_read_yaml(path / EXPECT))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CaseError(f"{path / EXPECT}: {where}: {first['msg']}") from None
    try:
        payload = json.loads((path / "alert.json").read_text())
        alert = parse_alerts(payload, expect.source)[0]
    except (OSError, json.JSONDecodeError) as exc:
        raise CaseError(f"{path / 'alert.json'}: {exc}") from None
    except AlertParseError as exc:
        raise CaseError(f"{path / 'alert.json'}: {exc}") from None
    if not (path / "config.yaml").is_file():
        raise CaseError(f"{path}: no config.yaml")
    if not (path / "world.yaml").is_file() and not (path / RECORDING).is_file():
        raise CaseError(f"{path}: needs world.yaml or {RECORDING}")
    return Case(path=path, expect=expect, alert=alert, payload=payload)


def load_cases(root: Path, only: list[str] | None = None) -> list[Case]:
    """Every case under ``root`` (sorted by id), or only the ids in ``only``."""
    if not root.is_dir():
        raise CaseError(f"--cases: no such directory {root}")
    if (root / EXPECT).is_file():
        return [load_case(root)]
    cases = [load_case(p.parent) for p in sorted(root.glob(f"*/{EXPECT}"))]
    if only:
        missing = sorted(set(only) - {c.id for c in cases})
        if missing:
            raise CaseError(f"--case: unknown case {missing[0]!r} under {root}")
        cases = [c for c in cases if c.id in only]
    if not cases:
        raise CaseError(f"--cases: no case (a directory with {EXPECT}) under {root}")
    return cases
