"""A private Apache Kafka broker for the test session (the same code as ``scripts/kafka-local``), and sink runs.

Free ports, a temporary state folder, the three topics of the default prefix with two partitions each. When
the broker's jars cannot be fetched (no Maven, Maven Central unreachable) the tests that need it are skipped
with a loud message, or fail when ``PINTEREST_REQUIRE_KAFKA=1`` (CI can insist).

``tests/conftest.py`` registers this module as a plugin: the ``kafka_broker`` fixture is one broker (one JVM)
shared by every module of the session and stopped at the end; :func:`private_broker` gives a test its own.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from pinterest_pipeline.contract import DEFAULT_PREFIX, KINDS, topic_name
from pinterest_pipeline.demo.processes import free_port
from pinterest_pipeline.kafka.broker import BrokerFailed, JarsUnavailable, LocalKafka, ensure_jars, ensure_topics
from pinterest_pipeline.kafka.client_config import client_config
from pinterest_pipeline.kafka.sink import LakeSink, SinkOptions, SinkStats

#: Partitions of each test topic: more than one, so that per-partition paths are exercised.
TEST_PARTITIONS = 2
TOPICS = tuple(topic_name(DEFAULT_PREFIX, kind) for kind in KINDS)

#: Fresh ports tried when another program takes a free port before the broker binds it.
PORT_ATTEMPTS = 3


def start_private_broker(state_dir: Path) -> LocalKafka:
    """Fetch the jars (once per machine), start a broker on free ports in ``state_dir``, create the topics.

    Free ports are picked before the JVM binds them: when another program took one in between, the broker is
    started again on fresh ports. A broker that started is stopped again when anything after its start fails.
    """
    try:
        started = time.monotonic()
        ensure_jars()
        fetched = time.monotonic()
    except JarsUnavailable as error:
        message = f"KAFKA BROKER UNAVAILABLE, Kafka tests skipped: {error}"
        print(f"\n*** {message}", file=sys.stderr)
        if os.environ.get("PINTEREST_REQUIRE_KAFKA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    attempt = 1
    while True:
        broker = LocalKafka(state_dir / f"attempt-{attempt}", port=free_port(), controller_port=free_port())
        try:
            broker.start()
            ensure_topics(broker.bootstrap_servers, TOPICS, partitions=TEST_PARTITIONS)
        except BrokerFailed as failure:
            broker.stop()
            if "already in use" in str(failure) and attempt < PORT_ATTEMPTS:
                attempt += 1
                continue
            raise
        except BaseException:
            broker.stop()
            raise
        print(f"\nkafka broker {broker.bootstrap_servers}: jars {fetched - started:.1f} s, "
              f"start + topics {time.monotonic() - fetched:.1f} s", file=sys.stderr)
        return broker


@contextmanager
def private_broker() -> Iterator[LocalKafka]:
    """A broker of one's own in a temporary folder, stopped and deleted however the block ends."""
    state_dir = Path(tempfile.mkdtemp(prefix="kafka-broker-"))
    try:
        broker = start_private_broker(state_dir)
        try:
            yield broker
        finally:
            broker.stop()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[LocalKafka]:
    """The session's broker, shared by every module: no test may stop it (one that needs an outage takes a
    :func:`private_broker`)."""
    with private_broker() as broker:
        yield broker


def new_topics(broker: LocalKafka, names: list[str], partitions: int = TEST_PARTITIONS) -> list[str]:
    """Create ``names`` on the session broker (tests use their own topics so they never see each other's)."""
    ensure_topics(broker.bootstrap_servers, names, partitions=partitions)
    return names


def unique_name(stem: str) -> str:
    """``stem`` plus a random suffix: a topic prefix of its own for one test."""
    return f"{stem}{uuid.uuid4().hex[:8]}"


def read_topic(bootstrap_servers: str, topic: str, timeout: float = 30.0) -> dict[tuple[int, int], bytes | None]:
    """Every record of ``topic`` as ``{(partition, offset): value}``, read from the beginning to the end."""
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": unique_name("reader-"),
                         "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        partitions = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records: dict[tuple[int, int], bytes | None] = {}
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout
        while at_end != set(partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read to its end in {timeout} s")
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(message.error())
                at_end.add(message.partition())
                continue
            records[(message.partition(), message.offset())] = message.value()
        return records
    finally:
        consumer.close()


def run_sink(broker: LocalKafka, lake: Path | str, topics: list[str], group: str, **options: Any) -> SinkStats:
    """One sink run over ``topics`` into ``lake`` until every partition is read to its end."""
    sink_options = SinkOptions(lake_root=str(lake), topics=tuple(topics), group_id=group, until_caught_up=True,
                               **options)
    return LakeSink(sink_options, client_config(broker.bootstrap_servers)).run()
