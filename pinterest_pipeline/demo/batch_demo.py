"""``make demo`` (``KAFKA=1``): the batch path on embedded defaults, from the sample database to the report."""
from __future__ import annotations

import shutil
from pathlib import Path

from pinterest_pipeline.config import Settings
from pinterest_pipeline.demo.kafka_ingest import run_kafka_demo_ingest
from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.demo.steps import describe_lake, emulate, run_batch_job, step
from pinterest_pipeline.source.database import ensure_seeded


def ingest_through_lake_writer(lake_root: Path, prefix: str, count: int, batch_size: int, flush_size: int) -> None:
    """The embedded default: the gateway writes the lake itself."""
    step("2. API gateway (Kafka REST Proxy v2) writing the lake")
    extra = ["--prefix", prefix, "--flush-on-close", "--log-level", "warning"]
    with GatewayProcess(lake_root, flush_size=flush_size, extra_args=extra) as gateway:
        print(f"gateway up at {gateway.url}")
        step(f"3. Emulating {count} posts (the batch emulator)")
        emulate(gateway.url, prefix, count, batch_size)


def run_batch_demo(settings: Settings, count: int, batch_size: int, flush_size: int, kafka: bool = False,
                   skip_batch: bool = False) -> None:
    """Seed, ingest (lake writer or Kafka), describe the lake, then run the batch job and write the report."""
    lake_root, warehouse = Path(settings.lake_root), Path(settings.warehouse)
    step("1. Source database")
    seeded = ensure_seeded(settings.database_url)
    print(("seeded " if seeded else "using ") + settings.database_url.split("://")[0] + " sample database")

    shutil.rmtree(lake_root, ignore_errors=True)
    if kafka:
        step(f"2-3. Emulating {count} posts: gateway → Kafka broker → sink → lake")
        run_kafka_demo_ingest(lake_root, settings.prefix, count, batch_size, flush_size)
    else:
        ingest_through_lake_writer(lake_root, settings.prefix, count, batch_size, flush_size)
    step(f"4. Lake at {lake_root}/ (Confluent S3 sink layout)")
    describe_lake(lake_root, settings.prefix)
    if skip_batch:
        return
    step("5. Batch job: Spark cleansing, insights, Delta tables")
    report = Path(settings.report)
    run_batch_job(lake_root, settings.prefix, warehouse, report)
    print(f"\nDelta tables under {warehouse}/, report at {report}")
