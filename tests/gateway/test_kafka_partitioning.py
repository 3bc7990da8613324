"""Where the Kafka-backed gateway puts records on a topic of several partitions: by key exactly where Kafka's
own Java producer puts them (the REST proxy's default partitioner), keyless ones spread over every partition;
and two gateways producing to the same topics at once lose and repeat nothing (they are stateless)."""
from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.kafka.broker import LocalKafka, ensure_jars, java_binary
from tests.support import REPO_ROOT
from tests.support.children import Children
from tests.support.kafka_broker import new_topics, read_topic, unique_name
from tests.support.source_sample import drawn_indices

PARTITIONS = 3
PRODUCE_TYPE = {"Content-Type": "application/vnd.kafka.json.v2+json"}
JAVA_PRODUCER = Path(__file__).resolve().parents[1] / "support" / "KeyedProducer.java"
#: Keys of every JSON kind, non-ASCII among them: the proxy serialises a key as compact JSON (UTF-8).
KEYS: list[Any] = ([f"user-{i}" for i in range(40)] + list(range(-5, 15)) + ["é☃ \"quoted\"", 3.5, True,
                                                                            {"ind": 7, "tags": ["a", "b"]}, [1, 2]])


@pytest.fixture(scope="module")
def gateway(kafka_broker: LocalKafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with GatewayProcess(tmp_path_factory.mktemp("unused-lake"),
                        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers}) as process:
        yield process


def produce(gateway: GatewayProcess, topic: str, records: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """POST ``records`` to ``topic``; ``(partition, offset)`` answered for each."""
    answer = requests.post(f"{gateway.url}/topics/{topic}", data=json.dumps({"records": records}),
                           headers=PRODUCE_TYPE, timeout=60)
    assert answer.status_code == 200, answer.text
    return [(o["partition"], o["offset"]) for o in answer.json()["offsets"]]


def java_partitions(broker: LocalKafka, topic: str, key_lines: list[str]) -> list[int]:
    """The partition Kafka's Java producer (default partitioner) puts a record with each key in."""
    done = subprocess.run([java_binary(), "-Dlog4j2.level=ERROR", "-cp", f"{ensure_jars()}/*", str(JAVA_PRODUCER),
                           broker.bootstrap_servers, topic], input="".join(f"{k}\n" for k in key_lines),
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return [int(line.removeprefix("partition=")) for line in done.stdout.splitlines()
            if line.startswith("partition=")]


def test_keyed_records_land_where_the_java_producer_puts_them(kafka_broker: LocalKafka,
                                                              gateway: GatewayProcess) -> None:
    ours, java = new_topics(kafka_broker, [unique_name("keyed."), unique_name("keyed-java.")], PARTITIONS)
    answered: list[tuple[int, int]] = []
    for start in range(0, len(KEYS), 16):
        answered += produce(gateway, ours, [{"key": k, "value": {"n": start + i}}
                                            for i, k in enumerate(KEYS[start:start + 16])])
    key_lines = [json.dumps(key, separators=(",", ":"), ensure_ascii=False) for key in KEYS]
    assert [partition for partition, _ in answered] == java_partitions(kafka_broker, java, key_lines)
    assert set(partition for partition, _ in answered) == set(range(PARTITIONS))
    stored = read_topic(kafka_broker.bootstrap_servers, ours)
    assert {where: json.loads(value)["n"] for where, value in stored.items()} == {
        where: n for n, where in enumerate(answered)}
    again = produce(gateway, ours, [{"key": k, "value": {"n": -1}} for k in KEYS[:16]])
    assert [p for p, _ in again] == [p for p, _ in answered[:16]]  # a key always lands in the same partition


def test_a_named_partition_wins_over_the_key(kafka_broker: LocalKafka, gateway: GatewayProcess) -> None:
    (topic,) = new_topics(kafka_broker, [unique_name("named.")], PARTITIONS)
    keyed = produce(gateway, topic, [{"key": "user-1", "value": {"n": 0}}])
    elsewhere = (keyed[0][0] + 1) % PARTITIONS
    assert produce(gateway, topic, [{"key": "user-1", "value": {"n": 1}, "partition": elsewhere}])[0][0] == elsewhere
    on_route = requests.post(f"{gateway.url}/topics/{topic}/partitions/{elsewhere}", headers=PRODUCE_TYPE,
                             data=json.dumps({"records": [{"key": "user-1", "value": {"n": 2}}]}), timeout=60)
    assert on_route.json()["offsets"][0]["partition"] == elsewhere


def test_keyless_records_spread_over_every_partition(kafka_broker: LocalKafka, gateway: GatewayProcess) -> None:
    (topic,) = new_topics(kafka_broker, [unique_name("keyless.")], PARTITIONS)
    answered = [where for request in range(30)
                for where in produce(gateway, topic, [{"value": {"n": request * 10 + i}} for i in range(10)])]
    per_partition = Counter(partition for partition, _ in answered)
    assert set(per_partition) == set(range(PARTITIONS)), per_partition
    stored = read_topic(kafka_broker.bootstrap_servers, topic)
    assert sorted(json.loads(value)["n"] for value in stored.values()) == list(range(300))
    assert set(stored) == set(answered)


#: Rows each of the two emulator runs sends (10 per request).
EMULATED_ROWS = 150


def test_two_gateways_fed_at_once_lose_and_repeat_nothing(kafka_broker: LocalKafka, gateway: GatewayProcess,
                                                          source_url: str, tmp_path: Path,
                                                          children: Children) -> None:
    prefix = unique_name("pair")
    topics = new_topics(kafka_broker, [topic_name(prefix, kind) for kind in KINDS], PARTITIONS)
    with GatewayProcess(tmp_path / "unused-lake",
                        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers}) as second:
        runs = [children.start([sys.executable, str(REPO_ROOT / "user_posting_emulation.py"), "--invoke-url", url,
                                "--prefix", prefix, "--db-url", source_url, "--count", str(EMULATED_ROWS),
                                "--rate", "0", "--batch-size", "10", "--seed", str(seed), "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for url, seed in ((gateway.url, 1), (second.url, 2))]
        for run in runs:
            _, errors = run.communicate(timeout=300)
            assert run.returncode == 0, errors
    expected = drawn_indices(EMULATED_ROWS, seed=1) + drawn_indices(EMULATED_ROWS, seed=2)
    for kind, topic in zip(KINDS, topics):
        values = [json.loads(value) for value in read_topic(kafka_broker.bootstrap_servers, topic).values()]
        assert Counter(value["index" if kind == "pin" else "ind"] for value in values) == expected, topic
