"""Prompt templates as files (``prompts/<name>.md``), loaded by name."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).resolve().parent


@cache
def _read(name: str) -> str:
    path = PROMPTS_DIR / f"{name}.md"
    if not path.is_file():
        known = sorted(p.stem for p in PROMPTS_DIR.glob("*.md"))
        raise KeyError(f"no prompt {name!r} (known: {', '.join(known)})")
    return path.read_text(encoding="utf-8")


def load_prompt(name: str, **values: object) -> str:
    """The prompt ``name`` with ``$placeholders`` filled from ``values``."""
    return Template(_read(name)).safe_substitute({k: str(v) for k, v in values.items()})
