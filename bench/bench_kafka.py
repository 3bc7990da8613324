"""Benchmark: the real-Kafka path. Jar fetch, broker start, produce through the Kafka backend, sink to a lake.

Prints JSON. A private broker on free ports in a temporary folder, stopped at the end.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.demo.processes import free_port
from pinterest_pipeline.gateway.kafka_backend import KafkaBackend
from pinterest_pipeline.kafka.broker import DEFAULT_VERSION, LocalKafka, cache_root, ensure_jars, ensure_topics
from pinterest_pipeline.kafka.client_config import client_config
from pinterest_pipeline.kafka.sink import LakeSink, SinkOptions

PREFIX = "124a514b9149"


def timed(action) -> tuple[object, float]:
    started = time.monotonic()
    result = action()
    return result, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000, help="records per topic")
    parser.add_argument("--batch-size", type=int, default=500, help="records per produce call")
    parser.add_argument("--flush-size", type=int, default=500, help="records per lake object")
    args = parser.parse_args()
    was_cached = (cache_root() / f"kafka-{DEFAULT_VERSION}" / "libs").is_dir()
    _, fetch_s = timed(ensure_jars)
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as folder:
        broker = LocalKafka(Path(folder) / "broker", port=free_port(), controller_port=free_port())
        _, start_s = timed(broker.start)
        try:
            topics = [topic_name(PREFIX, kind) for kind in KINDS]
            ensure_topics(broker.bootstrap_servers, topics)
            backend = KafkaBackend(client_config(broker.bootstrap_servers))
            row = {"index": 0, "title": "x" * 60, "description": "y" * 200, "follower_count": "12k"}

            def produce() -> None:
                for topic in topics:
                    for start in range(0, args.records, args.batch_size):
                        size = min(args.batch_size, args.records - start)
                        backend.produce(topic, [{**row, "index": start + i} for i in range(size)])

            _, produce_s = timed(produce)
            backend.close()
            settings = SinkOptions(lake_root=str(Path(folder) / "lake"), topics=tuple(topics),
                                    group_id="bench", flush_size=args.flush_size, until_caught_up=True)
            stats, sink_s = timed(LakeSink(settings, client_config(broker.bootstrap_servers)).run)
        finally:
            _, stop_s = timed(broker.stop)
    total = 3 * args.records
    print(json.dumps({
        "kafka_version": DEFAULT_VERSION,
        "jars": {"cached_before": was_cached, "seconds": round(fetch_s, 2)},
        "broker": {"start_seconds": round(start_s, 2), "stop_seconds": round(stop_s, 2)},
        "produce": {"records": total, "batch_size": args.batch_size, "seconds": round(produce_s, 2),
                    "records_per_s": round(total / produce_s)},
        "sink": {"records": stats.records, "objects": stats.objects, "seconds": round(sink_s, 2),
                 "records_per_s": round(stats.records / sink_s)},
    }, indent=2))


if __name__ == "__main__":
    main()
