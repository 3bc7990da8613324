"""``make demo-stream``: the streaming path on one machine, Kinesis played by a local moto server.

moto server → three streams → gateway (``--kinesis-endpoint``) ← streaming emulator → streaming job
(``availableNow``) → three Delta tables, whose row counts and first rows are printed.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from pinterest_pipeline.batch.tables import read_delta, table_location
from pinterest_pipeline.config import load_settings
from pinterest_pipeline.contract import KINDS
from pinterest_pipeline.demo import emulate, step
from pinterest_pipeline.kinesis import ensure_streams, kinesis_client
from pinterest_pipeline.local_processes import free_port, running_gateway, stop_process, wait_until_healthy
from pinterest_pipeline.spark_session import get_spark
from pinterest_pipeline.streaming_job import await_queries, start_streaming, streaming_table_name, table_counts


@contextmanager
def running_moto_server() -> Iterator[str]:
    """A moto server (the Kinesis API, among others) on a free 127.0.0.1 port; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_healthy(f"{url}/moto-api/data.json", process)
        yield url
    finally:
        stop_process(process)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pinterest_pipeline.demo_stream", description=__doc__)
    parser.add_argument("--count", type=int, default=1000, help="rows to emulate (3 records each; default 1000)")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="records per request: 1 = PutRecord as the original, more = PutRecords")
    parser.add_argument("--prefix", help="stream/table prefix (default 124a514b9149)")
    parser.add_argument("--workdir", default="data/demo_stream", help="gateway lake and Delta warehouse (emptied)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = load_settings(prefix=args.prefix)
    workdir = Path(args.workdir).resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    warehouse = str(workdir / "warehouse")
    with running_moto_server() as kinesis_url:
        step(f"Kinesis (moto server) at {kinesis_url}")
        for name in ensure_streams(kinesis_client(kinesis_url, settings.region), settings.prefix):
            print(f"stream {name} ACTIVE")
        gateway_args = ["--lake-root", str(workdir / "lake"), "--kinesis-endpoint", kinesis_url,
                        "--log-level", "warning"]
        with running_gateway(gateway_args) as gateway_url:
            step(f"Streaming emulator → gateway {gateway_url}/streams/<stream>/record")
            emulate(gateway_url, settings.prefix, args.count, args.batch_size,
                    script="user_posting_emulation_streaming.py")
        step("Streaming job (availableNow): Kinesis → cleansing → Delta")
        spark = get_spark("pinterest-demo-stream", warehouse_dir=warehouse)
        await_queries(start_streaming(spark, settings.prefix, warehouse, endpoint_url=kinesis_url,
                                      region=settings.region))
    step(f"Delta tables under {warehouse}")
    for name, rows in table_counts(spark, settings.prefix, warehouse).items():
        print(f"{name:<40} {rows:>8} rows")
    for kind in KINDS:
        name = streaming_table_name(settings.prefix, kind)
        print(f"\n{name}")
        read_delta(spark, table_location(warehouse, name)).show(5, truncate=28)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
