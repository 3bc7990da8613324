"""The gateway producing to a real Kafka broker: offsets answered = offsets stored, errors as the REST proxy."""
from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest
import requests
from confluent_kafka.admin import AdminClient

from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.gateway.kafka_backend import KafkaBackend, KafkaUnavailable, UnknownTopic
from pinterest_pipeline.kafka.broker import LocalKafka
from pinterest_pipeline.kafka.client_config import client_config, redacted
from tests.support import REPO_ROOT
from tests.support.children import Children
from tests.support.kafka_broker import new_topics, private_broker, read_topic, unique_name
from tests.support.source_sample import drawn_indices

REPO = REPO_ROOT
PRODUCE_TYPE = {"Content-Type": "application/vnd.kafka.json.v2+json"}


def test_client_options_from_file_environment_and_flag(tmp_path: Path) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text("# MSK\nsecurity.protocol=SSL\nclient.id = from-file\nbootstrap.servers=file:9092\n")
    environ = {"KAFKA_CONFIG_FILE": str(properties), "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
               "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "KAFKA_SASL_PASSWORD": "s3cret",
               "KAFKA_HEAP_OPTS": "-Xmx1g", "KAFKA_LOCAL_STATE_DIR": "x", "KAFKA_BOOTSTRAP_SERVERS": "env:9092"}
    assert client_config("flag:9092", environ) == {
        "security.protocol": "SASL_SSL", "client.id": "from-file", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.password": "s3cret", "bootstrap.servers": "flag:9092"}
    assert client_config(None, environ)["bootstrap.servers"] == "env:9092"
    with pytest.raises(ValueError, match="bootstrap"):
        client_config(None, {})


def test_secrets_stay_out_of_logs_and_reprs(caplog: pytest.LogCaptureFixture) -> None:
    environ = {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM": "PLAIN",
               "KAFKA_SASL_USERNAME": "pipeline", "KAFKA_SASL_PASSWORD": "hunter2-secret"}
    with caplog.at_level(logging.DEBUG):
        backend = KafkaBackend(client_config("127.0.0.1:1", environ))
        backend.close()
    assert "sasl.username" in caplog.text and "hunter2-secret" not in caplog.text + repr(backend)
    assert redacted({"ssl.key.password": "p", "sasl.jaas.config": "j", "acks": "all"}) == {
        "ssl.key.password": "***", "sasl.jaas.config": "***", "acks": "all"}


@pytest.fixture(scope="module")
def kafka_gateway(kafka_broker: LocalKafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """The gateway as a process with ``KAFKA_BOOTSTRAP_SERVERS`` set (its lake root must stay untouched)."""
    lake = tmp_path_factory.mktemp("unused-lake")
    with GatewayProcess(lake, env={"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers}) as gateway:
        yield gateway
    assert not any(lake.iterdir()), "the Kafka-backed gateway wrote the lake"


def post(url: str, topic: str, records: list[dict]) -> requests.Response:
    return requests.post(f"{url}/topics/{topic}", data=json.dumps({"records": records}), headers=PRODUCE_TYPE,
                         timeout=30)


def test_answered_offsets_are_where_the_broker_stored_each_record(kafka_broker: LocalKafka,
                                                                  kafka_gateway: GatewayProcess) -> None:
    (topic,) = new_topics(kafka_broker, [unique_name("offsets.")])
    batches = [[{"value": {"index": i, "title": f"pin {i} é"}} for i in range(start, start + size)]
               for start, size in ((0, 7), (7, 1), (8, 12))]
    batches.append([{"value": {"index": 100}, "partition": 1}, {"value": {"index": 101}, "partition": 0}])
    answered: dict[tuple[int, int], dict] = {}
    for records in batches:
        answer = post(kafka_gateway.url, topic, records)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["key_schema_id"] is None and len(body["offsets"]) == len(records)
        for record, offset in zip(records, body["offsets"]):
            assert offset["error_code"] is None
            answered[(offset["partition"], offset["offset"])] = record["value"]
    stored = {where: json.loads(value) for where, value in read_topic(kafka_broker.bootstrap_servers, topic).items()}
    assert stored == answered
    assert answered[(1, max(o for p, o in answered if p == 1))] == {"index": 100}  # explicit partitions honoured
    assert answered[(0, max(o for p, o in answered if p == 0))] == {"index": 101}


def test_topics_of_the_cluster_and_unknown_topic(kafka_broker: LocalKafka, kafka_gateway: GatewayProcess) -> None:
    (topic,) = new_topics(kafka_broker, [unique_name("listed.")])
    listed = requests.get(f"{kafka_gateway.url}/topics", timeout=10)
    assert listed.status_code == 200 and topic in listed.json()
    assert not any(name.startswith("__") for name in listed.json())
    described = requests.get(f"{kafka_gateway.url}/topics/{topic}", timeout=10).json()
    assert [p["partition"] for p in described["partitions"]] == [0, 1]
    missing = post(kafka_gateway.url, "no.such.topic", [{"value": {"a": 1}}])
    assert (missing.status_code, missing.json()) == (404, {"error_code": 40401, "message": "Topic not found."})


def test_backend_errors(kafka_broker: LocalKafka) -> None:
    backend = KafkaBackend(client_config(kafka_broker.bootstrap_servers))
    try:
        with pytest.raises(UnknownTopic):
            backend.produce("no.such.topic", [{"a": 1}])
        with pytest.raises(ValueError):
            backend.produce(topic_name("124a514b9149", "pin"), [{"a": float("nan")}])
    finally:
        backend.close()
    nobody = KafkaBackend(client_config("127.0.0.1:1", environ={"KAFKA_MESSAGE_TIMEOUT_MS": "1500"}))
    try:
        with pytest.raises(KafkaUnavailable, match="no metadata from 127.0.0.1:1"):
            nobody.topics()  # an answer (an error), not an endless wait for a broker that never comes
    finally:
        nobody.close()


def delete_topic(broker: LocalKafka, topic: str) -> None:
    """Delete ``topic`` and wait until the cluster no longer lists it."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    for future in admin.delete_topics([topic], operation_timeout=30).values():
        future.result()
    deadline = time.monotonic() + 30
    while topic in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, f"{topic} still listed after its deletion"
        time.sleep(0.1)


def test_a_topic_deleted_after_it_was_listed_is_an_unknown_topic(kafka_broker: LocalKafka) -> None:
    (topic,) = new_topics(kafka_broker, [unique_name("vanishing.")])
    backend = KafkaBackend(client_config(kafka_broker.bootstrap_servers, environ={"KAFKA_MESSAGE_TIMEOUT_MS": "2000"}))
    try:
        assert backend.partition_count(topic) == 2 and len(backend.produce(topic, [{"a": 1}])) == 1
        delete_topic(kafka_broker, topic)  # the backend still knows its partitions
        with pytest.raises(UnknownTopic):  # the proxy's 404 40401, not a 500 for a broker failure
            backend.produce(topic, [{"a": 2}])
    finally:
        backend.close()


def wait_for_failed_produces(gateway: GatewayProcess, at_least: int, timeout: float = 120) -> None:
    """Until the gateway has logged ``at_least`` failed produce calls: a state, whatever the machine's speed."""
    deadline = time.monotonic() + timeout
    while len(re.findall(r"producing \d+ records to \S+ failed", gateway.log_text())) < at_least:
        assert time.monotonic() < deadline, f"fewer than {at_least} failed produce calls:\n{gateway.log_text()}"
        time.sleep(0.05)


@pytest.fixture
def own_broker() -> Iterator[LocalKafka]:
    """A broker of this test's own, which it may stop and start: the session's broker stays up for the others."""
    with private_broker() as broker:
        yield broker


def test_broker_outage_gives_5xx_and_the_emulator_delivers_everything_after_restart(
    own_broker: LocalKafka, source_url: str, tmp_path: Path, children: Children
) -> None:
    prefix = unique_name("outage")
    topics = new_topics(own_broker, [topic_name(prefix, kind) for kind in KINDS], partitions=1)
    env = {"KAFKA_BOOTSTRAP_SERVERS": own_broker.bootstrap_servers, "KAFKA_MESSAGE_TIMEOUT_MS": "2000"}
    count, batch_size = 30, 5
    with GatewayProcess(tmp_path / "lake", env=env) as gateway:
        assert set(topics) <= set(requests.get(f"{gateway.url}/topics", timeout=10).json())
        own_broker.stop()
        try:
            down = post(gateway.url, topics[0], [{"value": {"probe": True}}])  # answered within its timeout
            assert down.status_code == 500 and down.json()["error_code"] == 50002
            emulator = children.start(
                [sys.executable, str(REPO / "user_posting_emulation.py"), "--invoke-url", gateway.url,
                 "--prefix", prefix, "--db-url", source_url, "--count", str(count), "--rate", "0",
                 "--batch-size", str(batch_size), "--seed", "7", "--max-attempts", "20", "--no-progress"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_for_failed_produces(gateway, at_least=2)  # the probe's, then one of the emulator's requests
            assert emulator.poll() is None  # it met the outage and is backing off
        finally:
            own_broker.start()
        out, err = emulator.communicate(timeout=180)
    assert emulator.returncode == 0, err
    assert "retried=0" not in out
    expected = drawn_indices(count, seed=7)
    for kind, topic in zip(KINDS, topics):
        values = [json.loads(v) for v in read_topic(own_broker.bootstrap_servers, topic).values()]
        key = "index" if kind == "pin" else "ind"
        delivered = Counter(v[key] for v in values if "probe" not in v)
        assert delivered >= expected and set(delivered) == set(expected)  # at least once, nothing lost
