"""The model's spoken briefing, accepted only when it is fit to be read aloud.

A small or misbehaving model can answer with JSON, Markdown, HTML entities, the wrong
language, a text cut at the length limit, or the same line fifteen times; a voice
assistant would read all of it out. The model's speech is taken only when it is complete
(not cut by ``llm.max_output_tokens``, not repeating itself: both refused by the gate),
in the briefing's language, free of markup and escapes, and opens as the template's
opening does. Otherwise the offline speech is used and the briefing says why.
"""

from __future__ import annotations

import re
import unicodedata

MIN_CHARS = {"zh": 10, "en": 30}  # Chinese says in ten characters what English says in thirty
MARKUP = (
    (re.compile(r"&(#\d+|#x[0-9a-f]+|[a-z]+);", re.I), "HTML entities"),
    (re.compile(r"</?[a-z][^>]*>", re.I), "HTML tags"),
    (re.compile(r"\\[nrtu\"'\\]"), "escape sequences"),
    (re.compile(r"```|`|^\s*#{1,6}\s|\*\*|__|^\s*[-*+]\s|^\s*\|.*\|\s*$|\[[^\]]+\]\([^)]+\)", re.M), "Markdown"),
    (re.compile(r"[{}]|\"\s*:\s*[\"\d\[{]"), "JSON"),
)


def _cjk_share(text: str) -> float:
    """Share of CJK ideographs among the letters of ``text``."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return 0.0
    cjk = sum(1 for ch in letters if "CJK" in unicodedata.name(ch, ""))
    return cjk / len(letters)


def _first_clause(text: str) -> str:
    """The text up to its first sentence or clause mark, normalised for comparison."""
    head = re.split(r"[.。!！?？,，]", text.strip(), maxsplit=1)[0]
    return " ".join(head.split()).casefold()


def speech_problem(text: str, language: str, opening: str) -> str:
    """Why ``text`` may not be spoken as the briefing (empty: it may)."""
    body = text.strip()
    for pattern, what in MARKUP:
        found = pattern.search(body)
        if found:
            return f"contains {what} ({found.group(0).strip()[:20]!r})"
    share = _cjk_share(body)
    if language == "zh" and share < 0.5:
        return "not in Chinese"
    if language == "en" and share > 0.02:
        return "not in English"
    if len(body) < MIN_CHARS.get(language, 30):
        return f"too short to be the briefing ({len(body)} characters)"
    if not body.casefold().startswith(_first_clause(opening)):
        return f"does not open as the briefing does ({opening[:30]!r}...)"
    return ""
