"""Reading a request body once, for both route families, within the size limit (then ``contract.decode_json``)."""
from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The body exceeds the gateway's limit (each route family answers 413 in its own words)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


async def read_body(request: Request, limit: int) -> bytes:
    """The request body; :class:`BodyTooLarge` as soon as it is known to exceed ``limit`` bytes
    (from ``Content-Length`` before reading, or while streaming a chunked body)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit)
    return bytes(body)
