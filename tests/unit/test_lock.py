"""The lock files pin every dependency pyproject.toml names (so `make` installs what the code imports)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pinned(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("requirements.lock", PROJECT["dependencies"]),
        ("requirements-dev.lock", PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]),
    ],
)
def test_every_declared_dependency_is_pinned_with_hashes(lock: str, requirements: list[str]) -> None:
    path = ROOT / lock
    pins = _pinned(path)
    missing = sorted(_name(r) for r in requirements if _name(r) not in pins and "sys_platform == 'win32'" not in r)
    assert not missing, f"{lock} lacks {missing}: run `make lock` after editing pyproject.toml"
    assert path.read_text().count("--hash=sha256:") >= len(pins)


def test_the_runtime_lock_agrees_with_the_dev_lock() -> None:
    runtime, dev = _pinned(ROOT / "requirements.lock"), _pinned(ROOT / "requirements-dev.lock")
    differ = {name: (version, dev.get(name)) for name, version in runtime.items() if dev.get(name) != version}
    assert not differ, f"pins differ between the locks: {differ}; run `make lock`"
