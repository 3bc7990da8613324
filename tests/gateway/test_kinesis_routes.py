"""The gateway's Kinesis routes against a real Kinesis API (moto server): every route, bodies, errors."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from starlette.applications import Starlette
from starlette.testclient import TestClient

from pinterest_pipeline.demo.processes import GatewayProcess, reserved_port
from pinterest_pipeline.gateway.kinesis_routes import kinesis_error_response, kinesis_routes
from pinterest_pipeline.gateway.request_body import BodyLimits
from pinterest_pipeline.kinesis import ensure_streams, kinesis_client
from tests.support.readers import stream_records

ROW = {"index": 7528, "unique_id": "fbe53c66", "title": "No Title Data Available", "follower_count": "5k",
       "timestamp": "2018-06-26 02:39:25", "latitude": -5.9, "downloaded": 1}


@pytest.fixture(scope="module")
def api(moto_endpoint: str) -> Iterator[TestClient]:
    app = Starlette(routes=kinesis_routes(lambda: kinesis_client(moto_endpoint)))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def stream(api: TestClient) -> str:
    name = f"streaming-test-{uuid.uuid4().hex[:8]}"
    assert api.post(f"/streams/{name}").status_code == 200
    return name


def stream_names(api: TestClient) -> list[str]:
    """Every stream, following ListStreams' pages."""
    names: list[str] = []
    while True:
        query = {"ExclusiveStartStreamName": names[-1]} if names else {}
        page = api.get("/streams", params=query).json()
        names += page["StreamNames"]
        if not page["HasMoreStreams"]:
            return names


def test_create_describe_list_delete(api: TestClient) -> None:
    name = f"streaming-test-{uuid.uuid4().hex[:8]}"
    created = api.post(f"/streams/{name}", json={"ShardCount": 3})
    assert created.status_code == 200 and created.json() == {}
    description = api.get(f"/streams/{name}").json()["StreamDescription"]
    assert description["StreamName"] == name and description["StreamStatus"] == "ACTIVE"
    assert len(description["Shards"]) == 3
    assert isinstance(description["StreamCreationTimestamp"], float)  # epoch seconds, as Kinesis's JSON
    assert name in stream_names(api)
    assert api.delete(f"/streams/{name}").status_code == 200
    assert name not in stream_names(api)
    missing = api.get(f"/streams/{name}")
    assert missing.status_code == 400 and missing.json()["__type"] == "ResourceNotFoundException"


def test_create_without_body_makes_five_shards_and_twice_is_an_error(api: TestClient, stream: str) -> None:
    # The original's CreateStream template: ShardCount from the body, 5 when absent.
    assert len(api.get(f"/streams/{stream}").json()["StreamDescription"]["Shards"]) == 5
    again = api.post(f"/streams/{stream}")
    assert again.status_code == 400 and again.json()["__type"] == "ResourceInUseException"


