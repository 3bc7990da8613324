"""The API Gateway's Kinesis proxy routes (``/streams...``) in front of a boto3 Kinesis client.

Requests are read the way the original's API Gateway mapping templates read them (docs/data-contract.md
§2.4 compares every route with the original):

- ``PUT /streams/{name}/record``: the stream is the one in the path, the body's ``StreamName`` is ignored
  (whatever its type); ``Data`` is stored as its JSON text, whatever its type (``$input.json('$.Data')``: a
  string keeps its quotes); ``PartitionKey`` as given (numbers and booleans as their text, ``$input.path``).
- ``PUT /streams/{name}/records``: ``{"records": [{"data", "partition-key"}]}``; a string ``data`` is stored
  as its UTF-8 bytes, any other JSON as its JSON text.
- ``POST /streams/{name}``: CreateStream with ``ShardCount`` from the body, 5 when absent, as the template.

Answers are Kinesis's own response bodies (``ShardId``/``SequenceNumber``; ``FailedRecordCount`` and
``Records`` for PutRecords). Errors:

- a body the route cannot use → 400 ``{"message": ...}`` (413 when larger than the body limit, 408 when
  its client pauses too long) and
  nothing is sent to Kinesis;
- a Kinesis error → Kinesis's own status (400 for ``ResourceNotFoundException``,
  ``InvalidArgumentException``, ``ResourceInUseException``...; 5xx for its internal failures) with its
  body ``{"__type": <code>, "message": ...}``. The original's API Gateway, with only a default integration
  response, answered these with 200 and the same body; clients must read the body either way (the
  emulators do). ``ProvisionedThroughputExceededException`` (a 400 in Kinesis) answers 429, API Gateway's
  throttling status, so HTTP clients back off and retry instead of giving up;
- Kinesis unreachable (connection error, timeout) → 502 ``{"message": ...}``, as API Gateway answers
  for a failed integration;
- a method the resource does not define → 403 ``{"message": "Missing Authentication Token"}``, as API
  Gateway answers.

``GET /streams`` also takes the optional query parameters ``Limit`` and ``ExclusiveStartStreamName`` to page
through ListStreams (the original's template ignored the query).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import lru_cache, wraps
from typing import Any, Awaitable, Callable, Mapping

from botocore.exceptions import BotoCoreError, ClientError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pinterest_pipeline.contract import MAX_RECORDS_PER_REQUEST, decode_json, encode_json
from pinterest_pipeline.gateway.metrics import UNKNOWN_TARGET, GatewayMetrics
from pinterest_pipeline.gateway.request_body import BodyLimits, BodyTooLarge, BodyTooSlow, read_body

#: Shards of a stream created without ``{"ShardCount": n}`` (the original's CreateStream template).
DEFAULT_SHARD_COUNT = 5
#: Kinesis errors answered with another status than Kinesis's own (see the module docstring).
STATUS_OVERRIDES = {"ProvisionedThroughputExceededException": 429}
#: Every method API Gateway routes (its ``ANY``).
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class BadRequest(Exception):
    """A request the route cannot turn into a Kinesis call (answered with ``status``, 400 by default)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def json_bytes(value: Any, field: str) -> bytes:
    """``value``'s compact JSON text, or :class:`BadRequest` naming ``field`` (lone surrogate, too deep)."""
    try:
        return encode_json(value)
    except ValueError as error:
        raise BadRequest(f"{field} cannot be stored: {error}") from None


def record_bytes(data: Any, field: str = "data") -> bytes:
    """The bytes PutRecords stores for a ``data`` value: UTF-8 of a string, JSON text of anything else."""
    if isinstance(data, str):
        try:
            return data.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(f"{field} cannot be stored: it holds a lone surrogate (not valid UTF-8)") from None
    return json_bytes(data, field)


