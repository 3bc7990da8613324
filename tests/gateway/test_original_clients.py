"""Compatibility suite: requests exactly as clients of the original AWS setup sent them, through the gateway process.

Each request is built the way the original's emulators (``requests.request`` with ``json.dumps(...,
default=str)``), the AiCore API Gateway lesson and AWS's "REST API as a Kinesis proxy" tutorial build them,
and each expects the answer the original's API Gateway gave: 200 and the REST proxy's / Kinesis's body. Then
the records are read back where the original's path put them (lake objects, Kinesis records).
"""
from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import sqlalchemy

from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.kinesis import shard_ids
from tests.support.readers import stream_records

PREFIX = "124a514b9149"
TABLES = {"pin": "pinterest_data", "geo": "geolocation_data", "user": "user_data"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[GatewayProcess]:
    lake = tmp_path_factory.mktemp("lake")
    with GatewayProcess(lake, extra_args=["--kinesis-endpoint", moto_endpoint]) as process:
        yield process


@pytest.fixture(scope="module")
def original_rows(source_url: str) -> dict[str, dict[str, Any]]:
    """One random row per table, fetched as the original emulator fetched it (``LIMIT n, 1``, ``_mapping``)."""
    engine = sqlalchemy.create_engine(source_url)
    random_row = random.Random(7).randint(0, 399)
    with engine.connect() as connection:
        rows = {kind: dict(connection.execute(sqlalchemy.text(f"SELECT * FROM {table} LIMIT {random_row}, 1"))
                           .fetchone()._mapping) for kind, table in TABLES.items()}
    engine.dispose()
    return rows


def as_the_original_serialised(row: dict[str, Any]) -> dict[str, Any]:
    """The row as it travelled: ``json.dumps(..., default=str)`` turned datetimes into their ``str``."""
    return json.loads(json.dumps(row, default=str))


@pytest.fixture(scope="module")
def streams(gateway: GatewayProcess) -> dict[str, str]:
    """The three streams, created through the gateway as the AWS tutorial does (``POST /streams/{name}``)."""
    names = {kind: f"streaming-{PREFIX}-{kind}-{uuid.uuid4().hex[:6]}" for kind in TABLES}
    for name in names.values():
        answer = requests.request("POST", f"{gateway.url}/streams/{name}", headers={"Content-Type": "application/json"},
                                  data=json.dumps({"ShardCount": 1}))
        assert (answer.status_code, answer.json()) == (200, {})
    return names


@pytest.mark.parametrize("kind", list(TABLES))
def test_the_original_batch_emulator_request(gateway: GatewayProcess, original_rows: dict[str, Any],
                                             kind: str) -> None:
    topic = f"{PREFIX}.{kind}"
    payload = json.dumps({"records": [{"value": original_rows[kind]}]}, default=str)
    headers = {"Content-Type": "application/vnd.kafka.json.v2+json"}
    response = requests.request("POST", f"{gateway.url}/topics/{topic}", headers=headers, data=payload)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.kafka.v2+json"
    answer = response.json()
    assert answer["key_schema_id"] is None and answer["value_schema_id"] is None
    [offset] = answer["offsets"]
    assert offset["error_code"] is None and offset["error"] is None
    stored = Path(gateway.lake_root) / "topics" / topic / f"partition={offset['partition']}" / \
        f"{topic}+{offset['partition']}+{offset['offset']:010d}.json"
    assert json.loads(stored.read_text()) == as_the_original_serialised(original_rows[kind])


def test_topics_through_the_proxy_route(gateway: GatewayProcess) -> None:
    listed = requests.get(f"{gateway.url}/topics")
    assert listed.status_code == 200 and {f"{PREFIX}.{kind}" for kind in TABLES} <= set(listed.json())
    described = requests.get(f"{gateway.url}/topics/{PREFIX}.pin")
    assert described.status_code == 200 and described.json()["name"] == f"{PREFIX}.pin"


@pytest.mark.parametrize("stream_name_field", [[1], "YourStreamName", None])
@pytest.mark.parametrize("kind", list(TABLES))
def test_the_original_streaming_emulator_request(gateway: GatewayProcess, kinesis: Any, streams: dict[str, str],
                                                 original_rows: dict[str, Any], kind: str,
                                                 stream_name_field: Any) -> None:
    stream = streams[kind]
    before = len(stream_records(kinesis, stream))
    body = {"StreamName": stream_name_field, "Data": original_rows[kind], "PartitionKey": "partition_1"}
    if stream_name_field is None:
        del body["StreamName"]
    response = requests.request("PUT", f"{gateway.url}/streams/{stream}/record",
                                headers={"Content-Type": "application/json"}, data=json.dumps(body, default=str))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) >= {"ShardId", "SequenceNumber"}
    records = stream_records(kinesis, stream)
    assert len(records) == before + 1
    assert records[-1]["SequenceNumber"] == answer["SequenceNumber"]
    assert json.loads(records[-1]["Data"]) == as_the_original_serialised(original_rows[kind])
    assert records[-1]["PartitionKey"] == "partition_1"


def test_the_aws_tutorial_put_records_request(gateway: GatewayProcess, kinesis: Any, streams: dict[str, str]) -> None:
    stream = streams["geo"]
    before = len(stream_records(kinesis, stream))
    body = {"records": [{"data": "some data", "partition-key": "some key"},
                        {"data": "some other data", "partition-key": "some key"}]}
    response = requests.request("PUT", f"{gateway.url}/streams/{stream}/records",
                                headers={"Content-Type": "application/json"}, data=json.dumps(body))
    assert response.status_code == 200
    answer = response.json()
    assert answer["FailedRecordCount"] == 0 and len(answer["Records"]) == 2
    assert [r["Data"] for r in stream_records(kinesis, stream)[before:]] == [b"some data", b"some other data"]


def test_the_aws_tutorial_stream_management_requests(gateway: GatewayProcess, kinesis: Any) -> None:
    name = f"streaming-{PREFIX}-tutorial-{uuid.uuid4().hex[:6]}"
    created = requests.request("POST", f"{gateway.url}/streams/{name}", headers={"Content-Type": "application/json"})
    assert (created.status_code, created.json()) == (200, {})
    assert len(shard_ids(kinesis, name)) == 5  # the template's ShardCount when the body names none
    listed = requests.get(f"{gateway.url}/streams", headers={"Content-Type": "application/json"})
    assert listed.status_code == 200 and name in listed.json()["StreamNames"]
    described = requests.get(f"{gateway.url}/streams/{name}").json()["StreamDescription"]
    assert described["StreamName"] == name and described["StreamStatus"] == "ACTIVE"
    deleted = requests.request("DELETE", f"{gateway.url}/streams/{name}")
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert name not in kinesis.list_streams(Limit=1000)["StreamNames"]
