"""Error answers with the bodies of the Confluent REST proxy: ``{"error_code": <int>, "message": "..."}``.

Codes follow kafka-rest's ``Errors`` and rest-utils' exception mappers: 40401 unknown topic, 40402 unknown
partition; body that is not JSON, or JSON of the wrong shape → 400 (error_code 400); a well-formed request
breaking a constraint (no records, negative partition) → 422 (error_code 422); status-only errors (404 route,
405, 413, 415) → error_code = the status with Jersey's message ``HTTP 415 Unsupported Media Type``; the
backend failing → 500 with 50002 (the proxy's catch-all for Kafka failures).
"""
from __future__ import annotations

from http import HTTPStatus
from typing import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

#: Content type of every v2 answer.
KAFKA_V2_JSON = "application/vnd.kafka.v2+json"

TOPIC_NOT_FOUND = 40401
PARTITION_NOT_FOUND = 40402
KAFKA_ERROR = 50002


class RestError(Exception):
    """An error answer: HTTP status, Confluent error code, message."""

    def __init__(self, status: int, error_code: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message
        self.headers = dict(headers or {})

    @classmethod
    def http(cls, status: int, headers: Mapping[str, str] | None = None) -> "RestError":
        """A status-only error, worded as Jersey words it (``HTTP 404 Not Found``)."""
        return cls(status, status, f"HTTP {status} {HTTPStatus(status).phrase}", headers)


def topic_not_found() -> RestError:
    return RestError(404, TOPIC_NOT_FOUND, "Topic not found.")


def partition_not_found() -> RestError:
    return RestError(404, PARTITION_NOT_FOUND, "Partition not found.")


def error_response(error: RestError) -> Response:
    """The JSON answer of ``error``."""
    body = {"error_code": error.error_code, "message": error.message}
    return JSONResponse(body, error.status, headers=error.headers, media_type=KAFKA_V2_JSON)


async def rest_error_handler(request: Request, error: Exception) -> Response:
    """Starlette exception handler for :class:`RestError`."""
    assert isinstance(error, RestError)
    return error_response(error)
