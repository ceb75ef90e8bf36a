"""The byte-scan tier: which lines of a block are plain business records, decided for the whole block at once.

A JSON line is a *quiet business* line when it has a ``level``/``levelname`` key and every
such key on it (plain, or inside an escaped JSON string) holds a known non-error level
word, it is not a Docker json-file line and it does not mention ``Event``. Such lines are only counted;
every other line goes to the record reader, which gives the same kind for them (``level``
is the first level key it reads; ``tests/unit/test_logs_parallel.py`` holds the paths
equal). Known differences, for records no shipper writes: a ``level`` key inside a nested,
unescaped sub-object of a record that has no level of its own counts here as the record's
level, and a Cloud Logging ``protoPayload`` audit entry that also carries a ``level`` key is
business here.

The scans run over the whole block in C (``re.finditer`` for keys with a literal prefix,
``bytes.find`` loops for rare words, numpy for line boundaries), so a line costs a few
hundred nanoseconds instead of a Python loop's microsecond. :func:`quiet_business` is the
same rule for one line, the reference the block version is tested against.
"""

from __future__ import annotations

import re

import numpy as np

from tools.logs.levels import QUIET

QUIET_WORDS = frozenset(form for word in QUIET for form in (word, word.upper(), word.capitalize()))
# A level key and its value; [ \t] (not \s) so a match never spans two lines.
# One pattern per key so each starts with a literal (re then finds candidates at memchr speed);
# a key counts only right after a quote (``"level"``, ``\\"level\\"``), not inside ``sublevel``.
_VALUE = rb'\\?"[ \t]*:[ \t]*(?:\\?"([A-Za-z]*)\\?")?'
LEVEL_KEY = re.compile(rb"level(?:name)?" + _VALUE)
QUOTE = 34
EXCLUDED = b"Event"
NEWLINE = 10


def quiet_business(line: bytes) -> bool:
    """The rule for one line (see the module docstring)."""
    if not (line[:1] == b"{" and line[-1:] == b"}") or line.startswith(b'{"log"'):
        return False
    levels = [m[1] for m in LEVEL_KEY.finditer(line) if m.start() and line[m.start() - 1] == QUOTE]
    if not levels or not all(word in QUIET_WORDS for word in levels):
        return False
    return EXCLUDED not in line


def _lines_with(block: bytes, word: bytes, ends: np.ndarray) -> np.ndarray:
    """Indexes of the lines (``ends``: each line's end offset) that contain ``word``."""
    positions = []
    at = block.find(word)
    while at >= 0:
        positions.append(at)
        at = block.find(word, at + len(word))
    if not positions:
        return np.empty(0, dtype=np.int64)
    return np.searchsorted(ends, np.asarray(positions), side="right")


def _marked(positions: list[int], ends: np.ndarray, count: int) -> np.ndarray:
    """A mask of the lines holding any of ``positions``."""
    mask = np.zeros(count, dtype=bool)
    if positions:
        mask[np.searchsorted(ends, np.asarray(positions), side="right")] = True
    return mask


def quiet_lines(block: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, quiet, events)``: each line's start offset, whether it is quiet business, whether it says Event.

    Lines are the pieces of splitting ``block`` at newlines (a trailing one gives a last empty line).
    """
    data = np.frombuffer(block, dtype=np.uint8)
    newlines = np.flatnonzero(data == NEWLINE)
    ends = np.append(newlines, len(block))  # each line's end (exclusive), the last one unterminated
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = newlines + 1
    count = len(ends)
    events = np.zeros(count, dtype=bool)
    if not len(block):
        return starts, events, events
    top = len(block) - 1

    def byte(offset: int) -> np.ndarray:
        return data[np.minimum(starts + offset, top)]  # each line's byte at ``offset`` (clipped at the end)

    ok = (ends - starts >= 2) & (byte(0) == ord("{")) & (data[np.maximum(ends - 1, 0)] == ord("}"))
    docker = (byte(1) == ord('"')) & (byte(2) == ord("l")) & (byte(3) == ord("o")) & (byte(4) == ord("g"))
    docker &= byte(5) == ord('"')
    ok &= ~docker  # Docker json-file lines: the record reader joins their pieces
    events[_lines_with(block, EXCLUDED, ends)] = True
    ok &= ~events
    if not ok.any():
        return starts, ok, events
    keys, loud = [], []
    for match in LEVEL_KEY.finditer(block):
        at = match.start()
        if block[at - 1] == QUOTE:
            keys.append(at)
            if match[1] not in QUIET_WORDS:
                loud.append(at)
    ok &= _marked(keys, ends, count)
    if loud:
        ok[np.searchsorted(ends, np.asarray(loud), side="right")] = False
    return starts, ok, events
