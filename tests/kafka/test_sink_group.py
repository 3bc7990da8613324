"""Several sink processes in one consumer group on topics of three partitions: they share the partitions, and
when one is SIGKILLed mid-run the other takes its partitions over; the lake ends with every record once, in
objects byte-identical to a single sink's run over the same topics."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from pinterest_pipeline.kafka.broker import LocalKafka
from tests.support import REPO_ROOT
from tests.support.children import Children
from tests.support.kafka_broker import run_sink, unique_name
from tests.support.sink_lake import (
    assert_exactly_once,
    committed_offsets,
    group_assignment,
    lake_files,
    lake_records,
    make_topics,
    produce_rows,
    sink_command,
    wait_for,
)

PARTITIONS = 3
#: Records per topic: 100 per partition, so that objects of FLUSH_SIZE records close on records alone (no
#: timer, no end of input): the boundaries are the same whoever writes a partition, and whenever.
RECORDS = 300
FLUSH_SIZE = 10
#: Objects the killed member writes before it dies: it holds four partitions or more (40 objects or more).
KILL_AFTER = 12
#: A dead member's partitions move after its session times out (the broker's minimum, 6 s); heartbeats often.
FAST_GROUP = {"KAFKA_SESSION_TIMEOUT_MS": "6000", "KAFKA_HEARTBEAT_INTERVAL_MS": "500"}


def test_a_member_killed_mid_run_leaves_its_partitions_to_the_other(kafka_broker: LocalKafka, tmp_path: Path,
                                                                    children: Children) -> None:
    prefix, topics = make_topics(kafka_broker, PARTITIONS)
    group, lake, log = unique_name("group-"), tmp_path / "group", tmp_path / "survivor.log"
    env = {**os.environ, **FAST_GROUP}
    with log.open("wb") as errors:
        survivor = children.start(sink_command(kafka_broker, prefix, lake, group, "--flush-size", str(FLUSH_SIZE),
                                               log_level="info"), env=env, stdout=subprocess.PIPE, stderr=errors,
                                  text=True)
    dying = children.start([sys.executable, "-m", "tests.support.sink_killed_after", str(KILL_AFTER),
                            kafka_broker.bootstrap_servers, str(lake), group, str(FLUSH_SIZE), *topics, "--follow"],
                           env=env, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    every_partition = {(topic, p) for topic in topics for p in range(PARTITIONS)}

    def shared() -> bool:
        members = group_assignment(kafka_broker, group)
        return bool(members) and len(members) == 2 and all(members) and set().union(*members) == every_partition

    wait_for(shared, "both members holding partitions", timeout=120)
    produce_rows(kafka_broker, topics, range(RECORDS), PARTITIONS)  # 100 records per partition

    dying.wait(timeout=120)
    assert dying.returncode == -signal.SIGKILL, dying.stderr.read()
    assert 0 < lake_records(lake) < 3 * RECORDS  # died mid-run, its last object written but not committed
    everything = {partition: RECORDS // PARTITIONS for partition in every_partition}
    wait_for(lambda: committed_offsets(kafka_broker, group) == everything, "every record committed", timeout=120)
    survivor.send_signal(signal.SIGTERM)
    out, _ = survivor.communicate(timeout=60)
    assert survivor.returncode == 0, log.read_text()
    # It wrote every object but the ones the dead member committed: the last one the dead member wrote, it wrote again.
    taken_over = 3 * RECORDS // FLUSH_SIZE - (KILL_AFTER - 1)
    assert f"sink: records={taken_over * FLUSH_SIZE} objects={taken_over} " in out + " ", log.read_text()

    single = tmp_path / "single"
    run_sink(kafka_broker, single, topics, unique_name("single-"), flush_size=FLUSH_SIZE)
    assert lake_files(lake) == lake_files(single)  # same names, byte-identical
    assert len(lake_files(single)) == 3 * RECORDS // FLUSH_SIZE
    assert assert_exactly_once(kafka_broker, lake, topics) == 3 * RECORDS
