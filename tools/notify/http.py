"""One POST with the retry rules every HTTP channel shares.

Transport errors, HTTP 5xx and 429 are retryable (the next try may get through); any other
4xx is not (the request itself is wrong: a bad key, a malformed body). A 429's
``Retry-After`` is reported so the caller can say how long the endpoint asked to wait.
"""

from __future__ import annotations

from typing import Any

import httpx

from tools.notify.message import DeliveryError


def post(
    url: str, *, timeout_s: float, json_body: Any = None, content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:  # fmt: skip
    """POST to ``url``; raises :class:`DeliveryError` unless the answer is 2xx or 3xx."""
    try:
        response = httpx.post(url, json=json_body, content=content, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from None
    if response.status_code == 429:
        wait = response.headers.get("Retry-After")
        raise DeliveryError("HTTP 429 rate limited" + (f" (retry after {wait}s)" if wait else ""), retryable=True)
    if response.status_code >= 500:
        raise DeliveryError(f"HTTP {response.status_code}", retryable=True)
    if response.status_code >= 400:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")
    return response


def json_answer(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; a non-JSON answer is a failed delivery."""
    try:
        answer = response.json()
    except ValueError:
        raise DeliveryError(f"not JSON: {response.text[:200]}") from None
    if not isinstance(answer, dict):
        raise DeliveryError(f"not a JSON object: {response.text[:200]}")
    return answer
