"""``make demo`` (``KAFKA=1``): the batch path on embedded defaults, from the sample database to the report."""
from __future__ import annotations

import shutil
from pathlib import Path

from pinterest_pipeline.config import Settings
from pinterest_pipeline.demo.console import Console
from pinterest_pipeline.demo.kafka_ingest import run_kafka_demo_ingest
from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.demo.steps import emulate, lake_stage, source_stage


def ingest_through_lake_writer(console: Console, settings: Settings, count: int, batch_size: int,
                               flush_size: int) -> None:
    """The embedded default: the gateway writes the lake itself."""
    extra = ["--prefix", settings.prefix, "--flush-on-close", "--log-level", "warning"]
    with GatewayProcess(settings.lake_root, flush_size=flush_size, extra_args=extra,
                        log_path=console.path) as gateway:
        console.stage("gateway", f"Kafka REST Proxy v2 at {gateway.url}, writing the lake {settings.lake_root}/ "
                                 f"({flush_size} records per object)")
        emulate(console, settings, gateway.url, count, batch_size)


def run_batch_demo(console: Console, settings: Settings, count: int, batch_size: int, flush_size: int,
                   kafka: bool = False, skip_batch: bool = False) -> None:
    """Seed, ingest (lake writer or Kafka), describe the lake, then run the batch job and write the report."""
    lake_root, warehouse = Path(settings.lake_root), Path(settings.warehouse)
    source_stage(console, settings)
    shutil.rmtree(lake_root, ignore_errors=True)
    if kafka:
        run_kafka_demo_ingest(console, settings, count, batch_size, flush_size)
    else:
        ingest_through_lake_writer(console, settings, count, batch_size, flush_size)
    lake_stage(console, lake_root, settings.prefix)
    if skip_batch:
        return
    from pinterest_pipeline.demo import spark_steps  # Spark, pandas, matplotlib: seconds to load, so only now

    spark = spark_steps.start_spark(console, "pinterest-batch-demo", warehouse, [str(lake_root), str(warehouse)],
                                    master=settings.spark_master)
    try:
        result = spark_steps.batch_stage(console, spark, lake_root, settings.prefix, warehouse)
    finally:
        spark.stop()
    spark_steps.report_stage(console, result, Path(settings.report))
