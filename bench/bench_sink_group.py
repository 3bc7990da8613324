"""Benchmark (c): the Kafka → lake sink as a consumer group of 1, 2 and 3 member processes on 3 partitions.

The three topics of a prefix (3 partitions each) are filled once; then, for each member count, that many
``python -m pinterest_pipeline.kafka sink --until-caught-up`` processes of a new group write a new lake. Prints
JSON: per member count the wall time from launch until every member exited, records/s over it, and records/s
from the first object written to the end (start-up and the group's first join left out); the lakes must be
byte-identical to the one-member lake. The broker holds a new group's first assignment for
:data:`JOIN_WINDOW_MS`, so that members started together begin with their shares. Targets: two members at
least 1.5× one member's records/s (after the first object), three members no slower than two; a missed target
is named under ``missed_targets``. A private broker on free ports in a temporary folder, stopped at the end.
The 1-minute load average is reported.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.demo.processes import free_port
from pinterest_pipeline.gateway.kafka_backend import KafkaBackend
from pinterest_pipeline.kafka.broker import LocalKafka, ensure_topics
from pinterest_pipeline.kafka.client_config import client_config

PREFIX = "124a514b9149"
PARTITIONS = 3
#: The broker waits this long before a new group's first assignment, so that members started together join it
#: together (Kafka's ``group.initial.rebalance.delay.ms``; the local broker's default is 0).
JOIN_WINDOW_MS = 3000
#: Speed-up over one member expected of two; three must at least keep two's pace.
TWO_MEMBER_SPEEDUP = 1.5


def fill_topics(broker: LocalKafka, topics: list[str], records: int, batch_size: int) -> float:
    """``records`` rows per topic, spread over the partitions in turn; the seconds it took."""
    started = time.monotonic()
    backend = KafkaBackend(client_config(broker.bootstrap_servers))
    row = {"ind": 0, "title": "x" * 60, "description": "y" * 200, "follower_count": "12k"}
    try:
        for topic in topics:
            for start in range(0, records, batch_size):
                rows = range(start, min(records, start + batch_size))
                backend.produce(topic, [{**row, "ind": i} for i in rows], [i % PARTITIONS for i in rows])
    finally:
        backend.close()
    return time.monotonic() - started


def lake_digest(lake: Path) -> str:
    """One hash over every object's name and bytes."""
    digest = hashlib.sha256()
    for path in sorted(lake.rglob("*.json")):
        digest.update(str(path.relative_to(lake)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run_group(broker: LocalKafka, lake: Path, members: int, flush_size: int) -> dict[str, object]:
    """``members`` sink processes of one new group until each is caught up; timings and what they wrote."""
    command = [sys.executable, "-m", "pinterest_pipeline.kafka", "sink", "--bootstrap-servers",
               broker.bootstrap_servers, "--prefix", PREFIX, "--lake-root", str(lake), "--group-id",
               f"bench-{members}-members", "--flush-size", str(flush_size), "--until-caught-up",
               "--log-level", "warning"]
    started = time.time()
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(members)]
    try:
        lines = [process.communicate(timeout=3600)[0].strip() for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    ended = time.time()
    if any(process.returncode != 0 for process in processes):
        raise SystemExit(f"a sink member failed: {[p.returncode for p in processes]}")
    objects = list(lake.rglob("*.json"))
    records = sum(len(p.read_bytes().splitlines()) for p in objects)
    first_object = min(p.stat().st_mtime for p in objects)
    return {"members": members, "records": records, "objects": len(objects),
            "wall_seconds": round(ended - started, 2), "records_per_s": round(records / (ended - started)),
            "seconds_to_first_object": round(first_object - started, 2),
            "records_per_s_after_first_object": round(records / max(ended - first_object, 1e-3)),
            "member_lines": lines, "lake_sha256": lake_digest(lake)}


def missed_targets(runs: dict[int, dict[str, object]]) -> list[str]:
    rate = {members: run["records_per_s_after_first_object"] for members, run in runs.items()}
    missed = []
    if 1 in rate and 2 in rate and rate[2] < TWO_MEMBER_SPEEDUP * rate[1]:
        missed.append(f"2 members: {rate[2]} records/s < {TWO_MEMBER_SPEEDUP}x 1 member ({rate[1]})")
    if 2 in rate and 3 in rate and rate[3] < rate[2]:
        missed.append(f"3 members: {rate[3]} records/s < 2 members ({rate[2]})")
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records per topic")
    parser.add_argument("--batch-size", type=int, default=1000, help="records per produce call when filling")
    parser.add_argument("--flush-size", type=int, default=500, help="records per lake object")
    parser.add_argument("--members", default="1,2,3", help="member counts to run, comma-separated")
    args = parser.parse_args()
    member_counts = [int(part) for part in args.members.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-sink-group-") as folder:
        broker = LocalKafka(Path(folder) / "broker", port=free_port(), controller_port=free_port(),
                            settings={"group.initial.rebalance.delay.ms": str(JOIN_WINDOW_MS)})
        broker.start()
        try:
            topics = [topic_name(PREFIX, kind) for kind in KINDS]
            ensure_topics(broker.bootstrap_servers, topics, PARTITIONS)
            fill_s = fill_topics(broker, topics, args.records, args.batch_size)
            runs = {members: run_group(broker, Path(folder) / f"lake-{members}", members, args.flush_size)
                    for members in member_counts}
        finally:
            broker.stop()
    digests = {run["lake_sha256"] for run in runs.values()}
    missed = missed_targets(runs)
    print(json.dumps({
        "benchmark": "sink consumer group", "partitions_per_topic": PARTITIONS, "topics": len(KINDS),
        "records": 3 * args.records, "flush_size": args.flush_size, "fill_seconds": round(fill_s, 2),
        "runs": list(runs.values()), "identical_lakes": len(digests) == 1,
        "targets": {"two_members_speedup_at_least": TWO_MEMBER_SPEEDUP, "three_members_at_least_two": True},
        "missed_targets": missed, "cpu_count": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }, indent=2))
    if len(digests) != 1:
        raise SystemExit("the lakes differ between member counts")


if __name__ == "__main__":
    main()
