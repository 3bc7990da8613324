"""The Kafka → lake sink against a real broker: every record exactly once, crash-safe, rebalance-safe."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from pinterest_pipeline.demo.processes import DUMMY_AWS_ENVIRONMENT, MotoServer
from pinterest_pipeline.kafka.broker import LocalKafka
from pinterest_pipeline.kafka.client_config import client_config
from pinterest_pipeline.kafka.sink import LakeSink, SinkOptions
from pinterest_pipeline.lake.layout import lake_line, parse_object_name
from pinterest_pipeline.lake.store import LocalObjectStore
from tests.support import REPO_ROOT
from tests.support.children import Children
from tests.support.kafka_broker import run_sink, unique_name
from tests.support.sink_lake import (
    assert_exactly_once,
    lake_files,
    lake_records,
    make_topics,
    produce_rows,
    sink_command,
    wait_for,
)

REPO = REPO_ROOT
BAD_VALUES = (b'{"index": 1,', b"\xff\xfe not utf-8")


def produce_raw(broker: LocalKafka, topic: str, partition: int, values: tuple[bytes | None, ...]) -> None:
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    for value in values:
        producer.produce(topic, value, partition=partition)
    assert producer.flush(10) == 0


def test_every_record_lands_once_in_the_connector_layout(kafka_broker: LocalKafka, tmp_path: Path) -> None:
    prefix, topics = make_topics(kafka_broker)
    produce_rows(kafka_broker, topics, range(0, 12))
    produce_raw(kafka_broker, topics[1], 0, (*BAD_VALUES, None))
    produce_rows(kafka_broker, topics, range(12, 25))
    group = unique_name("group-")
    stats = run_sink(kafka_broker, tmp_path, topics, group, flush_size=4)
    assert stats.records == 3 * 25 == assert_exactly_once(kafka_broker, tmp_path, topics)
    assert stats.dead_letters == {topics[1]: 3}
    names = sorted(tmp_path.rglob("*.json"))
    assert all(len(p.read_bytes().splitlines()) <= 4 for p in names if "topics" in p.parts)
    letters = sorted((tmp_path / "errors" / topics[1] / "partition=0").glob("*.json"))
    documents = [json.loads(p.read_text()) for p in letters]
    assert [d["offset"] for d in documents] == [parse_object_name(p.name).start_offset for p in letters]
    assert [d["value_base64"] is None for d in documents] == [False, False, True]
    assert all(d["error"] for d in documents)
    again = run_sink(kafka_broker, tmp_path, topics, group, flush_size=4)  # everything was committed
    assert (again.records, again.objects, sum(again.dead_letters.values())) == (0, 0, 0)


#: Objects the killed sink writes before it dies: a good part of the run, not all of it.
KILL_AFTER = 40


def test_sigkill_and_restart_gives_the_lake_of_a_clean_run(kafka_broker: LocalKafka, tmp_path: Path) -> None:
    prefix, topics = make_topics(kafka_broker)
    produce_rows(kafka_broker, topics, range(0, 80))
    produce_raw(kafka_broker, topics[1], 1, BAD_VALUES)
    produce_rows(kafka_broker, topics, range(80, 160))
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    run_sink(kafka_broker, clean, topics, unique_name("clean-"), flush_size=2)
    assert len(lake_files(clean)) == 3 * 80 + len(BAD_VALUES)  # 160 records per topic in pairs, dead letters

    group = unique_name("crash-")
    env = {**os.environ, "KAFKA_GROUP_INSTANCE_ID": f"{group}-1"}  # static member: the restart takes over at once
    killed = subprocess.run([sys.executable, "-m", "tests.support.sink_killed_after", str(KILL_AFTER),
                             kafka_broker.bootstrap_servers, str(crashed), group, "2", *topics],
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert len(lake_files(crashed)) == KILL_AFTER  # died just after that object, before its commit

    restarted = subprocess.run(sink_command(kafka_broker, prefix, crashed, group, "--flush-size", "2",
                                            "--until-caught-up"), env=env, capture_output=True, text=True,
                               timeout=120)
    assert restarted.returncode == 0, restarted.stderr
    assert lake_files(crashed) == lake_files(clean)  # same names, byte-identical
    assert assert_exactly_once(kafka_broker, crashed, topics) == 3 * 160


class Crash(Exception):
    """The process dying around an object write."""


class CrashingStore:
    """A real local lake that dies at the ``crash_at``-th object: before writing it, or just after."""

    def __init__(self, root: Path, crash_at: int, after_write: bool) -> None:
        self.store, self.crash_at, self.after_write, self.puts = LocalObjectStore(root), crash_at, after_write, 0

    def put(self, key: str, data: bytes) -> None:
        self.puts += 1
        if self.puts == self.crash_at and not self.after_write:
            raise Crash(key)
        self.store.put(key, data)
        if self.puts == self.crash_at:
            raise Crash(key)


@pytest.mark.parametrize("after_write", [False, True], ids=["before-write", "after-write"])
def test_a_crash_around_an_object_write_loses_and_repeats_nothing(kafka_broker: LocalKafka, tmp_path: Path,
                                                                   after_write: bool) -> None:
    prefix, topics = make_topics(kafka_broker)
    produce_rows(kafka_broker, topics, range(0, 40))
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    run_sink(kafka_broker, clean, topics, unique_name("clean-"), flush_size=3)
    settings = SinkOptions(lake_root=str(crashed), topics=tuple(topics), group_id=unique_name("crash-"),
                            flush_size=3, until_caught_up=True)
    config = client_config(kafka_broker.bootstrap_servers)
    with pytest.raises(Crash):
        LakeSink(settings, config, store=CrashingStore(crashed, crash_at=7, after_write=after_write)).run()
    assert len(list(crashed.rglob("*.json"))) == (7 if after_write else 6)
    LakeSink(settings, config).run()
    assert lake_files(crashed) == lake_files(clean)
    assert assert_exactly_once(kafka_broker, crashed, topics) == 3 * 40


def test_sigterm_stops_gracefully_and_the_partial_object_waits(kafka_broker: LocalKafka, tmp_path: Path,
                                                                children: Children) -> None:
    prefix, topics = make_topics(kafka_broker, partitions=1)
    produce_rows(kafka_broker, topics[:1], range(10), partitions=1)
    group, log = unique_name("term-"), tmp_path / "sink.log"
    with log.open("wb") as errors:
        sink = children.start(sink_command(kafka_broker, prefix, tmp_path / "lake", group, "--flush-size", "4",
                                           log_level="info"), stdout=subprocess.PIPE, stderr=errors, text=True)
    folder = tmp_path / "lake" / "topics" / topics[0] / "partition=0"
    # Two full objects written, and the last two records read (the end of the partition seen): they are pending.
    wait_for(lambda: f"{topics[0]}[0] read to its end (offset 10)" in log.read_text(), "the end of the partition")
    assert len(list(folder.glob("*.json"))) == 2
    sink.send_signal(signal.SIGTERM)
    out, _ = sink.communicate(timeout=60)
    assert sink.returncode == 0, log.read_text()
    assert "sink: records=8 objects=2" in out
    assert "stopping: 2 uncommitted record(s) will be read again on the next run" in log.read_text()
    assert sorted(p.name for p in folder.iterdir()) == [f"{topics[0]}+0+{o:010d}.json" for o in (0, 4)]
    rest = run_sink(kafka_broker, tmp_path / "lake", topics, group, flush_size=4)
    assert (rest.records, rest.objects) == (2, 1)
    assert assert_exactly_once(kafka_broker, tmp_path / "lake", topics) == 10


def test_two_sinks_share_the_partitions_through_a_rebalance(kafka_broker: LocalKafka, tmp_path: Path) -> None:
    prefix, topics = make_topics(kafka_broker)
    produce_rows(kafka_broker, topics, range(0, 60))
    produced = 60
    settings = SinkOptions(lake_root=str(tmp_path), topics=tuple(topics), group_id=unique_name("pair-"),
                            flush_size=5, rotate_schedule_interval_ms=300)
    first = LakeSink(settings, client_config(kafka_broker.bootstrap_servers))
    second = LakeSink(settings, client_config(kafka_broker.bootstrap_servers))
    threads = [threading.Thread(target=sink.run, daemon=True) for sink in (first, second)]
    threads[0].start()
    try:
        deadline = time.monotonic() + 90
        while first.stats.objects < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        threads[1].start()
        while second.stats.objects == 0 and time.monotonic() < deadline:
            produce_rows(kafka_broker, topics, range(produced, produced + 2))  # records keep coming meanwhile
            produced += 2
            time.sleep(0.2)
        while lake_records(tmp_path) < 3 * produced and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        for sink in (first, second):
            sink.stop()
        for thread in threads:
            thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a sink did not stop"
    assert first.stats.objects > 0 and second.stats.objects > 0
    assert assert_exactly_once(kafka_broker, tmp_path, topics) == 3 * produced


def test_sink_writes_an_s3_lake(kafka_broker: LocalKafka, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix, topics = make_topics(kafka_broker, partitions=1)
    produce_rows(kafka_broker, topics, range(6), partitions=1)
    for name, value in DUMMY_AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with MotoServer() as moto:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket="sink-lake")
        stats = run_sink(kafka_broker, "s3://sink-lake/lake", topics, unique_name("s3-"), flush_size=4,
                         s3_endpoint_url=moto.url)
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="sink-lake")["Contents"])
        first = s3.get_object(Bucket="sink-lake", Key=keys[0])["Body"].read()
    assert stats.records == 18
    assert keys == sorted(f"lake/topics/{t}/partition=0/{t}+0+{o:010d}.json" for t in topics for o in (0, 4))
    assert first.splitlines()[0] == lake_line({"ind": 0, "topic": topics[1], "text": "row 0 ✓"}).rstrip()
