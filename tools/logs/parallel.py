"""Classify a large log stream on several cores, with the same result as one pass.

The reader (inflating gzip in a helper thread) stays in this process; whole-line blocks
are grouped into batches of about ``BATCH`` bytes and classified by worker processes
(``concurrent.futures.ProcessPoolExecutor``). At most ``2 × workers`` batches are in
flight, so memory stays flat whatever the input size. Partial summaries are merged in
input order, which keeps counts, errors and signatures (count, first/last seen, the
first example, which signatures make the ``max_signatures`` cut) identical to
:func:`tools.logs.classify.feed` over the same blocks.

The workers are forked up front, before the caller's reader thread starts (forking a
threaded process is unsafe); the first ``WARMUP`` bytes are classified in process, so
a small input only pays for the fork and never ships a batch. Batches travel through
an anonymous shared mapping the forked workers inherit (``2 × workers`` slots, one per
batch in flight): one copy in, one out, instead of pickling megabytes through a pipe
(spawned workers, or a batch too large for its slot, are pickled as before).
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from tools.logs.classify import LogSummary, Signature, feed_block
from tools.logs.subject import Subject

BATCH = 4 << 20  # bytes of lines per worker task: large enough to amortize the hand-off
WARMUP = 4 << 20  # inputs smaller than this are classified in process
MALFORMED_NOTES = 3  # classify.py notes the first three malformed lines
_SLOTS: mmap.mmap | None = None  # in a worker: the shared mapping batches arrive in
Layout = list[tuple[str, int, int]]  # (source, offset, length) of each block in a slot


def default_workers() -> int:
    """Classifying processes to use (this one included): the CPUs this process may run on, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def _classify_batch(batch: list[tuple[str, bytes]], subject: Subject | None = None) -> LogSummary:
    """Worker side: one fresh summary over ``batch`` (no hook: only counts and signatures travel back).

    No signature cap here (a batch holds at most a few ten thousand lines): whether a
    signature makes the cut depends on what earlier batches saw, so :func:`merge` decides.
    """
    part = LogSummary(max_signatures=sys.maxsize, subject=subject)
    for source, block in batch:
        feed_block(part, source, block)
    return part


def _attach(slots: mmap.mmap | None) -> None:
    """Worker initializer: remember the shared mapping (inherited through fork, never pickled)."""
    global _SLOTS
    _SLOTS = slots


def _classify_slot(layout: Layout, subject: Subject | None = None) -> LogSummary:
    """Worker side of a shared-slot batch: the blocks are read out of the mapping, then classified."""
    assert _SLOTS is not None, "a slot batch reached a worker without the shared mapping"
    return _classify_batch([(source, _SLOTS[at : at + size]) for source, at, size in layout], subject)


def merge(summary: LogSummary, part: LogSummary) -> None:
    """Fold ``part`` (the summary of the lines right after those already in ``summary``) into ``summary``."""
    for kind, n in part.counts.items():
        summary.counts[kind] += n
    summary.errors += part.errors
    summary.overflow += part.overflow
    for index, note in enumerate(part.issues, start=1):  # a part's issues are its malformed-line notes
        if summary.malformed + index <= MALFORMED_NOTES:
            summary.issue(note)
    summary.malformed += part.malformed
    for key, theirs in part.signatures.items():  # in order of first occurrence within the part
        ours = summary.signatures.get(key)
        if ours is None:
            if len(summary.signatures) >= summary.max_signatures:
                summary.overflow += theirs.count
                continue
            ours = summary.signatures[key] = Signature(key)
        ours.absorb(theirs)


def _batches(blocks: Iterator[tuple[str, bytes]], size: int) -> Iterator[list[tuple[str, bytes]]]:
    batch: list[tuple[str, bytes]] = []
    held = 0
    for item in blocks:
        batch.append(item)
        held += len(item[1])
        if held >= size:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def _pool(workers: int, slots: mmap.mmap | None) -> ProcessPoolExecutor:
    # fork is cheapest and safe here: the pool starts (all workers at once) before the
    # caller's reader thread does; elsewhere spawn (and no shared slots).
    method = "fork" if slots is not None else "spawn"
    context = multiprocessing.get_context(method)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_attach, initargs=(slots,))


class _Shipper:
    """Puts batches in free slots of the shared mapping (or pickles them when that cannot be)."""

    def __init__(self, pool: ProcessPoolExecutor, slots: mmap.mmap | None, size: int, subject: Subject | None):
        self.pool, self.slots, self.size, self.subject = pool, slots, size, subject
        count = len(slots) // size if slots is not None else 0
        self.free: deque[int] = deque(range(count))

    def submit(self, batch: list[tuple[str, bytes]]) -> tuple[Future[LogSummary], int | None]:
        total = sum(len(block) for _, block in batch)
        if self.slots is None or not self.free or total > self.size:
            return self.pool.submit(_classify_batch, batch, self.subject), None
        slot = self.free.popleft()
        layout: Layout = []
        at = slot * self.size
        for source, block in batch:
            self.slots[at : at + len(block)] = block
            layout.append((source, at, len(block)))
            at += len(block)
        return self.pool.submit(_classify_slot, layout, self.subject), slot

    def done(self, slot: int | None) -> None:
        """The batch in ``slot`` was read: the slot may be filled again."""
        if slot is not None:
            self.free.append(slot)


def _done(part: LogSummary) -> Future[LogSummary]:
    future: Future[LogSummary] = Future()
    future.set_result(part)
    return future


def feed_parallel(
    summary: LogSummary,
    blocks: Iterable[tuple[str, bytes]],
    workers: int | None = None,
    *,
    batch_bytes: int = BATCH,
    warmup_bytes: int = WARMUP,
) -> LogSummary:
    """Like :func:`tools.logs.classify.feed` (without a hook), over ``workers`` classifying processes.

    This process is one of them: it takes every ``workers``-th batch itself between
    handing the others to ``workers - 1`` forked ones (so two CPUs run two classifiers, not
    three processes). ``workers`` <= 1 classifies here alone. ``blocks`` is consumed lazily;
    start it (for example :func:`tools.logs.reader.prefetched`) only through this call so
    the pool forks before any reader thread exists.
    """
    workers = default_workers() if workers is None else workers
    helpers = workers - 1
    stream = iter(blocks)
    seen = 0
    slot_size = batch_bytes + 4 * (1 << 20)  # a batch ends at the first block past batch_bytes
    if helpers > 0:
        forking = "fork" in multiprocessing.get_all_start_methods()
        slots = mmap.mmap(-1, 2 * helpers * slot_size) if forking else None
        pool = _pool(helpers, slots)
        pool.submit(int).result()  # start the workers now, before the reader's thread
    try:
        for source, block in stream:
            feed_block(summary, source, block)
            seen += len(block)
            if helpers > 0 and seen >= warmup_bytes:
                break
        else:
            return summary
        shipper = _Shipper(pool, slots, slot_size, summary.subject)
        pending: deque[tuple[Future[LogSummary], int | None]] = deque()

        def settle() -> None:
            future, slot = pending.popleft()
            merge(summary, future.result())
            shipper.done(slot)

        for index, batch in enumerate(_batches(stream, batch_bytes)):
            if index % workers == helpers:
                pending.append((_done(_classify_batch(batch, summary.subject)), None))
            else:
                pending.append(shipper.submit(batch))
            while sum(1 for _, slot in pending if slot is not None) >= 2 * helpers or len(pending) > 4 * workers:
                settle()
        while pending:
            settle()
        return summary
    finally:
        if helpers > 0:
            pool.shutdown(wait=True, cancel_futures=True)
            if slots is not None:
                slots.close()
