"""Reading a request body once, for both route families, within the size and time limits (then
``contract.decode_json``)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.requests import Request

from pinterest_pipeline.config import DEFAULT_MAX_BODY_BYTES, Settings


@dataclass(frozen=True)
class BodyLimits:
    """How large a request body may be, and how long its client may pause while sending it."""

    max_bytes: int = DEFAULT_MAX_BODY_BYTES
    idle_timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "BodyLimits":
        return cls(settings.max_body_bytes, settings.body_timeout_seconds)


class BodyTooLarge(Exception):
    """The body exceeds the gateway's limit (each route family answers 413 in its own words)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


class BodyTooSlow(Exception):
    """The client paused longer than the limit while sending the body (each route family answers 408)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"no part of the request body arrived for {timeout_s:g} s")
        self.timeout_s = timeout_s


async def read_body(request: Request, limits: BodyLimits) -> bytes:
    """The request body; :class:`BodyTooLarge` as soon as it is known to exceed the limit (from
    ``Content-Length`` before reading, or while streaming a chunked body), :class:`BodyTooSlow` when no chunk
    arrives within the idle timeout."""
    limit, idle_timeout_s = limits.max_bytes, limits.idle_timeout_s
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), idle_timeout_s)
        except StopAsyncIteration:
            return bytes(body)
        except asyncio.TimeoutError:
            raise BodyTooSlow(idle_timeout_s) from None
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit)
