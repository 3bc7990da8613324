"""``make demo KAFKA=1``'s ingest path: emulator → gateway → real Kafka broker → sink → lake.

A fresh local broker (its own state folder, free ports), the three topics, the gateway producing to it, the
batch emulator, then the sink reading every topic to its end into the lake; broker and gateway are stopped
at the end whatever happens, and the broker's log is copied into the demo's. The lake it leaves is what the
batch job reads, as after the lake-writer path.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from pinterest_pipeline.config import Settings
from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.demo.console import Console, duration, names_in_brief
from pinterest_pipeline.demo.jars import Fetched, jars_in
from pinterest_pipeline.demo.processes import GatewayProcess, free_port
from pinterest_pipeline.demo.steps import emulate
from pinterest_pipeline.kafka.broker import LocalKafka, cache_root, ensure_jars, ensure_topics
from pinterest_pipeline.kafka.client_config import client_config
from pinterest_pipeline.kafka.sink import LakeSink, SinkOptions, SinkStats

DEMO_STATE_DIR = Path("data/kafka-demo")


def start_broker(console: Console, broker: LocalKafka, topics: list[str], partitions: int) -> None:
    """Fetch the broker's jars if this is the first run (saying so), start it, create the topics."""
    libs = cache_root() / f"kafka-{broker.version}" / "libs"
    before = jars_in([libs])
    wait = f"starting Kafka {broker.version}" + ("" if before else "; first run: fetching its jars with Maven")
    started = time.monotonic()
    with console.waiting(wait):
        ensure_jars(broker.version)
        broker.start()
        ensure_topics(broker.bootstrap_servers, topics, partitions)
    console.stage("kafka", f"Kafka {broker.version} broker (KRaft) on {broker.bootstrap_servers} up in "
                           f"{duration(time.monotonic() - started)}; topics {names_in_brief(topics)} "
                           f"({partitions} partition{'s' if partitions > 1 else ''} each)")
    fetched = Fetched.between(before, jars_in([libs]))
    if fetched:
        console.detail(fetched.line(f"Kafka {broker.version}"))


def sink_to_lake(console: Console, options: SinkOptions, bootstrap_servers: str, expected: int) -> SinkStats:
    """The sink until every partition is read to its end, with a bar over the records written."""
    sink = LakeSink(options, client_config(bootstrap_servers))
    started = time.monotonic()
    with console.watch("sink", lambda: sink.stats.records, total=expected, unit="record"):
        sink.run()
    stats = sink.stats
    dead = sum(stats.dead_letters.values())
    console.stage("sink", f"{stats.records:,} records → {stats.objects:,} objects in {options.lake_root}/ "
                          f"({options.flush_size} per object, {dead} dead letters) in "
                          f"{duration(time.monotonic() - started)}")
    return stats


def run_kafka_demo_ingest(console: Console, settings: Settings, count: int, batch_size: int = 100,
                          flush_size: int = 100, state_dir: str | Path = DEMO_STATE_DIR) -> SinkStats:
    """Emulate ``count`` rows through the gateway into a fresh broker, then sink the topics into the lake.

    The lake is written, not emptied (the caller starts from an empty lake); the broker's old state in
    ``state_dir`` is removed first so that offsets, and so object names, start at 0.
    """
    state_dir = Path(state_dir)
    shutil.rmtree(state_dir, ignore_errors=True)
    broker = LocalKafka(state_dir, port=free_port(), controller_port=free_port())
    topics = [topic_name(settings.prefix, kind) for kind in KINDS]
    try:
        start_broker(console, broker, topics, settings.partitions)
        gateway_env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers}
        with GatewayProcess(settings.lake_root, extra_args=["--prefix", settings.prefix],
                            env=gateway_env, log_path=console.path) as gateway:
            console.stage("gateway", f"Kafka REST Proxy v2 at {gateway.url}, producing to Kafka")
            emulate(console, settings, gateway.url, count, batch_size)
        options = SinkOptions(lake_root=settings.lake_root, topics=tuple(topics),
                              group_id=f"connect-{settings.prefix}-s3-sink", flush_size=flush_size,
                              until_caught_up=True)
        return sink_to_lake(console, options, broker.bootstrap_servers, count * len(KINDS))
    finally:
        broker.stop()
        console.append_log(broker.log_path, "Kafka broker log")
