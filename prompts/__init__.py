"""Prompt templates as files under ``prompts/``, loaded by file name.

Plain prompts are ``.md`` files; the briefing's Jinja templates (``.j2``) are rendered
from ``PROMPTS_DIR`` by agents/briefing.py.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent


@cache
def read_prompt(name: str) -> str:
    """The text of ``prompts/<name>`` (e.g. ``"diagnosis.md"``)."""
    path = PROMPTS_DIR / name
    if not path.is_file():
        known = sorted(p.name for p in PROMPTS_DIR.iterdir() if p.suffix in (".md", ".j2"))
        raise KeyError(f"no prompt {name!r} (known: {', '.join(known)})")
    return path.read_text(encoding="utf-8")
