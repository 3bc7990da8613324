"""The stack's Kinesis mapping templates, rendered (airspeed, with API Gateway's ``$input`` / ``$util``) for the
emulators' real request bodies, give exactly the Kinesis requests the local gateway sends."""
from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from pinterest_pipeline.emulator.cli import main as emulator_main
from pinterest_pipeline.gateway.kinesis_routes import (
    create_stream_request,
    list_streams_request,
    put_record_request,
    put_records_request,
)
from tests.support.cfn_template import load_template, methods_by_route
from tests.support.scripted_http_server import ScriptedServer
from tests.support.vtl import render

STREAM = "streaming-124a514b9149-pin"


@pytest.fixture(scope="module")
def templates() -> dict[tuple[str, str], str]:
    """The ``application/json`` template of every Kinesis route."""
    return {route: method["Integration"]["RequestTemplates"]["application/json"]
            for route, method in methods_by_route(load_template()).items() if method["Integration"]["Type"] == "AWS"}


def kinesis_wire(arguments: dict[str, Any]) -> dict[str, Any]:
    """The gateway's boto3 arguments as Kinesis's JSON body: ``Data`` bytes in Base64."""

    def wire(value: Any) -> Any:
        if isinstance(value, bytes):
            return base64.b64encode(value).decode("ascii")
        if isinstance(value, dict):
            return {k: wire(v) for k, v in value.items()}
        if isinstance(value, list):
            return [wire(v) for v in value]
        return value

    return wire(arguments)


def rendered(template: str, body: Any, stream: str = STREAM) -> Any:
    return json.loads(render(template, body, {"stream-name": stream}))


def kinesis_answer(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """What Kinesis behind API Gateway answers a successful PutRecord / PutRecords."""
    if request["path"].endswith("/records"):
        entries = [{"ShardId": "shardId-000000000000", "SequenceNumber": str(i)}
                   for i, _ in enumerate(request["body"]["records"])]
        return 200, {"FailedRecordCount": 0, "Records": entries}
    return 200, {"ShardId": "shardId-000000000000", "SequenceNumber": "1"}


@pytest.fixture(scope="module")
def emulator_requests(source_url: str) -> list[dict[str, Any]]:
    """The streaming emulator's requests for 3 rows one by one (PutRecord) and 3 rows in batches (PutRecords)."""
    requests: list[dict[str, Any]] = []
    for batch_size in ("1", "3"):
        with ScriptedServer(kinesis_answer) as server:
            status = emulator_main("kinesis", ["--invoke-url", server.url, "--db-url", source_url, "--count", "3",
                                               "--rate", "0", "--batch-size", batch_size, "--no-progress"])
        assert status == 0
        requests += server.requests
    return requests


def test_the_emulators_bodies_render_to_the_gateways_kinesis_requests(
        templates: dict[tuple[str, str], str], emulator_requests: list[dict[str, Any]]) -> None:
    routes = {r["path"].rsplit("/", 1)[-1] for r in emulator_requests}
    assert routes == {"record", "records"}  # both templates were exercised
    for request in emulator_requests:
        _, _, stream, route = request["path"].split("/")
        body = request["body"]
        if route == "record":
            expected = put_record_request(stream, body)
            template = templates[("/streams/{stream-name}/record", "PUT")]
        else:
            expected = put_records_request(stream, body)
            template = templates[("/streams/{stream-name}/records", "PUT")]
        assert rendered(template, body, stream) == kinesis_wire(expected), request["path"]


@pytest.mark.parametrize("body", [
    {"StreamName": [1], "Data": {"index": 7, "title": "Zoë's café", "follower_count": "5k"},
     "PartitionKey": "partition_1"},
    {"StreamName": "ignored", "Data": "a string keeps its quotes", "PartitionKey": 42},
    {"Data": [1, 2.5, None, True], "PartitionKey": "k"},
], ids=["original-client", "string-data-numeric-key", "array-data"])
def test_put_record_renders_like_the_gateway(templates: dict[tuple[str, str], str], body: dict[str, Any]) -> None:
    template = templates[("/streams/{stream-name}/record", "PUT")]
    assert rendered(template, body) == kinesis_wire(put_record_request(STREAM, body))


def test_put_records_stores_strings_as_text_and_any_other_json_as_its_json_text(
        templates: dict[tuple[str, str], str]) -> None:
    body = {"records": [
        {"data": {"ind": 1, "country": "Côte d'Ivoire", "coordinates": [-5.3, 7.1]}, "partition-key": "partition_1"},
        {"data": "plain text, \"quoted\"", "partition-key": "p2"},
        {"data": 12.5, "partition-key": 3},
        {"data": [{"nested": {"deep": True}}], "partition-key": "p4"},
    ]}
    result = rendered(templates[("/streams/{stream-name}/records", "PUT")], body)
    assert result == kinesis_wire(put_records_request(STREAM, body))
    assert base64.b64decode(result["Records"][1]["Data"]).decode() == 'plain text, "quoted"'


def test_the_tutorials_put_records_template_would_not_store_json(templates: dict[tuple[str, str], str]) -> None:
    """The AWS tutorial's ``$util.base64Encode($elem.data)`` stores an object as a map's text, not JSON: what the
    stack's template avoids (and what this comparison would catch)."""
    tutorial = ('{"StreamName": "$input.params(\'stream-name\')", "Records": [#foreach($elem in '
                '$input.path(\'$.records\')){"Data": "$util.base64Encode($elem.data)", "PartitionKey": '
                '"$elem.get(\'partition-key\')"}#if($foreach.hasNext),#end#end]}')
    body = {"records": [{"data": {"ind": 1}, "partition-key": "p"}]}
    assert rendered(tutorial, body) != kinesis_wire(put_records_request(STREAM, body))
    assert rendered(templates[("/streams/{stream-name}/records", "PUT")], body) == kinesis_wire(
        put_records_request(STREAM, body))


@pytest.mark.parametrize("body", [None, {}, {"ShardCount": 3}, {"ShardCount": "2"}],
                         ids=["no-body", "empty", "3", "text-2"])
def test_create_stream_renders_like_the_gateway(templates: dict[tuple[str, str], str], body: Any) -> None:
    result = rendered(templates[("/streams/{stream-name}", "POST")], body)
    assert result == create_stream_request(STREAM, body or {})


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_describe_and_delete_stream_name_the_path_stream(templates: dict[tuple[str, str], str], method: str) -> None:
    assert rendered(templates[("/streams/{stream-name}", method)], {"StreamName": "other"}) == {"StreamName": STREAM}


def test_list_streams_sends_an_empty_request(templates: dict[tuple[str, str], str]) -> None:
    assert rendered(templates[("/streams", "GET")], None) == list_streams_request({})
