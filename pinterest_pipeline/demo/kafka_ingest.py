"""``make demo KAFKA=1``'s ingest path: emulator → gateway → real Kafka broker → sink → lake.

A fresh local broker (its own state folder, free ports), the three topics, the gateway producing to it, the
batch emulator, then the sink reading every topic to its end into the lake; broker and gateway are stopped
at the end whatever happens. The lake it leaves is what the batch job reads, as after the lake-writer path.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.demo.processes import GatewayProcess, free_port
from pinterest_pipeline.demo.steps import emulate
from pinterest_pipeline.kafka.broker import LocalKafka, ensure_topics
from pinterest_pipeline.kafka.client_config import client_config
from pinterest_pipeline.kafka.sink import LakeSink, SinkOptions, SinkStats

DEMO_STATE_DIR = Path("data/kafka-demo")


def run_kafka_demo_ingest(lake_root: str | Path, prefix: str, count: int, batch_size: int = 100,
                          flush_size: int = 100, state_dir: str | Path = DEMO_STATE_DIR) -> SinkStats:
    """Emulate ``count`` rows through the gateway into a fresh broker, then sink the topics into ``lake_root``.

    ``lake_root`` is written, not emptied (the caller starts from an empty lake); the broker's old state in
    ``state_dir`` is removed first so that offsets, and so object names, start at 0.
    """
    state_dir = Path(state_dir)
    shutil.rmtree(state_dir, ignore_errors=True)
    broker = LocalKafka(state_dir, port=free_port(), controller_port=free_port())
    topics = [topic_name(prefix, kind) for kind in KINDS]
    started = time.monotonic()
    print(f"starting Kafka {broker.version} (jars from Maven Central on first use) ...", flush=True)
    broker.start()
    try:
        ensure_topics(broker.bootstrap_servers, topics)
        print(f"broker up on {broker.bootstrap_servers} in {time.monotonic() - started:.1f} s; "
              f"topics {', '.join(topics)}", flush=True)
        gateway_env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers}
        with GatewayProcess(lake_root, extra_args=["--prefix", prefix], env=gateway_env) as gateway:
            print(f"gateway up at {gateway.url}, producing to Kafka", flush=True)
            emulate(gateway.url, prefix, count, batch_size)
        print(f"sink: {', '.join(topics)} → {lake_root} (flush size {flush_size}) until caught up", flush=True)
        settings = SinkOptions(lake_root=str(lake_root), topics=tuple(topics), group_id=f"connect-{prefix}-s3-sink",
                                flush_size=flush_size, until_caught_up=True)
        stats = LakeSink(settings, client_config(broker.bootstrap_servers)).run()
        print(stats.line(), flush=True)
        return stats
    finally:
        broker.stop()
        print(f"broker stopped (log: {broker.log_path})", flush=True)
