"""The gateway's ASGI app: route groups over one record backend, API key check, Confluent-style errors."""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Sequence

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from pinterest_pipeline.config import Settings
from pinterest_pipeline.gateway.auth import ApiKeyMiddleware
from pinterest_pipeline.gateway.backend import RecordBackend
from pinterest_pipeline.gateway.errors import RestError, error_response, rest_error_handler
from pinterest_pipeline.gateway.kafka_rest import kafka_rest_routes
from pinterest_pipeline.gateway.metrics import METRICS_PATH, GatewayMetrics, RequestTimer
from pinterest_pipeline.gateway.request_body import BodyLimits

HEALTH_PATH = "/health"


def health_routes(backend: RecordBackend) -> list[BaseRoute]:
    """``GET /health`` → 200 ``{"status": "ok"}``, or 503 ``{"status": "unavailable", "problems": {part:
    reason}}`` while the backend cannot store records (open without API key: it is for process supervisors)."""

    async def health(request: Request) -> Response:
        problems = await run_in_threadpool(backend.problems)
        if problems:
            return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ok"})

    return [Route(HEALTH_PATH, health, methods=["GET"])]


async def http_error_handler(request: Request, error: Exception) -> Response:
    """Unknown route (404) or method (405), worded as the REST proxy words them."""
    assert isinstance(error, HTTPException)
    return error_response(RestError.http(error.status_code, error.headers))


def create_app(
    settings: Settings, backend: RecordBackend, extra_routes: Sequence[BaseRoute] = (),
    metrics: GatewayMetrics | None = None,
) -> Starlette:
    """The gateway over ``backend``: health, metrics, the Kafka REST routes, then ``extra_routes`` (e.g.
    Kinesis, sharing ``metrics``). ``/health`` and ``/metrics`` need no API key.

    The backend is closed when the app shuts down (uvicorn: on SIGTERM / SIGINT).
    """
    metrics = metrics if metrics is not None else GatewayMetrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(backend.close)

    middleware = [Middleware(RequestTimer, metrics=metrics)]
    if settings.api_key:
        middleware.append(Middleware(ApiKeyMiddleware, api_key=settings.api_key,
                                     open_paths=[HEALTH_PATH, METRICS_PATH]))
    kafka_routes = kafka_rest_routes(backend, BodyLimits.from_settings(settings), metrics)
    app = Starlette(
        routes=[*health_routes(backend), metrics.route(), *kafka_routes, *extra_routes],
        middleware=middleware,
        exception_handlers={RestError: rest_error_handler, HTTPException: http_error_handler},
        lifespan=lifespan,
    )
    app.state.settings, app.state.backend, app.state.metrics = settings, backend, metrics
    return app
