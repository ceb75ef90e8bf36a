"""``--set key=value`` edits of a fork: ``policy.*``/``settings.*`` edit settings, other keys the state."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from state.config import Settings
from state.incident import IncidentState


class ReplayError(ValueError):
    """Bad replay input (unknown checkpoint, bad --set); the message names the field."""


def _parse_value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _set_path(data: Any, parts: list[str], value: Any, key: str) -> None:
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(data, list):
            if not part.isdigit() or int(part) >= len(data):
                raise ReplayError(f"--set {key}: no item {part}")
            if last:
                data[int(part)] = value
                return
            data = data[int(part)]
        elif isinstance(data, dict):
            if part not in data:
                raise ReplayError(f"--set {key}: unknown field {part!r}")
            if last:
                data[part] = value
                return
            if data[part] is None:
                raise ReplayError(f"--set {key}: {part} is not set at this checkpoint")
            data = data[part]
        else:
            raise ReplayError(f"--set {key}: {part!r} is not a field")


def parse_sets(items: list[str]) -> list[tuple[str, Any]]:
    """``key=value`` pairs; values are YAML scalars (2, 1.0, true, text)."""
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ReplayError(f"--set {item!r}: expected key=value")
        pairs.append((key.strip(), _parse_value(value.strip())))
    return pairs


SETTINGS_PREFIXES = ("policy", "settings", "llm")  # llm.model=... forks with another model


def apply_settings_edits(settings: Settings, pairs: list[tuple[str, Any]]) -> Settings:
    """Apply ``policy.*`` / ``llm.*`` / ``settings.*`` edits to the settings of the re-run."""
    data = settings.model_dump()
    touched: set[str] = set()
    for key, value in pairs:
        parts = key.split(".")
        parts = parts[1:] if parts[0] == "settings" else parts
        if len(parts) < 2 and parts[0] != "language":
            raise ReplayError(f"--set {key}: name a field, e.g. policy.approval_from_rung")
        _set_path(data, parts, value, key)
        touched.add(parts[0])
    update = {}
    for name in touched:
        annotation = type(settings).model_fields[name].annotation
        try:
            update[name] = TypeAdapter(annotation).validate_python(data[name])  # type: ignore[arg-type]
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in (name, *first["loc"]))
            raise ReplayError(f"--set {where}: {first['msg']}") from None
    return settings.model_copy(update=update)


def apply_state_edits(state: IncidentState, pairs: list[tuple[str, Any]]) -> IncidentState:
    """Apply state edits (``triage.budget=2``) and validate the result."""
    data = state.model_dump()
    for key, value in pairs:
        _set_path(data, key.split("."), value, key)
    try:
        return IncidentState.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ReplayError(f"--set {where}: {first['msg']}") from None


def split_edits(pairs: list[tuple[str, Any]]) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """(settings edits, state edits)."""
    settings = [(k, v) for k, v in pairs if k.split(".")[0] in SETTINGS_PREFIXES]
    state = [(k, v) for k, v in pairs if k.split(".")[0] not in SETTINGS_PREFIXES]
    return settings, state
