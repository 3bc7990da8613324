"""Hostile input against both route families of the gateway process: each case gets a 4xx with the route's
error body, nothing is stored, and the gateway logs no traceback.

A new route family adds its cases to ``CASES``.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.contract import MAX_RECORDS_PER_REQUEST
from tests.support.readers import stream_records

PREFIX = "124a514b9149"
TOPIC_PATH = f"/topics/{PREFIX}.pin"
STREAM = f"streaming-{PREFIX}-hostile-{uuid.uuid4().hex[:6]}"
KAFKA = {"Content-Type": "application/vnd.kafka.json.v2+json"}
JSON = {"Content-Type": "application/json"}
DEEP = b"[" * 100_000 + b"]" * 100_000


def kafka_body(value: bytes) -> bytes:
    return b'{"records": [{"value": ' + value + b"}]}"


def record_body(data: bytes) -> bytes:
    return b'{"Data": ' + data + b', "PartitionKey": "k"}'


def records_body(data: bytes) -> bytes:
    return b'{"records": [{"data": ' + data + b', "partition-key": "k"}]}'


def many(count: int) -> bytes:
    return b'{"records": [' + b",".join([b'{"value": {"ind": 1}}'] * count) + b"]}"


#: name → (method, path, headers, body, status, error-body key that must be present)
CASES: dict[str, tuple[str, str, dict[str, str], bytes, int, str]] = {
    "kafka: value nested 100,000 deep": ("POST", TOPIC_PATH, KAFKA, kafka_body(DEEP), 400, "error_code"),
    "kafka: body nested 100,000 deep": ("POST", TOPIC_PATH, KAFKA, DEEP, 400, "error_code"),
    "kafka: lone surrogate": ("POST", TOPIC_PATH, KAFKA, kafka_body(b'{"t": "\\ud800"}'), 422, "error_code"),
    "kafka: NaN": ("POST", TOPIC_PATH, KAFKA, kafka_body(b'{"x": NaN}'), 400, "error_code"),
    "kafka: Infinity": ("POST", TOPIC_PATH, KAFKA, kafka_body(b'{"x": -Infinity}'), 400, "error_code"),
    "kafka: not UTF-8": ("POST", TOPIC_PATH, KAFKA, kafka_body(b'{"t": "\xff\xfe"}'), 400, "error_code"),
    "kafka: too many records": ("POST", TOPIC_PATH, KAFKA, many(MAX_RECORDS_PER_REQUEST + 1), 422, "error_code"),
    "kafka partition: too many records": ("POST", f"{TOPIC_PATH}/partitions/0", KAFKA,
                                          many(MAX_RECORDS_PER_REQUEST + 1), 422, "error_code"),
    "kinesis record: Data nested 100,000 deep": ("PUT", f"/streams/{STREAM}/record", JSON, record_body(DEEP), 400,
                                                 "message"),
    "kinesis record: lone surrogate": ("PUT", f"/streams/{STREAM}/record", JSON, record_body(b'"\\udc00"'), 400,
                                       "message"),
    "kinesis record: NaN": ("PUT", f"/streams/{STREAM}/record", JSON, record_body(b"NaN"), 400, "message"),
    "kinesis record: Infinity": ("PUT", f"/streams/{STREAM}/record", JSON, record_body(b'{"x": Infinity}'), 400,
                                 "message"),
    "kinesis record: not UTF-8": ("PUT", f"/streams/{STREAM}/record", JSON, record_body(b'"\xff"'), 400, "message"),
    "kinesis records: data nested 100,000 deep": ("PUT", f"/streams/{STREAM}/records", JSON, records_body(DEEP),
                                                  400, "message"),
    "kinesis records: lone surrogate": ("PUT", f"/streams/{STREAM}/records", JSON, records_body(b'"\\ud800"'), 400,
                                        "message"),
    "kinesis records: too many records": ("PUT", f"/streams/{STREAM}/records", JSON,
                                          b'{"records": [' + b",".join([b'{"data": 1, "partition-key": "k"}'] *
                                                                       (MAX_RECORDS_PER_REQUEST + 1)) + b"]}",
                                          400, "message"),
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, kinesis: Any) -> Iterator[GatewayProcess]:
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=STREAM)
    with GatewayProcess(tmp_path_factory.mktemp("lake"), extra_args=["--kinesis-endpoint", moto_endpoint]) as process:
        yield process


def stored(gateway: GatewayProcess, kinesis: Any) -> tuple[int, int]:
    """Lake objects and Kinesis records written so far."""
    objects = len(list(Path(gateway.lake_root, "topics").glob("*/partition=*/*.json")))
    return objects, len(stream_records(kinesis, STREAM))


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_is_refused_cleanly(gateway: GatewayProcess, kinesis: Any, case: str) -> None:
    method, path, headers, body, status, key = CASES[case]
    before = stored(gateway, kinesis)
    answer = requests.request(method, gateway.url + path, headers=headers, data=body, timeout=30)
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].endswith("json") and key in answer.json()
    assert stored(gateway, kinesis) == before
    assert "Traceback" not in gateway.log_path.read_text()


def test_the_limit_itself_is_accepted(gateway: GatewayProcess, kinesis: Any) -> None:
    objects, records = stored(gateway, kinesis)
    answer = requests.post(gateway.url + TOPIC_PATH, headers=KAFKA, data=many(MAX_RECORDS_PER_REQUEST), timeout=60)
    assert answer.status_code == 200 and len(answer.json()["offsets"]) == MAX_RECORDS_PER_REQUEST
    assert stored(gateway, kinesis) == (objects + MAX_RECORDS_PER_REQUEST, records)
