"""Plain-text layouts: the level, message and time a text line's header carries.

Read by header (the first :data:`HEADER` characters), never by file name:

- klog (``E0102 15:04:05.000000    1 file.go:12] msg``);
- logfmt (``time=... level=error msg="..."``; Go's logrus/slog text, go-kit);
- syslog RFC 3164 and 5424 (``<PRI>`` gives the severity);
- Apache error logs (``[Wed Oct 11 14:32:52.123 2000] [core:error] [pid 1] msg``) and
  nginx (``2026/01/02 15:04:05 [error] 12#0: msg``);
- timestamp/thread/level layouts of Log4j, Logback, Spring Boot, Python logging, Go
  (``2026-01-02 15:04:05,123 ERROR [main] c.e.App - msg``, ``ERROR:root:msg``,
  ``15:04:05.123 [main] WARN c.e.App - msg``);
- a crash starting a record: ``panic: ...`` (Go), ``Traceback (most recent call last):``,
  ``Exception in thread "main" ...`` (Java).

:func:`continues` tells the lines that belong to the record before them: indented lines
(stack frames), ``Caused by:``/``... N more``, exception lines, Go goroutine dumps.
"""

from __future__ import annotations

import re

from tools.logs.levels import normalize

HEADER = 200
_KLOG_LETTERS = frozenset("IWEF")
_MONTH_LETTERS = frozenset("JFMASOND")
_LEVEL_WORD = r"TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|CRIT|SEVERE|PANIC|EMERG|ALERT|FINE|DPANIC"
_KLOG = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [^ \]]+\] ?")
_LOGFMT_LEVEL = re.compile(r'(?:^|\s)(?:level|lvl|severity|log\.level)="?([A-Za-z]+|\d+)')
_LOGFMT_MSG = re.compile(r'(?:^|\s)(?:msg|message)=(?:"((?:[^"\\]|\\.)*)"|(\S+))')
_SYSLOG_PRI = re.compile(r"<(\d{1,3})>(?:1 )?")
_BRACKET_LEVEL = re.compile(r"\[(?:[\w.-]+:)?(emerg|alert|crit|error|warn|notice|info|debug|trace\d?)\]", re.I)
_STAMP = (
    r"(?:\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"
    r"|\d\d:\d\d:\d\d(?:[.,]\d+)?"
    r"|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d)"
)
_STAMPED = re.compile(
    rf"\[?{_STAMP}\]?\s+(?:[\w.-]+\s+)?(?:\[[^\]]{{0,60}}\]\s+)?(?:\d+\s+)?(?:---\s+)?(?:[\w-]+\.)?"
    rf"\[?({_LEVEL_WORD})\]?\b[\s:]",  # (?:channel.) is Monolog's "production.ERROR:"
    re.I,
)
_SYSLOG_HEADER = re.compile(
    r"(?:<\d{1,3}>)?(?:1 )?(?:\S+T\S+|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d)"
    r" \S+ [\w./-]+(?:\[\d+\])?: "
)
_LEADING = re.compile(rf"\[?({_LEVEL_WORD})\]?(?::|\s)", re.I)
_CRASH = re.compile(r"panic: |fatal error: |Traceback \(most recent call last\):|Exception in thread ")
_CONTINUES = re.compile(
    r"[ \t]|Caused by:|Suppressed:|\.\.\. \d+ (?:more|common frames omitted)|goroutine \d+ \[|created by "
    r"|\[signal |[\w$.]+(?:Exception|Error|Throwable|Exit|Interrupt)(?::|$)|During handling of the above"
    r"|The above exception was|Traceback \(most recent call last\):"
    r"|[\w./-]+\.[\w$*().]*\(.*\)(?: in goroutine \d+)?$"  # a Go frame's function line: main.main()
)


def text_level(text: str) -> str | None:
    """The level a text line's header gives (normalized), or None when no known layout says.

    Layouts are tried by the header's first character, so a line pays for the few that can match.
    """
    head = text[:HEADER]
    first = head[:1]
    if first in _KLOG_LETTERS and head[1:2].isdigit():
        klog = _KLOG.match(head)
        if klog:
            return normalize(klog[1])
    if "=" in head:
        found = _LOGFMT_LEVEL.search(head)
        if found:
            return normalize(found[1]) or "unknown"
    if first == "<":
        pri = _SYSLOG_PRI.match(head)
        if pri and int(pri[1]) < 192:
            return normalize(int(pri[1]) % 8, "priority")
    if "[" in head:
        bracket = _BRACKET_LEVEL.search(head, 0, 80)
        if bracket:
            return normalize(bracket[1].rstrip("0123456789"))
    if first.isdigit() or first == "[" or first in _MONTH_LETTERS:
        stamped = _STAMPED.match(head)
        if stamped:
            return normalize(stamped[1])
        syslog = _SYSLOG_HEADER.match(head) if not first.isdigit() or head[4:5] == "-" else None
        if syslog:
            said = _LEADING.match(head, syslog.end())
            return normalize(said[1]) if said else None
    if first.isalpha() or first == "[":
        leading = _LEADING.match(head)
        if leading and (leading[1].isupper() or first == "["):
            return normalize(leading[1])
        if _CRASH.match(head):
            return "fatal" if first in "pf" else "error"
    return None


def text_message(text: str) -> str:
    """What a text record says, for its signature: the first line without its header.

    logfmt's ``msg=``; the rest after a klog, timestamp/level or syslog header; for a Python
    traceback its last line (the exception), for other stack traces the first line only.
    """
    first, _, rest = text.partition("\n")
    if first.startswith("Traceback (most recent call last)") and rest:
        return rest.rstrip().rpartition("\n")[2].strip()
    klog = _KLOG.match(first)
    if klog:
        return first[klog.end() :]
    if "=" in first[:HEADER]:
        found = _LOGFMT_MSG.search(first)
        if found:
            return found[1].replace('\\"', '"') if found[1] is not None else found[2]
    stamped = _STAMPED.match(first) or _SYSLOG_HEADER.match(first)
    if stamped:
        return first[stamped.end() :].strip() or first
    return first


def continues(line: str) -> bool:
    """Whether a text line continues the record before it (a stack frame, ``Caused by:``, a dump line)."""
    return _CONTINUES.match(line) is not None


_FRAME = re.compile(
    r"\s*(?:at |File \"|\.\.\. \d+ (?:more|common frames omitted)|goroutine \d+ \[|created by )|\s+\S+\.go:\d+"
)


def excerpt(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, keeping its first line and the cause lines of its stack trace.

    A Java stack's deepest ``Caused by:`` (the peer that refused, the host that timed out) sits at
    its end; the frames (``at ...``, ``File "..."``, ``... 12 more``) are what is dropped, then the
    causes nearest the top.
    """
    if len(text) <= limit:
        return text
    first, _, rest = text.partition("\n")
    head = first[: limit // 2] if rest else first[:limit]
    room = limit - len(head)
    kept: list[str] = []
    for line in reversed([ln.strip() for ln in rest.splitlines() if ln.strip() and not _FRAME.match(ln)]):
        if len(line) + 1 > room:
            break
        kept.append(line)
        room -= len(line) + 1
    return "\n".join([head, *reversed(kept)])
