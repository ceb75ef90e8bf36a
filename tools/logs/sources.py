"""Where logs come from: local files, COS archives, CLS topics — all as ``(source, block)`` streams.

CLS answers are records already (``LogJson``); they are re-serialized into JSON lines so
the one classifier reads every source the same way. Credentials are read from the
environment variables named in config at the moment of use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from state.config import LogsConfig
from tools.logs.reader import IssueSink, file_blocks
from tools.registry import ToolError

SourceName = Literal["files", "cos", "cls"]
CLS_KINDS = ("business", "event", "audit")
CLS_BATCH = 500


def _lines(records: Iterator[dict[str, Any]], size: int = CLS_BATCH) -> Iterator[bytes]:
    batch: list[str] = []
    for record in records:
        batch.append(json.dumps(record, ensure_ascii=False, default=str))
        if len(batch) >= size:
            yield ("\n".join(batch) + "\n").encode()
            batch = []
    if batch:
        yield ("\n".join(batch) + "\n").encode()


@dataclass
class LogSources:
    """The configured log sources, opened lazily (no connection until a tool asks)."""

    config: LogsConfig
    env: Mapping[str, str]
    cls_factory: Callable[[Any], Any] | None = None  # TencentAccess -> ClsSearch (tests may pass their own)

    def available(self) -> list[str]:
        """Which sources are configured."""
        names = []
        if self.config.files:
            names.append("files")
        if self.config.cos.bucket:
            names.append("cos")
        if any(getattr(self.config.cls.topics, k) for k in CLS_KINDS):
            names.append("cls")
        return names

    def blocks(
        self,
        source: SourceName,
        start: datetime,
        end: datetime,
        issue: IssueSink,
        *,
        paths: list[str] | None = None,
        query: str = "",
        kinds: tuple[str, ...] = CLS_KINDS,
        limit: int = 5000,
    ) -> Iterator[tuple[str, bytes]]:
        """``(source name, block of JSON/text lines)`` from ``source`` over [start, end]."""
        if source == "files":
            chosen = [Path(p) for p in paths] if paths else list(self.config.files)
            if not chosen:
                raise ToolError("logs.files: no log files configured (and no paths given)")
            yield from file_blocks(chosen, issue)
        elif source == "cos":
            yield from self._cos().blocks(start, end, issue)
        elif source == "cls":
            yield from self._cls_blocks(start, end, issue, query, kinds, limit)
        else:
            raise ToolError(f"source: expected files, cos or cls, got {source!r}")

    def _access(self, id_env: str, key_env: str, region: str, endpoint: str | None) -> Any:
        from tools.tencent import TencentAccess

        return TencentAccess.from_env(dict(self.env), id_env, key_env, region, endpoint)

    def _cos(self) -> Any:
        from tools.logs.cos import CosArchive

        cos = self.config.cos
        if not cos.bucket:
            raise ToolError("logs.cos.bucket: no COS bucket configured")
        access = self._access(cos.secret_id_env, cos.secret_key_env, cos.region, cos.endpoint)
        return CosArchive(cos.bucket, cos.region, access.secret_id, access.secret_key, cos.prefix, cos.endpoint)

    def _cls_blocks(
        self, start: datetime, end: datetime, issue: IssueSink, query: str, kinds: tuple[str, ...], limit: int
    ) -> Iterator[tuple[str, bytes]]:
        cls = self.config.cls
        topics = [(k, getattr(cls.topics, k)) for k in kinds if getattr(cls.topics, k, None)]
        if not topics:
            raise ToolError("logs.cls.topics: no CLS topic configured for " + "/".join(kinds))
        access = self._access(cls.secret_id_env, cls.secret_key_env, cls.region, cls.endpoint)
        if self.cls_factory is not None:
            search = self.cls_factory(access)
        else:
            from tools.tencent import ClsSearch

            search = ClsSearch(access)
        start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        for kind, topic in topics:
            name = f"cls://{topic} ({kind})"
            records = search.search(topic, query, start_ms, end_ms, limit=limit, page_size=min(limit, 1000))
            try:
                yield from ((name, block) for block in _lines(records))
            except ToolError as exc:
                issue(f"{name}: {exc}")


def utc(value: datetime) -> datetime:
    """``value`` as aware UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
