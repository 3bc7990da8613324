"""Benchmark: streaming latency, PUT through the gateway → row visible in the Delta table, and job throughput.

Everything local: moto server (Kinesis), the gateway with ``--kinesis-endpoint``, the streaming job with a
processing-time trigger. For each rate, rows with unique ``ind`` are PUT (PutRecords, one request per stream
per tick) at that many records per second across the three streams; a row's latency runs from just before
its PUT to the moment the Delta commit holding it was written (the ``_delta_log`` entry's mtime). The
sustained rate is the job draining a backlog with ``availableNow`` on a warm session. Prints JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from pinterest_pipeline.contract import SOURCE_TABLE_BY_KIND, encode_json, stream_name, streaming_table_name
from pinterest_pipeline.demo.processes import GatewayProcess, MotoServer
from pinterest_pipeline.kinesis import ensure_streams, kinesis_client
from pinterest_pipeline.source.generator import generate_rows
from pinterest_pipeline.spark.delta import Warehouse
from pinterest_pipeline.spark.session import get_spark
from pinterest_pipeline.streaming.job import await_queries, start_streaming, table_counts

KEY = {"pin": "index", "geo": "ind", "user": "ind"}


def put_rows(session: requests.Session, gateway: str, prefix: str, rows: dict[str, list[dict]]) -> None:
    """One PutRecords request per stream (≤ 500 records each) through the gateway."""
    for kind, table in SOURCE_TABLE_BY_KIND.items():
        for start in range(0, len(rows[table]), 500):
            chunk = rows[table][start:start + 500]
            if not chunk:
                continue
            body = {"records": [{"data": row, "partition-key": "partition_1"} for row in chunk]}
            answer = session.put(f"{gateway}/streams/{stream_name(prefix, kind)}/records", data=encode_json(body), headers={"Content-Type": "application/json"}, timeout=30)
            answer.raise_for_status()
            if answer.json()["FailedRecordCount"]:
                raise RuntimeError(f"Kinesis refused records: {answer.text[:300]}")


def send_paced(session: requests.Session, gateway: str, prefix: str, rows: dict[str, list[dict]],
               records_per_s: float, tick: float = 0.1) -> dict[tuple[str, int], float]:
    """PUT ``rows`` at ``records_per_s`` (all streams together); send time of each (kind, ind)."""
    per_tick = max(1, round(records_per_s * tick / len(SOURCE_TABLE_BY_KIND)))
    count = len(next(iter(rows.values())))
    sent_at: dict[tuple[str, int], float] = {}
    started = time.monotonic()
    for n, start in enumerate(range(0, count, per_tick)):
        time.sleep(max(0.0, started + n * tick - time.monotonic()))
        chunk = {table: table_rows[start:start + per_tick] for table, table_rows in rows.items()}
        now = time.time()
        put_rows(session, gateway, prefix, chunk)
        for kind, table in SOURCE_TABLE_BY_KIND.items():
            sent_at.update({(kind, row[KEY[kind]]): now for row in chunk[table]})
    return sent_at


def commit_times(location: str) -> dict[str, float]:
    """Data file name → mtime of the ``_delta_log`` commit that added it (when its rows became visible)."""
    times = {}
    for entry in sorted(Path(location, "_delta_log").glob("*.json")):
        visible = entry.stat().st_mtime
        for line in entry.read_text().splitlines():
            add = json.loads(line).get("add")
            if add:
                times[os.path.basename(add["path"])] = visible
    return times


def latencies(spark: SparkSession, warehouse: str, prefix: str, sent_at: dict[tuple[str, int], float]) -> list[float]:
    """Seconds from PUT to visibility of every sent row."""
    result = []
    for kind in SOURCE_TABLE_BY_KIND:
        name = streaming_table_name(prefix, kind)
        visible = commit_times(Warehouse(warehouse).location(name))
        rows = Warehouse(warehouse).read(spark, name).select("ind", "_metadata.file_path").collect()
        for row in rows:
            key = (kind, row["ind"])
            if key in sent_at:
                result.append(visible[os.path.basename(row["file_path"])] - sent_at[key])
    return result


def wait_for_rows(spark: SparkSession, prefix: str, warehouse: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = table_counts(spark, prefix, warehouse)
        if all(counts[streaming_table_name(prefix, kind)] >= expected for kind in SOURCE_TABLE_BY_KIND):
            return
        time.sleep(0.5)
    raise TimeoutError(f"rows not visible after {timeout} s: {table_counts(spark, prefix, warehouse)}")


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def batch_phases(queries: list[StreamingQuery], since: str) -> dict[str, float]:
    """Median ``durationMs`` of each phase over the micro-batches that read records after ``since`` (ISO time)."""
    phases: dict[str, list[float]] = {}
    for query in queries:
        for progress in query.recentProgress:
            if progress["numInputRows"] and progress["timestamp"] >= since:
                for phase, ms in progress["durationMs"].items():
                    phases.setdefault(phase, []).append(ms)
    return {phase: statistics.median(values) for phase, values in sorted(phases.items())}


def measure_latency(spark: SparkSession, kinesis_url: str, gateway: str, warehouse: str, rate: int,
                    seconds: float, trigger: str, first_ind: int) -> dict[str, Any]:
    prefix = f"latency{rate}"
    ensure_streams(kinesis_client(kinesis_url), prefix)
    session = requests.Session()
    warmup, count = 5, int(rate * seconds / len(SOURCE_TABLE_BY_KIND))
    rows = generate_rows(first_ind, warmup + count)
    queries = start_streaming(spark, prefix, warehouse, endpoint_url=kinesis_url, trigger=trigger)
    try:
        put_rows(session, gateway, prefix, {t: r[:warmup] for t, r in rows.items()})
        wait_for_rows(spark, prefix, warehouse, warmup, timeout=600)  # tables created, workers warm
        started, since = time.monotonic(), datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        sent_at = send_paced(session, gateway, prefix, {t: r[warmup:] for t, r in rows.items()}, rate)
        send_seconds = time.monotonic() - started
        wait_for_rows(spark, prefix, warehouse, warmup + count, timeout=600)
        phases = batch_phases(queries, since.replace("+00:00", "Z"))
    finally:
        for query in queries:
            query.stop()
    measured = latencies(spark, warehouse, prefix, sent_at)
    assert len(measured) == len(sent_at), "every record sent must be visible exactly once"
    return {"target_records_per_s": rate, "records": len(sent_at),
            "sent_records_per_s": round(len(sent_at) / send_seconds, 1),
            "latency_s": {"p50": round(percentile(measured, 0.50), 3), "p95": round(percentile(measured, 0.95), 3),
                          "max": round(max(measured), 3)},
            "median_batch_ms": phases}


def measure_throughput(spark: SparkSession, kinesis_url: str, gateway: str, warehouse: str, records: int,
                       first_ind: int) -> dict[str, Any]:
    prefix = "backlog"
    ensure_streams(kinesis_client(kinesis_url), prefix)
    count = records // len(SOURCE_TABLE_BY_KIND)
    put_rows(requests.Session(), gateway, prefix, generate_rows(first_ind, count))
    started = time.monotonic()
    await_queries(start_streaming(spark, prefix, warehouse, endpoint_url=kinesis_url))
    seconds = time.monotonic() - started
    counts = table_counts(spark, prefix, warehouse)
    assert all(counts[streaming_table_name(prefix, kind)] == count for kind in SOURCE_TABLE_BY_KIND), counts
    total = count * len(SOURCE_TABLE_BY_KIND)
    return {"records": total, "seconds": round(seconds, 2), "records_per_s": round(total / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", type=int, nargs="+", default=[200, 1000], help="records/s to PUT")
    parser.add_argument("--seconds", type=float, default=20, help="seconds of sending per rate")
    parser.add_argument("--trigger", default="500 milliseconds", help="micro-batch interval of the job")
    parser.add_argument("--backlog", type=int, default=15_000, help="records drained for the sustained rate")
    parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Spark setting of the session (repeatable)")
    args = parser.parse_args()
    spark_conf = dict(item.split("=", 1) for item in args.spark_conf)
    with tempfile.TemporaryDirectory(prefix="bench-streaming-") as workdir, MotoServer() as moto:
        kinesis_url = moto.url
        warehouse = str(Path(workdir, "warehouse"))
        gateway_args = ["--kinesis-endpoint", kinesis_url, "--log-level", "warning"]
        with GatewayProcess(Path(workdir, "lake"), extra_args=gateway_args) as gateway_process:
            gateway = gateway_process.url
            if requests.get(f"{gateway}/streams", timeout=10).status_code == 404:
                raise SystemExit("the gateway does not serve the Kinesis routes (/streams)")
            spark = get_spark("bench-streaming", warehouse_dir=warehouse, extra_conf=spark_conf)
            results: dict[str, Any] = {"trigger": args.trigger, "spark_conf": spark_conf, "cores": os.cpu_count(),
                                       "latency": []}
            first_ind = 0
            for rate in args.rates:
                results["latency"].append(measure_latency(spark, kinesis_url, gateway, warehouse, rate, args.seconds,
                                                          args.trigger, first_ind))
                first_ind += 100_000
            results["sustained"] = measure_throughput(spark, kinesis_url, gateway, warehouse, args.backlog, first_ind)
            spark.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
