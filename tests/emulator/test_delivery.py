"""Retries, backoff and failure accounting of the emulators' transports, against a real local HTTP server."""
from __future__ import annotations

import socket

import pytest

from pinterest_pipeline.emulator.delivery import RetryPolicy, pooled_session
from pinterest_pipeline.emulator.transports import KafkaRestTransport, KinesisTransport
from tests.support.scripted_http_server import ScriptedServer

FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002)
ROWS = [{"ind": 1, "timestamp": "2018-06-26 02:39:25"}, {"ind": 2, "timestamp": "2019-01-01 00:00:00"}]


def kafka_answer(*error_codes: int | None) -> tuple[int, dict]:
    """A REST proxy produce answer: one offsets entry per record, with the given per-record error codes."""
    offsets = [{"partition": 0, "offset": i if code is None else None, "error_code": code,
                "error": None if code is None else "broker said no"} for i, code in enumerate(error_codes)]
    return 200, {"offsets": offsets, "key_schema_id": None, "value_schema_id": None}


OK_KAFKA = kafka_answer(None, None)


def kafka_transport(url: str, policy: RetryPolicy = FAST, api_key: str | None = None) -> KafkaRestTransport:
    return KafkaRestTransport(pooled_session(api_key), url, "124a514b9149", policy)


def test_kafka_rest_request_shape() -> None:
    with ScriptedServer([OK_KAFKA]) as server:
        transport = kafka_transport(server.url, api_key="secret-key")
        transport.send("geo", ROWS)
    (request,) = server.requests
    assert request["method"] == "POST"
    assert request["path"] == "/topics/124a514b9149.geo"
    assert request["headers"]["Content-Type"] == "application/vnd.kafka.json.v2+json"
    assert request["headers"]["x-api-key"] == "secret-key"
    assert request["body"] == {"records": [{"value": row} for row in ROWS]}
    assert (transport.stats.sent, transport.stats.retried, transport.stats.failed) == (2, 0, 0)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_retryable_status_is_retried_until_accepted(status: int) -> None:
    with ScriptedServer([(status, {"error_code": status, "message": "busy"})] * 2 + [OK_KAFKA]) as server:
        transport = kafka_transport(server.url)
        transport.send("pin", ROWS)
    assert len(server.requests) == 3
    assert (transport.stats.sent, transport.stats.retried, transport.stats.failed) == (2, 2, 0)


def test_client_error_is_final_and_counted() -> None:
    with ScriptedServer([(404, {"error_code": 40401, "message": "Topic not found."})]) as server:
        transport = kafka_transport(server.url)
        transport.send("pin", ROWS)
    assert len(server.requests) == 1
    assert (transport.stats.sent, transport.stats.failed) == (0, 2)
    assert transport.stats.errors == {"404": 2}


def test_retries_exhausted_counts_failure() -> None:
    with ScriptedServer([(503, {"message": "down"})]) as server:
        transport = kafka_transport(server.url)
        transport.send("user", ROWS)
    assert len(server.requests) == FAST.max_attempts
    assert transport.stats.failed == 2 and transport.stats.retried == FAST.max_attempts - 1


def test_connection_refused_is_retried_then_failed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = kafka_transport(f"http://127.0.0.1:{port}")
    transport.send("pin", ROWS)
    assert transport.stats.errors == {"connection-error": 2}
    assert transport.stats.retried == FAST.max_attempts - 1