def test_put_record_stores_the_json_of_data(api: TestClient, kinesis: Any, stream: str) -> None:
    answer = api.put(f"/streams/{stream}/record",
                     json={"StreamName": stream, "Data": ROW, "PartitionKey": "partition_1"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["ShardId"].startswith("shardId-") and body["SequenceNumber"]
    [record] = stream_records(kinesis, stream)
    assert json.loads(record["Data"]) == ROW
    assert record["PartitionKey"] == "partition_1" and record["SequenceNumber"] == body["SequenceNumber"]


@pytest.mark.parametrize("data", ['{"already": "serialised"}', 42, None, [1, "a"], True])
def test_put_record_stores_any_data_as_its_json_text(api: TestClient, kinesis: Any, stream: str, data: Any) -> None:
    # $util.base64Encode($input.json('$.Data')): a string keeps its quotes, null is stored as null.
    assert api.put(f"/streams/{stream}/record", json={"Data": data, "PartitionKey": "k"}).status_code == 200
    assert [r["Data"] for r in stream_records(kinesis, stream)] == [json.dumps(data, separators=(",", ":")).encode()]


@pytest.mark.parametrize("named", [[1], "another-stream", 5, None, {"a": 1}])
def test_put_record_takes_the_stream_from_the_path_whatever_the_body_names(
        api: TestClient, kinesis: Any, stream: str, named: Any) -> None:
    body = {"StreamName": named, "Data": ROW, "PartitionKey": "partition_1"}
    assert api.put(f"/streams/{stream}/record", json=body).status_code == 200
    assert [json.loads(r["Data"]) for r in stream_records(kinesis, stream)] == [ROW]


@pytest.mark.parametrize("key,stored", [("partition_1", "partition_1"), (7, "7"), (1.5, "1.5"), (True, "true")])
def test_partition_key_is_read_as_the_template_renders_it(api: TestClient, kinesis: Any, stream: str,
                                                           key: Any, stored: str) -> None:
    assert api.put(f"/streams/{stream}/record", json={"Data": ROW, "PartitionKey": key}).status_code == 200
    assert api.put(f"/streams/{stream}/records",
                   json={"records": [{"data": ROW, "partition-key": key}]}).status_code == 200
    assert [r["PartitionKey"] for r in stream_records(kinesis, stream)] == [stored, stored]


def test_put_records_keeps_string_data_as_is(api: TestClient, kinesis: Any, stream: str) -> None:
    text = '{"already": "serialised"}'
    answer = api.put(f"/streams/{stream}/records", json={"records": [{"data": text, "partition-key": "k"}]})
    assert answer.status_code == 200
    assert [r["Data"] for r in stream_records(kinesis, stream)] == [text.encode()]


@pytest.mark.parametrize("method,path", [("POST", "/streams"), ("DELETE", "/streams"), ("PUT", "/streams/{s}"),
                                         ("GET", "/streams/{s}/record"), ("POST", "/streams/{s}/records")])
def test_a_method_the_resource_lacks_answers_as_api_gateway(api: TestClient, kinesis: Any, stream: str,
                                                            method: str, path: str) -> None:
    answer = api.request(method, path.format(s=stream), json={"Data": ROW, "PartitionKey": "k"})
    assert answer.status_code == 403 and answer.json() == {"message": "Missing Authentication Token"}
    assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert stream_records(kinesis, stream) == []


def test_put_records_answers_per_record_in_order(api: TestClient, kinesis: Any, stream: str) -> None:
    rows = [{**ROW, "index": i} for i in range(5)]
    answer = api.put(f"/streams/{stream}/records",
                     json={"records": [{"data": row, "partition-key": "partition_1"} for row in rows]})
    assert answer.status_code == 200
    body = answer.json()
    assert body["FailedRecordCount"] == 0 and len(body["Records"]) == 5
    stored = stream_records(kinesis, stream)
    assert [json.loads(r["Data"]) for r in stored] == rows
    assert [r["SequenceNumber"] for r in stored] == [r["SequenceNumber"] for r in body["Records"]]


@pytest.mark.parametrize("path,body,message", [
    ("record", b"{not json", "not valid JSON"),
    ("record", b"[1, 2]", "must be a JSON object"),
    ("record", b"", "empty"),
    ("record", {"PartitionKey": "k"}, "Data is required"),
    ("record", {"Data": ROW}, "PartitionKey must be a non-empty string"),
    ("record", {"Data": ROW, "PartitionKey": ""}, "PartitionKey must be a non-empty string"),
    ("record", {"Data": ROW, "PartitionKey": {"a": 1}}, "PartitionKey must be a non-empty string"),
    ("records", {"records": [{"partition-key": "k"}]}, "records[0].data is required"),
    ("records", {"records": []}, "non-empty list"),
    ("records", {"Records": [{"data": ROW, "partition-key": "k"}]}, "non-empty list"),
    ("records", {"records": [{"data": ROW, "partition-key": "k"}, "oops"]}, "records[1] must be a JSON object"),
    ("records", {"records": [{"data": ROW, "partition-key": "k"}, {"data": ROW}]}, "records[1].partition-key"),
])
def test_malformed_body_is_rejected_and_nothing_is_put(api: TestClient, kinesis: Any, stream: str, path: str,
                                                       body: Any, message: str) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = api.put(f"/streams/{stream}/{path}", content=content, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert message in answer.json()["message"]
    assert stream_records(kinesis, stream) == []


def test_oversized_body_is_refused_before_kinesis(moto_endpoint: str, kinesis: Any, stream: str) -> None:
    app = Starlette(routes=kinesis_routes(lambda: kinesis_client(moto_endpoint), limits=BodyLimits(max_bytes=1000)))
    with TestClient(app) as small:
        answer = small.put(f"/streams/{stream}/record", json={"Data": "x" * 2000, "PartitionKey": "k"})
        assert answer.status_code == 413 and "larger than 1000 bytes" in answer.json()["message"]
        assert small.put(f"/streams/{stream}/record", json={"Data": "x", "PartitionKey": "k"}).status_code == 200
    assert [r["Data"] for r in stream_records(kinesis, stream)] == [b'"x"']


def test_invalid_shard_count_is_rejected(api: TestClient) -> None:
    name = f"streaming-test-{uuid.uuid4().hex[:8]}"
    answer = api.post(f"/streams/{name}", json={"ShardCount": "two"})
    assert answer.status_code == 400 and "ShardCount" in answer.json()["message"]
    assert name not in stream_names(api)
    assert api.post(f"/streams/{name}", json={"ShardCount": "2"}).status_code == 200  # the template's output: 2
    assert len(api.get(f"/streams/{name}").json()["StreamDescription"]["Shards"]) == 2


def test_list_streams_pages(api: TestClient, stream: str) -> None:
    api.post(f"/streams/{stream}-2")
    first = api.get("/streams", params={"Limit": 1}).json()
    assert len(first["StreamNames"]) == 1 and first["HasMoreStreams"] is True
    after = api.get("/streams", params={"ExclusiveStartStreamName": first["StreamNames"][0]}).json()
    assert first["StreamNames"][0] not in after["StreamNames"]
    assert api.get("/streams", params={"Limit": "many"}).status_code == 400


def test_put_to_a_missing_stream_is_kinesis_not_found(api: TestClient) -> None:
    answer = api.put("/streams/no-such-stream/record", json={"Data": ROW, "PartitionKey": "k"})
    assert answer.status_code == 400
    assert answer.json()["__type"] == "ResourceNotFoundException" and "no-such-stream" in answer.json()["message"]


def test_kinesis_validation_errors_pass_through(api: TestClient, kinesis: Any, stream: str) -> None:
    too_long_key = {"Data": ROW, "PartitionKey": "k" * 257}  # Kinesis allows 256 characters
    answer = api.put(f"/streams/{stream}/record", json=too_long_key)
    assert answer.status_code == 400 and answer.json()["__type"] == "InvalidArgumentException"
    assert stream_records(kinesis, stream) == []


def test_unreachable_kinesis_is_a_bad_gateway() -> None:
    with reserved_port() as held:  # bound, never listening: connections are refused while the test runs
        dead = f"http://127.0.0.1:{held.getsockname()[1]}"
        factory = lambda: boto3.client("kinesis", region_name="us-east-1", endpoint_url=dead,  # noqa: E731
                                       aws_access_key_id="x", aws_secret_access_key="x",
                                       config=Config(retries={"total_max_attempts": 1}))
        with TestClient(Starlette(routes=kinesis_routes(factory))) as client:
            answer = client.get("/streams")
    assert answer.status_code == 502 and "Kinesis request failed" in answer.json()["message"]


def test_throughput_exceeded_answers_429_for_clients_to_retry() -> None:
    error = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"},
                         "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutRecord")
    response = kinesis_error_response(error)
    assert response.status_code == 429
    assert json.loads(response.body) == {"__type": "ProvisionedThroughputExceededException",
                                         "message": "Rate exceeded"}


def test_ensure_streams_creates_the_three_streams_once(kinesis: Any) -> None:
    prefix = uuid.uuid4().hex[:12]
    names = ensure_streams(kinesis, prefix)
    assert names == [f"streaming-{prefix}-{kind}" for kind in ("pin", "geo", "user")]
    assert ensure_streams(kinesis, prefix) == names  # existing streams are fine
    listed = kinesis.list_streams(Limit=1000)["StreamNames"]
    assert set(names) <= set(listed)


def test_routes_through_the_gateway_process(tmp_path: Path, moto_endpoint: str, kinesis: Any) -> None:
    name = f"streaming-test-{uuid.uuid4().hex[:8]}"
    with GatewayProcess(tmp_path / "lake", extra_args=["--kinesis-endpoint", moto_endpoint]) as gateway:
        created = requests.post(f"{gateway.url}/streams/{name}", json={"ShardCount": 1}, timeout=10)
        assert created.status_code == 200, created.text
        put = requests.put(f"{gateway.url}/streams/{name}/record", timeout=10,
                           json={"StreamName": name, "Data": ROW, "PartitionKey": "partition_1"})
        assert put.status_code == 200 and put.json()["ShardId"] == "shardId-000000000000"
    assert [json.loads(r["Data"]) for r in stream_records(kinesis, name)] == [ROW]
