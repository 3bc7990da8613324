"""Closing connections of clients too slow to send a request head (uvicorn has no such timeout of its own).

uvicorn closes a keep-alive connection after ``timeout_keep_alive`` of silence, but a connection that never
sends a complete request head, or trickles it one byte at a time (slowloris), stays open forever. The
protocol class built here closes it once ``header_timeout_s`` has passed since the connection opened, or since
the previous answer, without a complete head. A slow body is the routes' business (``request_body.read_body``).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

logger = logging.getLogger(__name__)


class HeadDeadline:
    """Mixin for uvicorn's HTTP protocol classes (httptools or h11): the request-head deadline."""

    header_timeout_s: float = 10.0
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        if not self.transport.is_closing():  # type: ignore[attr-defined]
            self._head_deadline = self.loop.call_later(  # type: ignore[attr-defined]
                self.header_timeout_s, self._head_overdue)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_overdue(self) -> None:
        cycle: Any = self.cycle  # type: ignore[attr-defined]
        waiting_for_head = cycle is None or cycle.response_complete
        if waiting_for_head and not self.transport.is_closing():  # type: ignore[attr-defined]
            logger.info("closing a connection that sent no complete request head within %g s", self.header_timeout_s)
            self.transport.close()  # type: ignore[attr-defined]


def protocol_class(header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's fastest available HTTP protocol, with the request-head deadline."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base  # type: ignore[assignment]
    return type("HeadDeadlineProtocol", (HeadDeadline, base), {"header_timeout_s": header_timeout_s})
