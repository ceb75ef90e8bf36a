"""Error signatures: a message's variable parts masked, then similar masked messages grouped into templates.

Two stages, so a pass stays streaming and the parallel path equals the sequential one:

1. :func:`mask` (per message, pure): tokens that are values become ``<*>``: anything
   with a digit (signed numbers, ``blk_-123``, hex, UUIDs, IPs, ports, versions,
   ``node-12``), date-times, numbers with a unit (``3.2 KB``, ``250ms``, ``<1 sec``),
   host names, paths and URLs, long hex words, single-token quoted values. A word with
   one trailing digit (``ssh2``, ``eth0``, ``SOCKS5``) stays a word: the stage-2 column
   test decides whether it varies. ``key=value`` keeps the key.
2. :func:`templates` (once, over the distinct masked messages and their counts): a
   Drain-style pass (same token count, same first token, similarity >= 0.4) gathers
   candidates; inside each, a column whose values are few (< 5) words with no masked
   value is a constant that splits the group (``VM Paused`` / ``VM Resumed``), every other
   varying column becomes ``<*>`` (``Failed password for root|ftp|git ...``). The result
   depends only on the set of masked messages and their counts, not on input order.

Measured on loghub-2k (``benchmarks/loghub_accuracy.py``): see docs/diagnosis.md.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

WILD = "<*>"
_P = "\x01"  # placeholder while masking (never in real text after whitespace splitting)
MAX_TOKENS = 120
MAX_TEXT = 2000
MIN_VARIABLE = 5  # a column with this many distinct values is a variable, whatever they look like
SIMILARITY = 0.4
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_DATE = re.compile(
    rf"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?\s+)?{_MONTH}\s+\d{{1,2}},?\s+(?:\d{{4}}\s+)?"
    r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s+\d{4})?\b"
    r"|\b\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_NUM_PAREN = re.compile(r"\s*\(\s*-?[\d.,]+\s*[A-Za-z%]{0,3}\s*\)")  # "(1.2 KB)", "(35%)": a restated value
_UNIT = re.compile(
    r"(?<![\w.])[<>~]?-?\d+(?:\.\d+)?\s?(?:[kKMGTP]i?B|B|bytes?|ms|us|µs|ns|s|sec|secs|seconds?|mins?|minutes?"
    r"|h|hrs?|hours?|days?)(?![\w.])"
)
_SEP = re.compile(r"([=,:;|(){}\[\]<>\"']+)")
_HOST = re.compile(r"^[A-Za-z][\w-]*(?:\.[\w-]+){2,}$")
_PATH = re.compile(r"^(?:[a-z][\w+.-]*://|/[^/]*/|[A-Za-z]:\\|\.\.?/)")
_HEX = re.compile(r"^(?:0x)?[0-9a-fA-F]{8,}$")
_WORD_DIGIT = re.compile(r"^[A-Za-z]{2,}\d$")
_ZEROS = bytes.maketrans(b"123456789", b"000000000")  # the cache key: a message's digit shape
_NULLISH = frozenset({"", "null", "none", "nil", "-", "n/a", "na", "unknown", "undefined", "()", "[]"})
_CACHE_MAX = 50_000
_cache: dict[bytes, tuple[tuple[str, ...], bool]] = {}


def _piece(piece: str) -> str:
    if _HOST.match(piece) or _PATH.match(piece) or _HEX.match(piece):
        return _P
    if any(c.isdigit() for c in piece) and not _WORD_DIGIT.match(piece):
        return _P
    return piece


def _token(token: str) -> str:
    if _PATH.match(token):  # a path or URL spans separators: the whole token is one value
        return _P
    pieces = _SEP.split(token)
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0 and piece and piece != _P:
            piece = _piece(piece)
            if piece == _P and out and out[-1] == _P:
                continue
        out.append(piece)
    return "".join(out)


def _quoted(token: str) -> bool:
    return len(token) > 2 and token[0] == token[-1] and token[0] in "\"'" and _P not in token


def _mask_uncached(message: str) -> tuple[str, ...]:
    text = message[:MAX_TEXT]
    if ":" in text:
        text = _DATE.sub(f" {_P} ", text)
    if "(" in text:
        text = _NUM_PAREN.sub("", text)
    text = _UNIT.sub(_P, text)
    tokens = []
    for token in text.split()[:MAX_TOKENS]:
        if _quoted(token.rstrip(",.;:")):
            tail = token[len(token.rstrip(",.;:")) :]
            tokens.append(f"{token[0]}{_P}{token[0]}{tail}")
            continue
        tokens.append(_token(token))
    return tuple(tokens)


def mask(message: str) -> tuple[str, ...]:
    """The tokens of ``message`` with values replaced (see the module docstring); cached by digit shape."""
    key = message.encode().translate(_ZEROS) if len(message) < 600 else None  # bytes.translate: ~15x str's
    if key is not None:
        hit = _cache.get(key)
        if hit is not None and hit[1]:
            return hit[0]
    masked = _mask_uncached(message)
    if key is not None:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        # Messages of one digit shape mask alike unless a word kept its digit (``eth0`` vs ``eth1``).
        _cache[key] = (masked, not any(c.isdigit() for c in "".join(masked)))
    return masked


def key_of(message: str) -> str:
    """The stage-1 key of ``message``: its masked tokens joined by spaces (placeholders as ``<*>``)."""
    return " ".join(mask(message)).replace(_P, WILD)


def _tokens(key: str) -> tuple[str, ...]:
    return tuple(key.replace(WILD, _P).split(" "))


def _nullish(value: str, masked: list[str]) -> bool:
    for other in masked:
        pre, _, post = other.partition(_P)
        if value.startswith(pre) and value.endswith(post):
            middle = value[len(pre) : len(value) - len(post)] if post else value[len(pre) :]
            if middle.lower() in _NULLISH:
                return True
    return False


def _variable(values: Counter[str]) -> bool:
    """Whether a column of differing values is a parameter (else its values are constants that split)."""
    if len(values) >= MIN_VARIABLE:
        return True
    masked = [v for v in values if _P in v]
    if not masked:
        return False
    total = sum(values.values())
    if 2 * sum(values[v] for v in masked) >= total or len(values) >= 3:
        return True
    return all(_nullish(v, masked) for v in values if _P not in v)


def _split(rows: list[tuple[tuple[str, ...], int]], out: dict[tuple[str, ...], str]) -> None:
    width = len(rows[0][0])
    best: tuple[int, int] | None = None
    variable = []
    for column in range(width):
        values: Counter[str] = Counter()
        for tokens, count in rows:
            values[tokens[column]] += count
        if len(values) == 1:
            continue
        if _variable(values):
            variable.append(column)
        elif best is None or len(values) < best[0]:
            best = (len(values), column)
    if best is None:
        template = list(rows[0][0])
        for column in variable:
            template[column] = _P
        text = " ".join(template).replace(_P, WILD)
        for tokens, _count in rows:
            out[tokens] = text
        return
    parts: dict[str, list[tuple[tuple[str, ...], int]]] = defaultdict(list)
    for row in rows:
        parts[row[0][best[1]]].append(row)
    for part in parts.values():
        _split(part, out)


def _similarity(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    return sum(1 for x, y in zip(a, b, strict=True) if x == y and _P not in x) / len(a)


def templates(counts: Mapping[str, int]) -> dict[str, str]:
    """Stage 2: each stage-1 key (see :func:`key_of`) → its template, given how often each key occurred."""
    buckets: dict[tuple[int, str], list[tuple[tuple[str, ...], list[tuple[tuple[str, ...], int]]]]] = defaultdict(list)
    for key, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        tokens = _tokens(key)
        if not key:
            buckets[(0, "")].append((tokens, [(tokens, count)]))
            continue
        bucket = buckets[(len(tokens), "" if _P in tokens[0] else tokens[0])]
        best, score = -1, -1.0
        for index, (template, _rows) in enumerate(bucket):
            similarity = _similarity(tokens, template)
            if similarity > score:
                best, score = index, similarity
        if best >= 0 and score >= SIMILARITY:
            template, rows = bucket[best]
            rows.append((tokens, count))
            bucket[best] = (tuple(x if x == y else _P for x, y in zip(template, tokens, strict=True)), rows)
        else:
            bucket.append((tokens, [(tokens, count)]))
    out: dict[tuple[str, ...], str] = {}
    for bucket in buckets.values():
        for _template, rows in bucket:
            _split(rows, out)
    return {key: out[_tokens(key)] for key in counts}


def group(messages: Iterable[str]) -> list[str]:
    """The template of each message (both stages over the whole list): what the accuracy benchmark scores."""
    keys = [key_of(m) for m in messages]
    mapping = templates(Counter(keys))
    return [mapping[k] for k in keys]
