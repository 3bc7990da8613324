"""Routes of the Kafka REST Proxy v2 the original's batch emulator talks to: produce, list and describe topics."""
from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from pinterest_pipeline.gateway.backend import RecordBackend
from pinterest_pipeline.gateway.errors import (
    KAFKA_ERROR,
    KAFKA_V2_JSON,
    RestError,
    partition_not_found,
    topic_not_found,
)
from pinterest_pipeline.gateway.produce_request import parse_produce_request, unprocessable
from pinterest_pipeline.gateway.request_body import BodyTooLarge, read_body

logger = logging.getLogger(__name__)

#: The one request content type of the v2 produce API with JSON embedded data.
PRODUCE_CONTENT_TYPE = "application/vnd.kafka.json.v2+json"


def media_type(content_type: str | None) -> str:
    """``type/subtype`` of a Content-Type header, without parameters such as ``charset``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def produce_response(offsets: list[tuple[int, int]]) -> dict[str, Any]:
    """The v2 produce answer: one entry per record, no schema ids (JSON embedded format)."""
    return {
        "offsets": [
            {"partition": partition, "offset": offset, "error_code": None, "error": None}
            for partition, offset in offsets
        ],
        "key_schema_id": None,
        "value_schema_id": None,
    }


def describe_topic(name: str, partitions: int) -> dict[str, Any]:
    """The v2 topic description, a single broker (0) leading every partition."""
    return {
        "name": name,
        "configs": {},
        "partitions": [
            {"partition": p, "leader": 0, "replicas": [{"broker": 0, "leader": True, "in_sync": True}]}
            for p in range(partitions)
        ],
    }


def kafka_rest_routes(backend: RecordBackend, max_body_bytes: int) -> list[BaseRoute]:
    """``GET /topics``, ``GET /topics/{topic}``, ``POST /topics/{topic}`` over ``backend``."""

    async def backend_topics() -> list[str]:
        try:
            return await run_in_threadpool(backend.topics)
        except Exception as error:  # the backend (a broker) is unreachable: a proxy error, never a bare 500
            logger.warning("listing topics failed: %s", type(error).__name__)
            raise RestError(500, KAFKA_ERROR, f"Kafka error: {type(error).__name__}") from None

    async def known_topic(topic: str) -> str:
        if topic not in await backend_topics():
            raise topic_not_found()
        return topic

    async def list_topics(request: Request) -> Response:
        return JSONResponse(sorted(await backend_topics()), media_type=KAFKA_V2_JSON)

    async def get_topic(request: Request) -> Response:
        topic = await known_topic(request.path_params["topic"])
        partitions = await run_in_threadpool(backend.partition_count, topic)
        return JSONResponse(describe_topic(topic, partitions), media_type=KAFKA_V2_JSON)

    async def produce(request: Request) -> Response:
        # The proxy's order: content type, then the body (parse, shape, constraints), then the topic.
        if media_type(request.headers.get("content-type")) != PRODUCE_CONTENT_TYPE:
            raise RestError.http(415)
        try:
            body = await read_body(request, max_body_bytes)
        except BodyTooLarge:
            raise RestError.http(413) from None
        produce_request = await run_in_threadpool(parse_produce_request, body)  # up to 10 MiB: off the loop
        topic = await known_topic(request.path_params["topic"])
        values, partitions = produce_request.values, produce_request.partitions
        explicit = partitions if any(p is not None for p in partitions) else None
        if explicit is not None:
            count = await run_in_threadpool(backend.partition_count, topic)
            if any(p is not None and p >= count for p in explicit):
                raise partition_not_found()
        try:
            offsets = await run_in_threadpool(backend.produce, topic, values, explicit)
        except ValueError as error:
            raise unprocessable(str(error)) from None
        except LookupError:
            raise topic_not_found() from None
        except Exception as error:
            logger.exception("producing %d records to %s failed", len(values), topic)
            raise RestError(500, KAFKA_ERROR, f"Kafka error: {type(error).__name__}") from None
        return JSONResponse(produce_response(offsets), media_type=KAFKA_V2_JSON)

    async def topic(request: Request) -> Response:
        return await (produce(request) if request.method == "POST" else get_topic(request))

    return [
        Route("/topics", list_topics, methods=["GET"]),
        Route("/topics/{topic}", topic, methods=["GET", "POST"]),
    ]
