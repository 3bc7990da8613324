"""HTTP delivery with retries: exponential backoff on connection errors, 429 and 5xx; a 4xx is final.

A success status is not enough: the answer's body is read too (a gateway may answer 200 with an error in the
body, as the original's API Gateway did for Kinesis errors), through the transport's ``check``.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, TypeVar

import requests
from requests.adapters import HTTPAdapter

logger = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
#: Per-record outcome meaning "not stored, send it again" (see :func:`deliver_in_rounds`).
RESEND = "resend"
Row = TypeVar("Row")


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


#: Seconds one try waits for its answer (a hung gateway costs this per try, not forever).
DEFAULT_REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``base_delay * 2**attempt`` capped at ``max_delay``, for ``max_attempts`` tries of
    at most ``request_timeout_s`` each."""

    max_attempts: int = 8
    base_delay: float = 0.2
    max_delay: float = 5.0
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before try number ``attempt + 1`` (``attempt`` counts from 0)."""
        return min(self.max_delay, self.base_delay * (2**attempt))


@dataclass(frozen=True)
class AnswerError:
    """An error found in the body of a success answer: its reason, and whether sending again may succeed."""

    reason: str
    retriable: bool


#: Reads a decoded success answer; returns the error it carries, or None when it accepted the records.
AnswerCheck = Callable[[Any], Optional[AnswerError]]


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
    check: AnswerCheck | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Send until accepted; return the decoded JSON answer or raise :class:`DeliveryFailed`.

    A success answer that is not JSON fails at once (``unreadable-answer``: the records may be stored, so
    sending again could duplicate them); one whose body ``check`` finds an error is retried if that error
    is retriable, and fails otherwise.
    """
    for attempt in range(policy.max_attempts):
        try:
            response = session.request(method, url, data=body, headers=headers, timeout=policy.request_timeout_s)
        except requests.ConnectionError as error:
            reason, detail = "connection-error", type(error).__name__
        except requests.Timeout as error:
            reason, detail = "timeout", type(error).__name__
        else:
            reason, detail = str(response.status_code), response.text[:300]
            if response.status_code < 300:
                answer = _decoded(response)
                problem = check(answer) if check else None
                if problem is None:
                    return answer
                reason = problem.reason
                if not problem.retriable:
                    raise DeliveryFailed(reason, detail)
            elif response.status_code not in RETRYABLE_STATUS:
                raise DeliveryFailed(reason, detail)
        if attempt + 1 < policy.max_attempts:
            on_retry()
            logger.warning("%s %s: %s, try %d of %d in %.1f s", method, url, reason, attempt + 2,
                           policy.max_attempts, policy.delay(attempt))
            sleep(policy.delay(attempt))
    raise DeliveryFailed(reason, f"gave up after {policy.max_attempts} tries ({detail})")


def _decoded(response: requests.Response) -> Any:
    """The JSON of a success answer, or :class:`DeliveryFailed` (``unreadable-answer``)."""
    try:
        return response.json()
    except ValueError:
        raise DeliveryFailed("unreadable-answer", f"{response.status_code}: {response.text[:300]!r}") from None


def deliver_in_rounds(
    rows: Sequence[Row],
    send_once: Callable[[Sequence[Row]], list[Optional[str]]],
    policy: RetryPolicy,
    stats: DeliveryStats,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send ``rows``, then again only those the answer asks to resend, until none is left or tries run out.

    ``send_once`` answers one outcome per row: None (stored), :data:`RESEND`, or the reason it failed for
    good; it raises :class:`DeliveryFailed` when the whole request failed. Every row ends up counted in
    ``stats`` exactly once, as sent or as failed with its reason.
    """
    pending = list(rows)
    for attempt in range(policy.max_attempts):
        try:
            outcomes = send_once(pending)
        except DeliveryFailed as failure:
            stats.record_error(failure.reason, len(pending))
            return
        stats.sent += outcomes.count(None)
        for reason, count in Counter(o for o in outcomes if o not in (None, RESEND)).items():
            stats.record_error(reason, count)
        pending = [row for row, outcome in zip(pending, outcomes) if outcome == RESEND]
        if not pending:
            return
        if attempt + 1 < policy.max_attempts:
            stats.retried += 1
            sleep(policy.delay(attempt))
    stats.record_error("resend-limit", len(pending))
