"""Helpers of the Kafka → lake sink tests: records into topics, the sink as a process, what the lake holds."""
from __future__ import annotations

import json
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.gateway.kafka_backend import KafkaBackend
from pinterest_pipeline.kafka.broker import LocalKafka
from pinterest_pipeline.kafka.client_config import client_config
from pinterest_pipeline.lake.layout import lake_line, parse_object_name
from tests.support.kafka_broker import new_topics, read_topic, unique_name


def make_topics(broker: LocalKafka, partitions: int = 2) -> tuple[str, list[str]]:
    """A fresh prefix and its three topics of ``partitions`` partitions each."""
    prefix = unique_name("sink")
    return prefix, new_topics(broker, [topic_name(prefix, kind) for kind in KINDS], partitions)


def produce_rows(broker: LocalKafka, topics: list[str], rows: range, partitions: int = 2) -> None:
    """``rows`` as records of every topic, spread over the partitions in turn (through the gateway backend)."""
    backend = KafkaBackend(client_config(broker.bootstrap_servers))
    try:
        for topic in topics:
            values = [{"ind": i, "topic": topic, "text": f"row {i} ✓"} for i in rows]
            backend.produce(topic, values, [i % partitions for i in rows])
    finally:
        backend.close()


def sink_command(broker: LocalKafka, prefix: str, lake: Path, group: str, *flags: str,
                 log_level: str = "warning") -> list[str]:
    """``python -m pinterest_pipeline.kafka sink`` over the topics of ``prefix`` into ``lake``."""
    return [sys.executable, "-m", "pinterest_pipeline.kafka", "sink", "--bootstrap-servers", broker.bootstrap_servers,
            "--prefix", prefix, "--lake-root", str(lake), "--group-id", group, "--log-level", log_level, *flags]


def lake_files(lake: Path) -> dict[str, bytes]:
    """Every visible object of the lake (hidden temporaries of an interrupted write aside)."""
    return {str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def lake_records(lake: Path) -> int:
    """Records in the lake's objects (dead letters aside)."""
    return sum(len(p.read_bytes().splitlines()) for p in (lake / "topics").rglob("*.json"))


def assert_exactly_once(broker: LocalKafka, lake: Path, topics: list[str]) -> int:
    """Per partition, the lake's lines in object order equal the topic's valid records in offset order, and
    each object is named by the offset of its first record; returns the number of lake records."""
    total = 0
    for topic in topics:
        by_partition: dict[int, list[tuple[int, bytes]]] = {}
        for (partition, offset), value in sorted(read_topic(broker.bootstrap_servers, topic).items()):
            try:
                by_partition.setdefault(partition, []).append((offset, lake_line(json.loads(value))))
            except (TypeError, ValueError):
                continue  # dead letters are checked apart
        for partition, expected in by_partition.items():
            line_at = dict(expected)
            objects = sorted((lake / "topics" / topic / f"partition={partition}").glob("*.json"),
                             key=lambda p: parse_object_name(p.name).start_offset)
            lines: list[bytes] = []
            for path in objects:
                content = path.read_bytes().splitlines(keepends=True)
                assert content[0] == line_at[parse_object_name(path.name).start_offset], path
                lines += content
            assert lines == [line for _, line in expected], f"{topic}[{partition}]"
            total += len(lines)
    return total


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Until ``condition()`` holds: a state, however long the machine takes to get there."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not reached in {timeout:.0f} s: {what}"
        time.sleep(0.05)


#: Answers of a group coordinator that is moving or still loading the group (a fresh broker).
_COORDINATOR_NOT_READY = frozenset({KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                                    KafkaError.COORDINATOR_NOT_AVAILABLE})


def answer_or_none(future: Future) -> Any:
    """The result of an admin request, or None for a retriable error (the group's coordinator moving or
    loading): the caller asks again."""
    try:
        return future.result(timeout=30)
    except KafkaException as error:
        if error.args[0].retriable() or error.args[0].code() in _COORDINATOR_NOT_READY:
            return None
        raise


def group_assignment(broker: LocalKafka, group: str) -> list[set[tuple[str, int]]] | None:
    """The partitions of each member of ``group`` while it is stable (no rebalance under way), else None."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    description = answer_or_none(admin.describe_consumer_groups([group])[group])
    if description is None or description.state != ConsumerGroupState.STABLE:
        return None
    return [{(tp.topic, tp.partition) for tp in member.assignment.topic_partitions}
            for member in description.members]


def committed_offsets(broker: LocalKafka, group: str) -> dict[tuple[str, int], int] | None:
    """The offsets ``group`` committed, per partition (None when the coordinator asks to be asked again)."""
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    answer = answer_or_none(admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group])
    return None if answer is None else {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions}
