"""``make demo``: the whole batch path on embedded defaults, from the sample database to the insights report."""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

from pinterest_pipeline.config import load_settings
from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.lake.layout import parse_object_name
from pinterest_pipeline.local_processes import running_gateway
from pinterest_pipeline.source.database import ensure_seeded

REPO_ROOT = Path(__file__).resolve().parent.parent


def step(title: str) -> None:
    """Print a step banner."""
    print(f"\n=== {title} ===", flush=True)


def emulate(invoke_url: str, prefix: str, count: int, batch_size: int,
            script: str = "user_posting_emulation.py") -> None:
    """Run a top-level emulator exactly as a user would, at full speed."""
    command = [sys.executable, str(REPO_ROOT / script), "--invoke-url", invoke_url,
               "--prefix", prefix, "--count", str(count), "--rate", "0", "--batch-size", str(batch_size),
               "--seed", "100"]
    subprocess.run(command, check=True)


def describe_lake(lake_root: Path, prefix: str) -> None:
    """Objects and records per topic, and one example object name."""
    for kind in KINDS:
        topic = topic_name(prefix, kind)
        objects = sorted((lake_root / "topics" / topic).glob("partition=*/*.json"))
        records = Counter()
        for path in objects:
            records[parse_object_name(path.name).partition] += sum(1 for _ in path.open())
        example = objects[0].relative_to(lake_root) if objects else "-"
        print(f"{topic:<20} objects={len(objects):<6} records={sum(records.values()):<7} e.g. {example}")


def run_batch(lake_root: Path, prefix: str, warehouse: Path, report: Path) -> None:
    """The batch job over the lake: cleansed Delta tables, insights, report."""
    command = [sys.executable, "-m", "pinterest_pipeline.batch", "--lake-root", str(lake_root), "--prefix", prefix,
               "--warehouse", str(warehouse), "--report", str(report)]
    subprocess.run(command, check=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the batch pipeline end to end on embedded defaults.")
    parser.add_argument("--count", type=int, default=3000, help="rows to emulate (default 3000)")
    parser.add_argument("--batch-size", type=int, default=100, help="records per gateway request")
    parser.add_argument("--flush-size", type=int, default=100, help="records per lake object (sink flush.size)")
    parser.add_argument("--skip-batch", action="store_true", help="stop after the ingest path")
    parser.add_argument("--kafka", action="store_true",
                        help="ingest through a real local Kafka broker and the sink (make demo KAFKA=1)")
    args = parser.parse_args(argv)
    settings = load_settings()
    lake_root, warehouse = Path(settings.lake_root), Path(settings.warehouse)

    step("1. Source database")
    seeded = ensure_seeded(settings.database_url)
    print(("seeded " if seeded else "using ") + settings.database_url.split("://")[0] + " sample database")

    shutil.rmtree(lake_root, ignore_errors=True)
    if args.kafka:
        from pinterest_pipeline.demo_kafka import run_kafka_demo_ingest

        step(f"2-3. Emulating {args.count} posts: gateway → Kafka broker → sink → lake")
        run_kafka_demo_ingest(lake_root, settings.prefix, args.count, args.batch_size, args.flush_size)
    else:
        ingest_through_lake_writer(lake_root, settings.prefix, args)
    step(f"4. Lake at {lake_root}/ (Confluent S3 sink layout)")
    describe_lake(lake_root, settings.prefix)
    if args.skip_batch:
        return 0

    step("5. Batch job: Spark cleansing, insights, Delta tables")
    report = REPO_ROOT / "out" / "report.md"
    run_batch(lake_root, settings.prefix, warehouse, report)
    print(f"\nDelta tables under {warehouse}/, report at {report}")
    return 0


def ingest_through_lake_writer(lake_root: Path, prefix: str, args: argparse.Namespace) -> None:
    """The embedded default: the gateway writes the lake itself."""
    step("2. API gateway (Kafka REST Proxy v2) writing the lake")
    gateway_args = ["--lake-root", str(lake_root), "--prefix", prefix,
                    "--flush-size", str(args.flush_size), "--flush-on-close", "--log-level", "warning"]
    with running_gateway(gateway_args) as url:
        print(f"gateway up at {url}")
        step(f"3. Emulating {args.count} posts (user_posting_emulation.py)")
        emulate(url, prefix, args.count, args.batch_size)


if __name__ == "__main__":
    sys.exit(main())
