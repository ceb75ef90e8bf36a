"""Streaming line readers: local files and directories (plain or gzip), any binary stream.

Everything reads in fixed-size chunks and yields blocks of whole lines, so memory stays
flat whatever the file size. Gzip is detected by its magic bytes, not the file name;
concatenated gzip members (how shippers append) are read through, inflated by ISA-L
(``isal``, ~4x zlib's speed) when it is installed, else zlib. A truncated or corrupt
archive does not raise: the lines read so far are yielded and the problem is reported
to ``issues`` so the caller can turn it into a finding. Blocks end where no record
straddles (:func:`tools.logs.lines.safe_cut`: not inside a stack trace, not after a
partial CRI/Docker line), so each block reads the same alone as in one pass.
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from tools.logs.lines import safe_cut

try:  # ISA-L inflates about four times faster than zlib and releases the GIL alike
    from isal import isal_zlib

    _inflate: Any = isal_zlib
except ImportError:  # pragma: no cover - exercised only without isal
    _inflate = zlib

CHUNK = 1 << 20  # 1 MiB reads keep syscalls few and memory flat
MAX_LINE = 1 << 20  # a "line" longer than this is cut (a runaway binary blob must not eat memory)
GZIP_MAGIC = b"\x1f\x8b"

IssueSink = Callable[[str], None]
_T = TypeVar("_T")


def _decompressed(chunks: Iterator[bytes], name: str, issue: IssueSink) -> Iterator[bytes]:
    """Inflate gzip ``chunks`` (all members) in pieces of at most ``CHUNK`` bytes.

    Bounding each piece keeps memory flat however well the data compresses (a 1 MiB
    read of log text inflates to ~10 MiB otherwise). Truncation or corruption is reported
    instead of raised.
    """
    inflater = _inflate.decompressobj(wbits=31)
    in_member = False
    for chunk in chunks:
        data = chunk
        while data:
            in_member = True
            try:
                out = inflater.decompress(data, CHUNK)
                while len(out) == CHUNK and not inflater.unconsumed_tail and not inflater.eof:
                    yield out  # all input taken but output may be pending: drain it
                    out = inflater.decompress(b"", CHUNK)
            except (zlib.error, _inflate.error) as exc:
                issue(f"{name}: corrupt gzip data ({exc}); kept the lines before it")
                return
            if out:
                yield out
            if not inflater.eof:
                data = inflater.unconsumed_tail
                continue
            data, inflater, in_member = inflater.unused_data, _inflate.decompressobj(wbits=31), False
            if data and not data.startswith(GZIP_MAGIC):
                issue(f"{name}: {len(data)} bytes of trailing garbage after the gzip stream ignored")
                return
    if in_member and not inflater.eof:
        tail = inflater.flush()
        if tail:
            yield tail
        issue(f"{name}: truncated gzip (the stream ends mid-member); kept the lines before the cut")


def split_lines(blocks: Iterable[bytes], name: str, issue: IssueSink) -> Iterator[bytes]:
    """Re-cut byte ``blocks`` so each ends at a record end (the last one may not); CRLF becomes LF.

    The cut is chosen inside each new piece (before its last whole line, so the line after
    the cut can be judged), so each block costs one copy: the carried-over start joined to
    the piece.
    """
    rest = b""
    cut_reported = False
    for piece in blocks:
        last = piece.rfind(b"\n")
        # Cut before the last whole line, so the line after the cut is whole and can be judged
        # (a partial "java.lang.Ille" would not show it continues a stack trace).
        cut = piece.rfind(b"\n", 0, last) + 1 if last > 0 else 0
        if cut:
            cut = safe_cut(piece, cut)
        if not cut:
            rest += piece
            if len(rest) > MAX_LINE and rest.find(b"\n", 0, MAX_LINE) < 0:
                if not cut_reported:
                    issue(f"{name}: a line longer than {MAX_LINE} bytes was cut")
                    cut_reported = True
                rest = rest[:MAX_LINE] + b"\n"
                yield rest
                rest = b""
            continue
        whole = b"".join((rest, memoryview(piece)[:cut])) if rest else piece[:cut]
        rest = piece[cut:]
        yield whole.replace(b"\r\n", b"\n") if b"\r" in whole else whole
    if rest:
        yield rest.replace(b"\r\n", b"\n") if b"\r" in rest else rest


def stream_blocks(stream: BinaryIO, name: str, issue: IssueSink, chunk: int = CHUNK) -> Iterator[bytes]:
    """Blocks of whole lines of a binary stream, inflating it when it starts with the gzip magic."""

    def raw() -> Iterator[bytes]:
        while True:
            block = stream.read(chunk)
            if not block:
                return
            yield block

    blocks = raw()
    first = next(blocks, b"")
    if not first:
        return

    def again() -> Iterator[bytes]:
        yield first
        yield from blocks

    source = _decompressed(again(), name, issue) if first.startswith(GZIP_MAGIC) else again()
    yield from split_lines(source, name, issue)


def expand_paths(paths: Iterable[Path], issue: IssueSink) -> Iterator[Path]:
    """Files named by ``paths``; directories are walked in name order (hidden files skipped)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(part.startswith(".") for part in child.relative_to(path).parts):
                    yield child
        elif path.is_file():
            yield path
        else:
            issue(f"{path}: no such file or directory")


def file_blocks(paths: Iterable[Path], issue: IssueSink) -> Iterator[tuple[str, bytes]]:
    """``(source name, block of whole lines)`` covering every line of every file under ``paths``."""
    for path in expand_paths(paths, issue):
        try:
            with path.open("rb") as handle:
                for block in stream_blocks(handle, str(path), issue):
                    yield str(path), block
        except OSError as exc:
            issue(f"{path}: unreadable ({exc.strerror or exc})")


def prefetched(batches: Iterator[_T], depth: int = 4) -> Iterator[_T]:
    """Run ``batches`` in a helper thread, ``depth`` items ahead (zlib releases the GIL while inflating).

    Memory stays bounded by ``depth`` batches; closing the consumer stops the producer.
    """
    items: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(tag: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                items.put((tag, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in batches:
                if not put("item", item):
                    return
            put("done", None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put("raise", exc)

    worker = threading.Thread(target=produce, name="log-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            tag, value = items.get()
            if tag == "item":
                yield value
            elif tag == "raise":
                raise value
            else:
                return
    finally:
        stop.set()
        worker.join(timeout=5)
