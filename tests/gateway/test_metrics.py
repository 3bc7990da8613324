"""``GET /metrics`` of the gateway process: counters move by exactly the records accepted and rejected."""
from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from pinterest_pipeline.demo.processes import GatewayProcess

PIN = "124a514b9149.pin"
KAFKA = {"Content-Type": "application/vnd.kafka.json.v2+json"}
KEY = {"x-api-key": "metrics-test-key"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[GatewayProcess]:
    with GatewayProcess(tmp_path_factory.mktemp("lake"), env={"PINTEREST_API_KEY": KEY["x-api-key"]},
                        extra_args=["--kinesis-endpoint", moto_endpoint]) as process:
        yield process


def samples(gateway: GatewayProcess) -> dict[tuple[str, frozenset], float]:
    """Every sample of ``/metrics`` (fetched without the API key), by name and labels."""
    answer = requests.get(f"{gateway.url}/metrics", timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def records(value: Any, count: int) -> dict:
    return {"records": [{"value": value} for _ in range(count)]}


def test_kafka_records_requests_and_journal_writes_are_counted(gateway: GatewayProcess) -> None:
    before = samples(gateway)
    assert requests.post(f"{gateway.url}/topics/{PIN}", json=records({"ind": 1}, 3), headers={**KAFKA, **KEY}).ok
    unknown = requests.post(f"{gateway.url}/topics/nope.{uuid.uuid4().hex}", json=records({"ind": 2}, 2),
                            headers={**KAFKA, **KEY})
    too_many = requests.post(f"{gateway.url}/topics/{PIN}", json=records({"ind": 3}, 501), headers={**KAFKA, **KEY})
    assert (unknown.status_code, too_many.status_code) == (404, 422)
    after = samples(gateway)
    assert delta(before, after, "pinterest_gateway_records_total", target=PIN, outcome="accepted", reason="") == 3
    assert delta(before, after, "pinterest_gateway_records_total", target="(unknown)", outcome="rejected",
                 reason="40401") == 2
    timed = "pinterest_gateway_request_duration_seconds_count"
    assert delta(before, after, timed, route="/topics/{topic}", method="POST", status="200") == 1
    assert delta(before, after, timed, route="/topics/{topic}", method="POST", status="404") == 1
    assert delta(before, after, timed, route="/topics/{topic}", method="POST", status="422") == 1
    assert delta(before, after, "pinterest_gateway_journal_write_records_sum") == 3
    assert delta(before, after, "pinterest_gateway_journal_write_seconds_count") == 1
    assert not [key for key in after if "nope." in str(key)], "a made-up topic became a label value"


def test_kinesis_records_are_counted_by_stream_and_error(gateway: GatewayProcess, kinesis: Any) -> None:
    stream = f"streaming-metrics-{uuid.uuid4().hex[:6]}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream)
    before = samples(gateway)
    put = requests.put(f"{gateway.url}/streams/{stream}/record", json={"Data": {"ind": 1}, "PartitionKey": "k"},
                       headers=KEY)
    batch = requests.put(f"{gateway.url}/streams/{stream}/records", headers=KEY,
                         json={"records": [{"data": {"ind": i}, "partition-key": "k"} for i in range(4)]})
    missing = requests.put(f"{gateway.url}/streams/no-such-{uuid.uuid4().hex}/record", headers=KEY,
                           json={"Data": {"ind": 1}, "PartitionKey": "k"})
    assert (put.status_code, batch.status_code, missing.status_code) == (200, 200, 400)
    after = samples(gateway)
    assert delta(before, after, "pinterest_gateway_records_total", target=stream, outcome="accepted", reason="") == 5
    assert delta(before, after, "pinterest_gateway_records_total", target="(unknown)", outcome="rejected",
                 reason="ResourceNotFoundException") == 1
    assert delta(before, after, "pinterest_gateway_request_duration_seconds_count", route="/streams/{stream_name}/record",
                 method="PUT", status="200") == 1


def test_metrics_need_no_api_key_but_the_routes_do(gateway: GatewayProcess) -> None:
    refused = requests.post(f"{gateway.url}/topics/{PIN}", json=records({"ind": 1}, 1), headers=KAFKA)
    assert refused.status_code == 403
    assert requests.get(f"{gateway.url}/metrics", timeout=10).status_code == 200
