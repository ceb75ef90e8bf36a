"""COS log archives through cos-python-sdk-v5: list a day's prefix, stream each object.

Shippers (CLS → COS) write gzip files of one JSON record a line under a dated prefix.
``prefix`` may hold strftime codes (``logs/%Y/%m/%d/``); without them the day is
appended as ``YYYY/MM/DD/``. Objects stream through the same chunked reader as local
files, so memory stays flat whatever the archive size. ``endpoint`` (``host:port``)
points the client at a local server over HTTP (tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from typing import Any

import urllib3

from tools.logs.reader import IssueSink, stream_blocks
from tools.registry import ToolError

MAX_KEYS_PER_DAY = 10_000


def day_prefix(prefix: str, day: datetime) -> str:
    """The listing prefix of ``day``."""
    if "%" in prefix:
        return day.strftime(prefix)
    return f"{prefix}{day:%Y/%m/%d}/"


def days(start: datetime, end: datetime) -> list[datetime]:
    """Each UTC day touched by [start, end] (at most 31)."""
    first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    out: list[datetime] = []
    while first <= end and len(out) < 31:
        out.append(first)
        first += timedelta(days=1)
    return out


class CosArchive:
    """One bucket of shipped logs."""

    def __init__(
        self, bucket: str, region: str, secret_id: str, secret_key: str, prefix: str = "", endpoint: str | None = None
    ) -> None:
        from qcloud_cos import CosConfig, CosS3Client

        config = CosConfig(
            Region=region,
            SecretId=secret_id,
            SecretKey=secret_key,
            Scheme="http" if endpoint else "https",
            Domain=endpoint,
        )
        self.bucket = bucket
        self.prefix = prefix
        self._client = CosS3Client(config, retry=1)

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from qcloud_cos.cos_exception import CosClientError, CosServiceError

        try:
            return fn(**kwargs)
        except CosServiceError as exc:
            raise ToolError(f"COS {what}: {exc.get_error_code()} {exc.get_error_msg()}") from None
        except CosClientError as exc:
            raise ToolError(f"COS {what}: {exc}") from None

    def keys(self, prefix: str) -> Iterator[str]:
        """Object keys under ``prefix`` (all pages)."""
        marker, listed = "", 0
        while listed < MAX_KEYS_PER_DAY:
            page = self._call(
                f"list {self.bucket}/{prefix}",
                self._client.list_objects,
                Bucket=self.bucket,
                Prefix=prefix,
                Marker=marker,
                MaxKeys=1000,
            )
            contents = page.get("Contents") or []
            for item in contents:
                listed += 1
                yield item["Key"]
            if str(page.get("IsTruncated", "false")).lower() != "true" or not contents:
                return
            marker = page.get("NextMarker") or contents[-1]["Key"]

    def blocks(self, start: datetime, end: datetime, issue: IssueSink) -> Iterator[tuple[str, bytes]]:
        """``(cos://bucket/key, block)`` over every object of the days in [start, end]."""
        for day in days(start, end):
            prefix = day_prefix(self.prefix, day)
            try:
                keys = list(self.keys(prefix))
            except ToolError as exc:
                issue(str(exc))
                continue
            if not keys:
                issue(f"COS {self.bucket}/{prefix}: no objects for {day:%Y-%m-%d}")
            for key in keys:
                name = f"cos://{self.bucket}/{key}"
                try:
                    response = self._call(f"get {key}", self._client.get_object, Bucket=self.bucket, Key=key)
                    stream = response["Body"].get_raw_stream()
                    for block in stream_blocks(stream, name, issue):
                        yield name, block
                except ToolError as exc:
                    issue(str(exc))
                except (OSError, HTTPException, urllib3.exceptions.HTTPError) as exc:  # dropped mid-object
                    issue(f"{name}: read failed ({type(exc).__name__}); kept the lines before it")
