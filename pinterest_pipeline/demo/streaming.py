"""``make demo-stream``: the streaming path on one machine, Kinesis played by a local moto server.

moto server → three streams → gateway (``--kinesis-endpoint``) ← streaming emulator → the streaming job
(availableNow: what the streams hold, then stop) → three Delta tables, whose row counts are shown.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

from pinterest_pipeline.config import Settings
from pinterest_pipeline.contract import KINDS
from pinterest_pipeline.demo.console import Console, duration, names_in_brief
from pinterest_pipeline.demo.processes import GatewayProcess, MotoServer
from pinterest_pipeline.demo.steps import emulate, source_stage
from pinterest_pipeline.kinesis import ensure_streams, kinesis_client


def streaming_stage(console: Console, settings: Settings, moto_url: str, warehouse: Path, expected: int) -> None:
    """The streaming job over what the streams hold, with a bar over the records its micro-batches read."""
    # Spark loads in seconds: only now, not before the first stages.
    from pinterest_pipeline.demo.spark_steps import start_spark
    from pinterest_pipeline.streaming.job import AVAILABLE_NOW, await_queries, start_streaming, table_counts

    spark = start_spark(console, "pinterest-streaming-demo", warehouse)
    try:
        started = time.monotonic()
        queries = start_streaming(spark, settings.prefix, str(warehouse), endpoint_url=moto_url,
                                  region=settings.region, trigger=AVAILABLE_NOW)

        def records_read() -> int:
            return sum(p["numInputRows"] for q in queries for p in q.recentProgress)

        with console.watch("streaming job", records_read, total=expected, unit="record"):
            await_queries(queries)
        records, batches = records_read(), sum(len(q.recentProgress) for q in queries)
        counts = table_counts(spark, settings.prefix, str(warehouse))
    finally:
        spark.stop()
    tables = ", ".join(f"{name.removeprefix(settings.prefix + '_')} {rows:,}" for name, rows in counts.items())
    console.stage("streaming", f"{records:,} records in {batches} micro-batches in "
                               f"{duration(time.monotonic() - started)} → rows: {tables}")


def run_streaming_demo(console: Console, settings: Settings, count: int, batch_size: int,
                       workdir: str | Path) -> None:
    """Streams on moto, the emulator through the gateway's Kinesis routes, then the streaming job (available now)."""
    workdir = Path(workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    warehouse = workdir / "warehouse"
    source_stage(console, settings)
    with MotoServer() as moto:
        streams = ensure_streams(kinesis_client(moto.url, settings.region), settings.prefix)
        console.stage("kinesis", f"moto server at {moto.url}; streams {names_in_brief(list(streams))} active")
        extra = ["--kinesis-endpoint", moto.url, "--log-level", "warning"]
        with GatewayProcess(workdir / "lake", extra_args=extra, log_path=console.path) as gateway:
            console.stage("gateway", f"Kinesis routes at {gateway.url}/streams/<stream>/record")
            emulate(console, settings, gateway.url, count, batch_size, route="kinesis")
        streaming_stage(console, settings, moto.url, warehouse, count * len(KINDS))
    console.stage("tables", f"Delta tables under {warehouse}/")
