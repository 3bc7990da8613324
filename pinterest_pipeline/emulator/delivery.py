"""HTTP delivery with retries: exponential backoff on connection errors, 429 and 5xx; a 4xx is final."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class DeliveryStats:
    """What happened to the records handed to the transport."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def record_error(self, reason: str, records: int) -> None:
        """Count ``records`` as failed for ``reason`` (an HTTP status or an exception name)."""
        self.failed += records
        self.errors[reason] = self.errors.get(reason, 0) + records


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base_delay * 2**attempt`` capped at ``max_delay``, for ``max_attempts`` tries."""

    max_attempts: int = 8
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 0)."""
        return min(self.max_delay, self.base_delay * (2**attempt))


class DeliveryFailed(Exception):
    """A request that was not accepted: final 4xx or retries exhausted."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def pooled_session(api_key: str | None = None, pool_size: int = 4) -> requests.Session:
    """One keep-alive HTTP session for the whole run (API key header when configured)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if api_key:
        session.headers["x-api-key"] = api_key
    return session


def send_with_retry(
    session: requests.Session,
    method: str,
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    policy: RetryPolicy,
    on_retry: Callable[[], None],
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 30.0,
) -> Any:
    """Send until accepted; return the decoded JSON answer or raise :class:`DeliveryFailed`."""
    for attempt in range(policy.max_attempts):
        try:
            response = session.request(method, url, data=body, headers=headers, timeout=timeout)
        except requests.ConnectionError as error:
            reason, detail = "connection-error", type(error).__name__
        except requests.Timeout as error:
            reason, detail = "timeout", type(error).__name__
        else:
            if response.status_code < 300:
                return response.json()
            reason, detail = str(response.status_code), response.text[:300]
            if response.status_code not in RETRYABLE_STATUS:
                raise DeliveryFailed(reason, detail)
        if attempt + 1 < policy.max_attempts:
            on_retry()
            sleep(policy.delay(attempt))
    raise DeliveryFailed(reason, f"gave up after {policy.max_attempts} tries ({detail})")
