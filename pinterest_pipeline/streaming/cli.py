"""``python -m pinterest_pipeline.streaming --prefix P --warehouse DIR [--endpoint-url URL] [--master URL]
[--available-now]``."""
from __future__ import annotations

import argparse
import logging
from typing import Sequence

from pinterest_pipeline.config import load_settings
from pinterest_pipeline.contract import KINDS, stream_progress_table_name, streaming_table_name
from pinterest_pipeline.spark.delta import Warehouse
from pinterest_pipeline.spark.session import get_spark
from pinterest_pipeline.streaming.job import AVAILABLE_NOW, await_queries, start_streaming, table_counts
from pinterest_pipeline.streaming.progress import ProgressReporter, delta_progress_sink, log_progress


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pinterest_pipeline.streaming",
                                     description="Kinesis streams → cleansing → Delta tables (Structured Streaming).")
    parser.add_argument("--prefix", help="stream/table prefix (default 124a514b9149)")
    parser.add_argument("--warehouse", help="folder of the Delta tables (default: settings, data/warehouse)")
    parser.add_argument("--checkpoint-root", help="checkpoint folder (default <warehouse>/_checkpoints)")
    parser.add_argument("--endpoint-url",
                        help="Kinesis endpoint, e.g. a local moto server (default: KINESIS_ENDPOINT_URL, else AWS)")
    parser.add_argument("--region", help="AWS region (default us-east-1)")
    parser.add_argument("--master", help="Spark master URL, e.g. spark://host:7077 (default: settings, local[*]); "
                                         "its executors need boto3 and this package (spark.pyspark.python, --py-files)")
    parser.add_argument("--initial-position", default="trim_horizon", choices=["trim_horizon", "latest"])
    parser.add_argument("--max-records-per-batch", type=int, help="records per micro-batch (default: all)")
    parser.add_argument("--show-rows", type=int, default=0, help="at the end, print this many rows of each table")
    parser.add_argument("--progress-table", action="store_true",
                        help="also append each micro-batch's progress to the Delta table <prefix>_stream_progress")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--available-now", action="store_true", help="process what the streams hold, then stop")
    mode.add_argument("--interval", default="10 seconds", help="micro-batch interval when running continuously")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the job; with ``--available-now``, print the table row counts and exit 0 when done."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    settings = load_settings(prefix=args.prefix, warehouse=args.warehouse, kinesis_endpoint=args.endpoint_url,
                             region=args.region, spark_master=args.master)
    spark = get_spark("pinterest-streaming", warehouse_dir=settings.warehouse, master=settings.spark_master)
    queries = start_streaming(
        spark, settings.prefix, settings.warehouse, checkpoint_root=args.checkpoint_root,
        endpoint_url=settings.kinesis_endpoint, region=settings.region,
        trigger=AVAILABLE_NOW if args.available_now else args.interval,
        initial_position=args.initial_position, max_records_per_batch=args.max_records_per_batch,
    )
    sinks = [log_progress]
    if args.progress_table:
        sinks.append(delta_progress_sink(spark, Warehouse.for_runtime(settings.warehouse),
                                         stream_progress_table_name(settings.prefix)))
    await_queries(queries, on_progress=ProgressReporter(sinks))
    for name, rows in table_counts(spark, settings.prefix, settings.warehouse).items():
        print(f"{name:<40} {rows:>8} rows", flush=True)
    if args.show_rows:
        warehouse = Warehouse.for_runtime(settings.warehouse)
        for kind in KINDS:
            name = streaming_table_name(settings.prefix, kind)
            print(f"\n{name}")
            warehouse.read(spark, name).show(args.show_rows, truncate=28)
    return 0