def _wire_value(value: Any) -> Any:
    """boto3's parsed answer back to Kinesis's JSON: datetimes as epoch seconds, no metadata."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _wire_value(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_wire_value(v) for v in value]
    return value


async def _json_body(request: Request, limits: BodyLimits, *, required: bool = True) -> dict[str, Any]:
    try:
        raw = await read_body(request, limits)
    except BodyTooLarge as error:
        raise BadRequest(str(error), status=413) from None
    except BodyTooSlow as error:
        raise BadRequest(str(error), status=408) from None
    if not raw.strip():
        if required:
            raise BadRequest("request body is empty; a JSON object is required")
        return {}
    try:
        body = decode_json(raw)
    except ValueError as error:
        raise BadRequest(f"request body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def _partition_key(value: Any, field: str) -> str:
    """The key as the template renders it: a string as given, a number or boolean as its JSON text."""
    if isinstance(value, (bool, int, float)):
        value = json_bytes(value, field).decode("utf-8")
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{field} must be a non-empty string (or a number)")
    return value


def put_record_request(stream: str, body: dict[str, Any]) -> dict[str, Any]:
    """PutRecord arguments from ``{"Data", "PartitionKey"}``; the stream comes from the path, never the body."""
    if "Data" not in body:
        raise BadRequest("Data is required (any JSON value; it is stored as its JSON text)")
    return {"StreamName": stream, "Data": json_bytes(body["Data"], "Data"),
            "PartitionKey": _partition_key(body.get("PartitionKey"), "PartitionKey")}


def put_records_request(stream: str, body: dict[str, Any]) -> dict[str, Any]:
    """PutRecords arguments from ``{"records": [{"data", "partition-key"}]}``."""
    records = body.get("records")
    if not isinstance(records, list) or not records:
        raise BadRequest("records must be a non-empty list of {\"data\", \"partition-key\"} objects")
    if len(records) > MAX_RECORDS_PER_REQUEST:
        raise BadRequest(f"records holds {len(records)} records; at most {MAX_RECORDS_PER_REQUEST} per request")
    entries = []
    for position, record in enumerate(records):
        if not isinstance(record, dict):
            raise BadRequest(f"records[{position}] must be a JSON object")
        if record.get("data") is None:
            raise BadRequest(f"records[{position}].data is required (a string or any JSON value)")
        entries.append({"Data": record_bytes(record["data"], f"records[{position}].data"),
                        "PartitionKey": _partition_key(record.get("partition-key"),
                                                       f"records[{position}].partition-key")})
    return {"StreamName": stream, "Records": entries}


def list_streams_request(query: Mapping[str, str]) -> dict[str, Any]:
    """ListStreams arguments from the optional query parameters ``Limit`` and ``ExclusiveStartStreamName``."""
    arguments: dict[str, Any] = {}
    if "Limit" in query:
        if not query["Limit"].isdigit() or int(query["Limit"]) < 1:
            raise BadRequest("Limit must be a positive integer")
        arguments["Limit"] = int(query["Limit"])
    if query.get("ExclusiveStartStreamName"):
        arguments["ExclusiveStartStreamName"] = query["ExclusiveStartStreamName"]
    return arguments


def create_stream_request(stream: str, body: dict[str, Any]) -> dict[str, Any]:
    """CreateStream arguments; ``ShardCount`` (a number, or digits) defaults to :data:`DEFAULT_SHARD_COUNT`."""
    shards = body.get("ShardCount", DEFAULT_SHARD_COUNT)
    if isinstance(shards, str) and shards.strip().isdigit():
        shards = int(shards)
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise BadRequest("ShardCount must be a positive integer")
    return {"StreamName": stream, "ShardCount": shards}


def kinesis_error_response(error: ClientError) -> JSONResponse:
    """Kinesis's status and ``{"__type", "message"}`` body (see :data:`STATUS_OVERRIDES`)."""
    details = error.response.get("Error", {})
    code = details.get("Code", "InternalFailure")
    status = STATUS_OVERRIDES.get(code) or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500
    return JSONResponse({"__type": code, "message": details.get("Message", "")}, status_code=status)


Endpoint = Callable[[Request], Awaitable[Response]]


def rejecting_bad_requests(endpoint: Endpoint) -> Endpoint:
    """Wrap an endpoint so that :class:`BadRequest` answers its status with ``{"message": ...}``."""

    @wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BadRequest as error:
            return JSONResponse({"message": str(error)}, status_code=error.status)

    return wrapped


