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
a small input only pays for the fork and never ships a batch.
"""

from __future__ import annotations

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


def default_workers() -> int:
    """Worker processes to use: the CPUs this process may run on, at most 8."""
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


def _pool(workers: int) -> ProcessPoolExecutor:
    # fork is cheapest and safe here: the pool starts (all workers at once) before the
    # caller's reader thread does; elsewhere spawn.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


def feed_parallel(
    summary: LogSummary,
    blocks: Iterable[tuple[str, bytes]],
    workers: int | None = None,
    *,
    batch_bytes: int = BATCH,
    warmup_bytes: int = WARMUP,
) -> LogSummary:
    """Like :func:`tools.logs.classify.feed` (without a hook), over ``workers`` processes.

    ``workers`` ≤ 1 classifies in this process. ``blocks`` is consumed lazily; start
    it (for example :func:`tools.logs.reader.prefetched`) only through this call so the
    pool forks before any reader thread exists.
    """
    workers = default_workers() if workers is None else workers
    stream = iter(blocks)
    seen = 0
    if workers > 1:
        pool = _pool(workers)
        pool.submit(int).result()  # start the workers now, before the reader's thread
    try:
        for source, block in stream:
            feed_block(summary, source, block)
            seen += len(block)
            if workers > 1 and seen >= warmup_bytes:
                break
        else:
            return summary
        pending: deque[Future[LogSummary]] = deque()
        for batch in _batches(stream, batch_bytes):
            pending.append(pool.submit(_classify_batch, batch, summary.subject))
            if len(pending) >= 2 * workers:
                merge(summary, pending.popleft().result())
        while pending:
            merge(summary, pending.popleft().result())
        return summary
    finally:
        if workers > 1:
            pool.shutdown(wait=True, cancel_futures=True)
