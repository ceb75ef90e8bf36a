r"""Physical lines → records: container-runtime wrappers unwrapped, partial lines and stack traces joined.

- CRI (containerd, CRI-O; the kubelet's ``/var/log/pods`` files): ``TIMESTAMP STREAM P|F
  MESSAGE``; ``P`` lines are partial and join, per stream, until the ``F`` line.
- Docker json-file: ``{"log": "...\\n", "stream": "stderr", "time": "..."}``; a ``log`` value
  without the trailing newline Docker adds is partial (a line over 16 KiB) and joins the next.
  Shipper metadata beside ``log`` (fluent-bit's ``kubernetes: {...}``) gives the identity.
- The unwrapped text joins the text record before it when :func:`tools.logs.layouts.continues`
  says so (Java/Python/Go stack traces become one record).

:class:`LineReader` keeps that state for one block; :func:`safe_cut` lets the reader end
blocks where no record straddles, so every block is read alone (and in any worker) the
same way as in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tools.logs.identity import NOBODY, Identity, from_fields
from tools.logs.layouts import continues
from tools.logs.records import NotJson, Record, decode, read_object, read_text, to_epoch

CRI = re.compile(rb"(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([PF]) ?")
DOCKER_PREFIX = b'{"log":'
MAX_JOINED = 1 << 20  # a joined record longer than this is cut
Emit = Callable[[Record], None]


class LineReader:
    """Reads the non-JSON lines (and Docker json-file lines) of one block into records."""

    def __init__(self, emit: Emit, source: Identity, on_bad_json: Callable[[bytes], None]) -> None:
        """``emit`` receives each record; ``source`` is the identity the source itself gives."""
        self._emit = emit
        self._source = source
        self._bad = on_bad_json
        self._partial: dict[str, str] = {}
        self._pending: list[str] = []
        self._pending_when: float | None = None
        self._pending_who: Identity = NOBODY
        self._pending_size = 0

    def line(self, raw: bytes) -> None:
        """One physical line (not blank)."""
        if raw.startswith(DOCKER_PREFIX):
            self._docker(raw)
            return
        cri = CRI.match(raw)
        if cri is None:
            self._inner(raw.decode("utf-8", "replace"), None, self._source)
            return
        text = raw[cri.end() :].decode("utf-8", "replace")
        stream = cri[2].decode()
        if cri[3] == b"P":
            self._partial[stream] = self._partial.get(stream, "") + text
            return
        self._inner(self._partial.pop(stream, "") + text, to_epoch(cri[1].decode()), self._source)

    def _docker(self, raw: bytes) -> None:
        try:
            record = decode(raw)
        except NotJson:
            self._bad(raw)
            return
        record = record or {}
        log = record.get("log")
        if not isinstance(log, str):
            self.flush()
            for found in read_object(record, self._source):
                self._emit(found)
            return
        stream = str(record.get("stream") or "")
        if not log.endswith("\n"):
            self._partial[stream] = self._partial.get(stream, "") + log
            return
        who = from_fields(record).or_else(self._source) if len(record) > 3 else self._source
        self._inner(self._partial.pop(stream, "") + log[:-1], to_epoch(record.get("time")), who)

    def _inner(self, text: str, when: float | None, who: Identity) -> None:
        stripped = text.lstrip()
        if stripped[:1] == "{" and stripped.rstrip()[-1:] == "}":
            try:
                record = decode(stripped.encode())
            except NotJson:
                record = None
            if record is not None:
                self.flush()
                for found in read_object(record, who):
                    if found.when is None:
                        found.when = when
                    self._emit(found)
                return
        if self._pending and continues(text) and self._pending_size < MAX_JOINED:
            self._pending.append(text)
            self._pending_size += len(text)
            return
        if not text.strip():
            return  # blank lines inside a dump (Go's goroutine trace) neither end nor start a record
        self.flush()
        self._pending, self._pending_when, self._pending_who, self._pending_size = [text], when, who, len(text)

    def flush(self) -> None:
        """Emit the text record being joined, if any (a JSON line or the block's end closes it)."""
        if not self._pending:
            return
        text = "\n".join(self._pending).rstrip()
        self._pending = []
        self._emit(read_text(text, self._pending_when, self._pending_who))

    def close(self) -> None:
        """End of the block: partial lines left over are records of their own."""
        for stream in list(self._partial):
            self._inner(self._partial.pop(stream), None, self._source)
        self.flush()


def _inner_bytes(line: bytes) -> bytes:
    cri = CRI.match(line)
    if cri:
        return line[cri.end() :]
    if line.startswith(DOCKER_PREFIX + b'"'):
        return line[len(DOCKER_PREFIX) + 1 :].replace(b"\\t", b"\t", 1)
    return line


def _partial(line: bytes) -> bool:
    cri = CRI.match(line)
    if cri:
        return cri[3] == b"P"
    return line.startswith(DOCKER_PREFIX) and b'\\n"' not in line


def safe_cut(block: bytes, end: int, limit: int = 256) -> int:
    """A cut at or before ``end`` (a line start) where no record straddles, or ``end`` if none is near.

    A cut is unsafe before a line that continues the record before it, or after a partial line.
    """
    cut = end
    for _ in range(limit):
        if cut <= 0:
            return end
        previous = block.rfind(b"\n", 0, cut - 1) + 1
        nxt = block[cut : block.find(b"\n", cut) if block.find(b"\n", cut) >= 0 else len(block)]
        head = _inner_bytes(nxt)[:200].decode("utf-8", "replace")
        if not (nxt and continues(head)) and not _partial(block[previous : cut - 1]):
            return cut
        cut = previous
    return end