def missing_authentication_token() -> JSONResponse:
    """API Gateway's answer to a method the resource does not define."""
    return JSONResponse({"message": "Missing Authentication Token"}, status_code=403,
                        headers={"x-amzn-ErrorType": "MissingAuthenticationTokenException"})


def api_gateway_resource(path: str, methods: Mapping[str, Endpoint]) -> Route:
    """One API Gateway resource: ``methods`` by HTTP method, 403 for any other (never Starlette's 405)."""

    async def dispatch(request: Request) -> Response:
        endpoint = methods.get(request.method)
        return missing_authentication_token() if endpoint is None else await endpoint(request)

    return Route(path, dispatch, methods=list(HTTP_METHODS))


def kinesis_routes(client_factory: Callable[[], Any], limits: BodyLimits = BodyLimits(),
                   metrics: GatewayMetrics | None = None) -> list[Route]:
    """The ``/streams`` routes; ``client_factory`` builds the boto3 Kinesis client on first use; records put
    are counted in ``metrics``."""
    client = lru_cache(maxsize=1)(client_factory)
    metrics = metrics if metrics is not None else GatewayMetrics()

    async def invoke(operation: str, **arguments: Any) -> tuple[Any, Response, str]:
        """Kinesis's answer (None on error), the HTTP answer, and the error code ("" on success)."""
        try:
            answer = await run_in_threadpool(lambda: getattr(client(), operation)(**arguments))
        except ClientError as error:
            return None, kinesis_error_response(error), error.response.get("Error", {}).get("Code", "InternalFailure")
        except BotoCoreError as error:
            metrics.backend_failed("kinesis", error)
            return None, JSONResponse({"message": f"Kinesis request failed: {error}"}, status_code=502), "502"
        return answer, JSONResponse(_wire_value(answer)), ""

    async def call(operation: str, **arguments: Any) -> Response:
        return (await invoke(operation, **arguments))[1]

    async def put(operation: str, arguments: dict[str, Any], count: int) -> Response:
        """PutRecord / PutRecords, counting accepted records and rejected ones by error code."""
        stream = arguments["StreamName"]
        answer, response, code = await invoke(operation, **arguments)
        if answer is None:
            metrics.rejected(UNKNOWN_TARGET if code == "ResourceNotFoundException" else stream, count, code)
            return response
        failed = Counter(entry["ErrorCode"] for entry in answer.get("Records", []) if entry.get("ErrorCode"))
        metrics.accepted(stream, count - sum(failed.values()))
        for error_code, records in failed.items():
            metrics.rejected(stream, records, error_code)
        return response

    @rejecting_bad_requests
    async def list_streams(request: Request) -> Response:
        return await call("list_streams", **list_streams_request(request.query_params))

    @rejecting_bad_requests
    async def create_stream(request: Request) -> Response:
        body = await _json_body(request, limits, required=False)
        return await call("create_stream", **create_stream_request(request.path_params["stream_name"], body))

    async def describe_stream(request: Request) -> Response:
        return await call("describe_stream", StreamName=request.path_params["stream_name"])

    async def delete_stream(request: Request) -> Response:
        return await call("delete_stream", StreamName=request.path_params["stream_name"])

    @rejecting_bad_requests
    async def put_record(request: Request) -> Response:
        body = await _json_body(request, limits)
        return await put("put_record", put_record_request(request.path_params["stream_name"], body), 1)

    @rejecting_bad_requests
    async def put_records(request: Request) -> Response:
        body = await _json_body(request, limits)
        arguments = put_records_request(request.path_params["stream_name"], body)
        return await put("put_records", arguments, len(arguments["Records"]))

    return [
        api_gateway_resource("/streams", {"GET": list_streams}),
        api_gateway_resource("/streams/{stream_name}",
                             {"GET": describe_stream, "POST": create_stream, "DELETE": delete_stream}),
        api_gateway_resource("/streams/{stream_name}/record", {"PUT": put_record}),
        api_gateway_resource("/streams/{stream_name}/records", {"PUT": put_records}),
    ]
