"""The gateway's Prometheus metrics, served at ``GET /metrics`` in the text exposition format.

Each app has its own registry (several apps in one process, as in the tests, do not share counts). Every
metric is described in docs/metrics.md.
"""
from __future__ import annotations

import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METRICS_PATH = "/metrics"
#: The ``target`` label of records sent to a topic or stream that does not exist (keeps labels bounded).
UNKNOWN_TARGET = "(unknown)"
#: Seconds: from a fast local answer to a slow remote backend.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Records per journal write: one record up to a full request.
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)


class GatewayMetrics:
    """The counters and histograms of one gateway."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter(
            "pinterest_gateway_records", "Records per topic or stream: accepted, or rejected with a reason",
            ["target", "outcome", "reason"], registry=self.registry)
        self.request_seconds = Histogram(
            "pinterest_gateway_request_duration_seconds", "Time to answer a request, by route template and status",
            ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.journal_seconds = Histogram(
            "pinterest_gateway_journal_write_seconds", "Time of one write-ahead log write, fsync included",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.journal_records = Histogram(
            "pinterest_gateway_journal_write_records", "Records made durable by one write-ahead log write",
            buckets=BATCH_BUCKETS, registry=self.registry)
        self.backend_errors = Counter(
            "pinterest_gateway_backend_errors", "Failures of the backend (lake writer, Kafka or Kinesis)",
            ["backend", "error"], registry=self.registry)

    def accepted(self, target: str, count: int) -> None:
        """``count`` records of ``target`` were stored."""
        if count:
            self.records.labels(target, "accepted", "").inc(count)

    def rejected(self, target: str, count: int, reason: str) -> None:
        """``count`` records of ``target`` were refused for ``reason`` (an error code or status)."""
        if count:
            self.records.labels(target, "rejected", reason).inc(count)

    def journal_written(self, seconds: float, records: int) -> None:
        """One write-ahead log write of ``records`` records took ``seconds``."""
        self.journal_seconds.observe(seconds)
        self.journal_records.observe(records)

    def backend_failed(self, backend: str, error: BaseException) -> None:
        """The backend failed with ``error``."""
        self.backend_errors.labels(backend, type(error).__name__).inc()

    def route(self) -> Route:
        """``GET /metrics``."""

        async def metrics(request: Request) -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return Route(METRICS_PATH, metrics, methods=["GET"])


class RequestTimer:
    """ASGI middleware observing every HTTP request's duration by route template (not raw path) and status."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.metrics.request_seconds.labels(template, scope["method"], str(status[0])).observe(
                time.perf_counter() - started)
