"""Routes of the Kafka REST Proxy v2 behind the original's ``/{proxy+}``: produce, topics and partitions.

Served: ``GET /``, ``GET /topics``, ``GET|POST /topics/{topic}``, ``GET /topics/{topic}/partitions``,
``GET|POST /topics/{topic}/partitions/{partition}``. Not served (404, as the proxy words it): the consumer,
broker and v3 APIs, which no producer of this pipeline uses.
"""
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
    TOPIC_NOT_FOUND,
    RestError,
    partition_not_found,
    topic_not_found,
)
from pinterest_pipeline.gateway.metrics import UNKNOWN_TARGET, GatewayMetrics
from pinterest_pipeline.gateway.produce_request import (
    ProduceRequest,
    bad_request,
    parse_produce_request,
    unprocessable,
)
from pinterest_pipeline.gateway.request_body import BodyLimits, BodyTooLarge, BodyTooSlow, read_body

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


def describe_partition(partition: int) -> dict[str, Any]:
    """The v2 partition description, a single broker (0) leading it."""
    return {"partition": partition, "leader": 0, "replicas": [{"broker": 0, "leader": True, "in_sync": True}]}


def describe_topic(name: str, partitions: int) -> dict[str, Any]:
    """The v2 topic description."""
    return {"name": name, "configs": {}, "partitions": [describe_partition(p) for p in range(partitions)]}


def kafka_rest_routes(backend: RecordBackend, limits: BodyLimits, metrics: GatewayMetrics) -> list[BaseRoute]:
    """The v2 routes listed in the module docstring, over ``backend``; records counted in ``metrics``."""
    backend_name = type(backend).__name__.removesuffix("Backend").lower()

    def topics_or_error() -> list[str]:
        try:
            return backend.topics()
        except Exception as error:  # the backend (a broker) is unreachable: a proxy error, never a bare 500
            metrics.backend_failed(backend_name, error)
            logger.warning("listing topics failed: %s", type(error).__name__)
            raise RestError(500, KAFKA_ERROR, f"Kafka error: {type(error).__name__}") from None

    async def backend_topics() -> list[str]:
        return await run_in_threadpool(topics_or_error)

    async def known_topic(topic: str) -> str:
        if topic not in await backend_topics():
            raise topic_not_found()
        return topic

    async def root(request: Request) -> Response:
        return JSONResponse({}, media_type=KAFKA_V2_JSON)

    async def list_topics(request: Request) -> Response:
        return JSONResponse(sorted(await backend_topics()), media_type=KAFKA_V2_JSON)

    async def partition_count(topic: str) -> int:
        return await run_in_threadpool(backend.partition_count, topic)

    async def known_partition(topic: str, partition: int) -> int:
        if partition >= await partition_count(topic):
            raise partition_not_found()
        return partition

    async def get_topic(request: Request) -> Response:
        topic = await known_topic(request.path_params["topic"])
        return JSONResponse(describe_topic(topic, await partition_count(topic)), media_type=KAFKA_V2_JSON)

    async def list_partitions(request: Request) -> Response:
        topic = await known_topic(request.path_params["topic"])
        count = await partition_count(topic)
        return JSONResponse([describe_partition(p) for p in range(count)], media_type=KAFKA_V2_JSON)

    async def produce(request: Request, partition: int | None = None) -> Response:
        """Produce to the topic (each record's own ``partition``, if any) or, given ``partition``, to it."""
        # The proxy's order: content type, then the body (parse, shape, constraints), then the topic.
        if media_type(request.headers.get("content-type")) != PRODUCE_CONTENT_TYPE:
            raise RestError.http(415)
        try:
            body = await read_body(request, limits)
        except BodyTooLarge:
            raise RestError.http(413) from None
        except BodyTooSlow:
            raise RestError.http(408) from None
        # Parsing (up to 10 MiB) and the backend's blocking calls run off the event loop, in one worker thread.
        offsets = await run_in_threadpool(parse_and_store, body, request.path_params["topic"], partition)
        return JSONResponse(produce_response(offsets), media_type=KAFKA_V2_JSON)

    def parse_and_store(body: bytes, topic: str, partition: int | None) -> list[tuple[int, int]]:
        """Parse the body, then store its records (one thread hop per request: a single-record request's cost
        is mostly fixed); counted in the metrics either way."""
        produce_request = parse_produce_request(body)
        try:
            offsets = store(topic, produce_request, partition)
        except RestError as error:
            known = error.error_code != TOPIC_NOT_FOUND  # a client's made-up names never become label values
            metrics.rejected(topic if known else UNKNOWN_TARGET, len(produce_request.values), str(error.error_code))
            raise
        metrics.accepted(topic, len(offsets))
        return offsets

    def store(topic: str, produce_request: ProduceRequest, partition: int | None) -> list[tuple[int, int]]:
        """Check the topic and partitions, then produce; :class:`RestError` for what the proxy refuses."""
        values, partitions, keys = produce_request.values, produce_request.partitions, produce_request.keys
        if topic not in topics_or_error():
            raise topic_not_found()
        if partition is not None:
            named = [i for i, p in enumerate(partitions) if p is not None]
            if named:  # a partition produce request's records have no partition field
                raise bad_request(f"Unrecognized field \"partition\" in records[{named[0]}].")
            partitions = [partition] * len(values)
        explicit = partitions if any(p is not None for p in partitions) else None
        if explicit is not None:
            count = backend.partition_count(topic)
            if any(p is not None and p >= count for p in explicit):
                raise partition_not_found()
        try:
            return backend.produce(topic, values, explicit, keys if any(key is not None for key in keys) else None)
        except ValueError as error:
            raise unprocessable(str(error)) from None
        except LookupError:
            raise topic_not_found() from None
        except Exception as error:
            metrics.backend_failed(backend_name, error)
            logger.exception("producing %d records to %s failed", len(values), topic)
            raise RestError(500, KAFKA_ERROR, f"Kafka error: {type(error).__name__}") from None

    async def topic(request: Request) -> Response:
        return await (produce(request) if request.method == "POST" else get_topic(request))

    async def partition(request: Request) -> Response:
        number = request.path_params["partition"]
        if request.method == "POST":
            return await produce(request, number)
        topic = await known_topic(request.path_params["topic"])
        return JSONResponse(describe_partition(await known_partition(topic, number)), media_type=KAFKA_V2_JSON)

    return [
        Route("/", root, methods=["GET"]),
        Route("/topics", list_topics, methods=["GET"]),
        Route("/topics/{topic}", topic, methods=["GET", "POST"]),
        Route("/topics/{topic}/partitions", list_partitions, methods=["GET"]),
        Route("/topics/{topic}/partitions/{partition:int}", partition, methods=["GET", "POST"]),
    ]