def test_backoff_grows_exponentially_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=3.0)
    assert [policy.delay(a) for a in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_kinesis_put_record_shape() -> None:
    answer = (200, {"ShardId": "shardId-000000000000", "SequenceNumber": "1"})
    with ScriptedServer([answer]) as server:
        transport = KinesisTransport(pooled_session(), server.url, "124a514b9149", FAST)
        transport.send("pin", ROWS[:1])
    (request,) = server.requests
    assert request["method"] == "PUT"
    assert request["path"] == "/streams/streaming-124a514b9149-pin/record"
    assert request["body"] == {"StreamName": "streaming-124a514b9149-pin", "Data": ROWS[0],
                               "PartitionKey": "partition_1"}
    assert transport.stats.sent == 1


def test_kinesis_put_records_retries_only_failed_entries() -> None:
    def answer(request: dict) -> tuple[int, dict]:
        records = request["body"]["records"]
        first_try = len(records) == 2
        results = [{"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"}
                   if first_try and record["data"]["ind"] == 2 else {"ShardId": "s", "SequenceNumber": "9"}
                   for record in records]
        return 200, {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}

    with ScriptedServer(answer) as server:
        transport = KinesisTransport(pooled_session(), server.url, "124a514b9149", FAST)
        transport.send("geo", ROWS)
    assert [len(r["body"]["records"]) for r in server.requests] == [2, 1]
    assert server.requests[1]["body"]["records"][0]["data"]["ind"] == 2
    assert server.requests[0]["path"] == "/streams/streaming-124a514b9149-geo/records"
    assert (transport.stats.sent, transport.stats.retried, transport.stats.failed) == (2, 1, 0)


def test_kafka_per_record_errors_are_resent_when_retriable_and_counted_otherwise() -> None:
    rows = [*ROWS, {"ind": 3, "timestamp": "2020-01-01 00:00:00"}]
    with ScriptedServer([kafka_answer(None, 2, 1), kafka_answer(None)]) as server:
        transport = kafka_transport(server.url)
        transport.send("pin", rows)
    assert [r["body"]["records"] for r in server.requests] == [[{"value": row} for row in rows],
                                                                [{"value": rows[1]}]]
    assert (transport.stats.sent, transport.stats.retried, transport.stats.failed) == (2, 1, 1)
    assert transport.stats.errors == {"kafka-error-1": 1}


def test_kafka_answer_without_an_offset_per_record_is_a_failure_not_a_success() -> None:
    with ScriptedServer([kafka_answer(None)]) as server:
        transport = kafka_transport(server.url)
        transport.send("pin", ROWS)
    assert len(server.requests) == 1
    assert (transport.stats.sent, transport.stats.failed) == (0, 2)
    assert transport.stats.errors == {"unreadable-answer": 2}


def test_success_status_with_a_body_that_is_not_json_is_not_resent() -> None:
    with ScriptedServer([(200, b"<html>ok</html>")]) as server:
        transport = KinesisTransport(pooled_session(), server.url, "124a514b9149", FAST)
        transport.send("pin", ROWS[:1])
    assert len(server.requests) == 1
    assert transport.stats.errors == {"unreadable-answer": 1} and transport.stats.sent == 0


def test_kinesis_error_answered_with_200_is_final_when_not_retriable() -> None:
    # The original's API Gateway answered Kinesis errors with 200 and Kinesis's body.
    error = (200, {"__type": "ResourceNotFoundException", "message": "Stream streaming-x-pin not found"})
    with ScriptedServer([error]) as server:
        transport = KinesisTransport(pooled_session(), server.url, "124a514b9149", FAST)
        transport.send("pin", ROWS[:1])
    assert len(server.requests) == 1
    assert (transport.stats.sent, transport.stats.failed) == (0, 1)
    assert transport.stats.errors == {"ResourceNotFoundException": 1}


@pytest.mark.parametrize("path_rows", [1, 2])
def test_kinesis_throttling_answered_with_200_is_retried(path_rows: int) -> None:
    throttled = (200, {"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded"})
    accepted = (200, {"ShardId": "s", "SequenceNumber": "1"} if path_rows == 1 else
                {"FailedRecordCount": 0, "Records": [{"ShardId": "s", "SequenceNumber": str(i)} for i in range(2)]})
    with ScriptedServer([throttled, accepted]) as server:
        transport = KinesisTransport(pooled_session(), server.url, "124a514b9149", FAST)
        transport.send("geo", ROWS[:path_rows])
    assert len(server.requests) == 2
    assert (transport.stats.sent, transport.stats.retried, transport.stats.failed) == (path_rows, 1, 0)
