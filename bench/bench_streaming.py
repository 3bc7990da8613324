"""Benchmark: streaming latency, PUT through the gateway → row visible in the Delta table, and job throughput.

Everything local: moto server (Kinesis), the gateway with ``--kinesis-endpoint``, the streaming job with a
processing-time trigger. For each rate, a sender in its own process PUTs rows with unique ``ind`` through the
gateway (PutRecords, each stream from its own thread) at that many records per second across the three
streams, catching up with bigger requests when it falls behind; a row's latency runs from just before its PUT to
the moment the Delta commit holding it was written (the ``_delta_log`` entry's mtime). The sustained rate is
the job draining a backlog with ``availableNow`` on a warm session: records over the time of its micro-batches
(and, beside it, over the wall time including the query's start). Prints JSON with the machine's load average
and the goals (p50 ≤ 2 s and p95 ≤ 4 s at 1,000 records/s, sustained ≥ 5,000 records/s) met or missed; exits
1 when a sender reached less than 95 % of its target rate (the latency figures then do not measure that rate).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
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
#: A sender below this share of its target rate fails the run.
MIN_SENT_SHARE = 0.95
GOALS = {"p50_s": 2.0, "p95_s": 4.0, "at_records_per_s": 1000, "sustained_records_per_s": 5000}


def put_chunk(session: requests.Session, gateway: str, stream: str, rows: list[dict]) -> None:
    """One PutRecords request (≤ 500 records) through the gateway."""
    body = {"records": [{"data": row, "partition-key": "partition_1"} for row in rows]}
    answer = session.put(f"{gateway}/streams/{stream}/records", data=encode_json(body),
                         headers={"Content-Type": "application/json"}, timeout=30)
    answer.raise_for_status()
    if answer.json()["FailedRecordCount"]:
        raise RuntimeError(f"Kinesis refused records: {answer.text[:300]}")


def put_rows(session: requests.Session, gateway: str, prefix: str, rows: dict[str, list[dict]]) -> None:
    """Every row, 500 per PutRecords request, stream after stream."""
    for kind, table in SOURCE_TABLE_BY_KIND.items():
        for start in range(0, len(rows[table]), 500):
            put_chunk(session, gateway, stream_name(prefix, kind), rows[table][start:start + 500])


def send_stream(gateway: str, stream: str, kind: str, rows: list[dict], records_per_s: float,
                started: float) -> list[tuple[str, int, float]]:
    """PUT ``rows`` to ``stream`` at ``records_per_s`` from ``started`` (monotonic) on: every few milliseconds what
    is due by then (≤ 500 per request), so a slow request makes the next one bigger instead of lowering the rate.
    Returns ``(kind, ind, send time)`` per row."""
    session, sent_at, sent = requests.Session(), [], 0
    while sent < len(rows):
        due = min(len(rows), sent + 500, int(records_per_s * (time.monotonic() - started)) + 1)
        if due <= sent:
            time.sleep(0.005)
            continue
        now = time.time()
        put_chunk(session, gateway, stream, rows[sent:due])
        sent_at += [(kind, row[KEY[kind]], now) for row in rows[sent:due]]
        sent = due
    return sent_at


def send_paced(gateway: str, prefix: str, first_ind: int, count: int, records_per_s: float) -> dict[str, Any]:
    """PUT ``count`` rows per stream at ``records_per_s`` (all streams together; run in its own process), the
    three streams independently (one thread and keep-alive connection each). Returns the send time of each row
    (``[kind, ind, epoch seconds]``) and the achieved rate."""
    rows = generate_rows(first_ind, count)
    per_stream_rate = records_per_s / len(SOURCE_TABLE_BY_KIND)
    with ThreadPoolExecutor(max_workers=len(SOURCE_TABLE_BY_KIND)) as pool:
        started = time.monotonic()
        streams = [pool.submit(send_stream, gateway, stream_name(prefix, kind), kind, rows[table], per_stream_rate,
                               started) for kind, table in SOURCE_TABLE_BY_KIND.items()]
        sent_at = [row for stream in streams for row in stream.result()]
        seconds = time.monotonic() - started
    return {"sent_at": sent_at, "seconds": seconds, "records_per_s": len(sent_at) / seconds}


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


def wait_for_records(query: StreamingQuery, expected: int, timeout: float) -> None:
    """Until the query's micro-batches (committed: their rows are visible) hold ``expected`` records; reads only the
    query's progress, so that waiting runs no Spark job beside the one measured."""
    deadline, read = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        if query.exception() is not None:
            raise RuntimeError(f"the streaming query failed: {query.exception()}")
        read.update({p["batchId"]: p["numInputRows"] for p in query.recentProgress})
        if sum(read.values()) >= expected:
            return
        time.sleep(0.2)
    raise TimeoutError(f"{sum(read.values())} of {expected} records processed after {timeout} s")


def last_job_id(spark: SparkSession) -> int:
    """Id of the last Spark job started in this session (ids count up from 0)."""
    tracker = spark.sparkContext.statusTracker()
    return max(tracker.getJobIdsForGroup(None), default=-1)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def batch_phases(progress: list[dict[str, Any]]) -> dict[str, float]:
    """Median ``durationMs`` of each phase over the micro-batches ``progress``."""
    phases: dict[str, list[float]] = {}
    for batch in progress:
        for phase, ms in batch["durationMs"].items():
            phases.setdefault(phase, []).append(ms)
    return {phase: statistics.median(values) for phase, values in sorted(phases.items())}


def measure_latency(spark: SparkSession, sender: ProcessPoolExecutor, kinesis_url: str, gateway: str,
                    warehouse: str, rate: int, seconds: float, trigger: str, first_ind: int) -> dict[str, Any]:
    prefix = f"latency{rate}"
    ensure_streams(kinesis_client(kinesis_url), prefix)
    warmup, count = 5, int(rate * seconds / len(SOURCE_TABLE_BY_KIND))
    [query] = start_streaming(spark, prefix, warehouse, endpoint_url=kinesis_url, trigger=trigger)
    try:
        put_rows(requests.Session(), gateway, prefix, generate_rows(first_ind, warmup))
        wait_for_records(query, warmup * len(SOURCE_TABLE_BY_KIND), timeout=600)  # first micro-batch done, warm
        since = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        first_job = last_job_id(spark)
        sent = sender.submit(send_paced, gateway, prefix, first_ind + warmup, count, rate).result()
        wait_for_records(query, (warmup + count) * len(SOURCE_TABLE_BY_KIND), timeout=600)
        jobs = last_job_id(spark) - first_job
        progress = [p for p in query.recentProgress if p["numInputRows"] and p["timestamp"] >= since]
    finally:
        query.stop()
    sent_at = {(kind, ind): at for kind, ind, at in sent["sent_at"]}
    measured = latencies(spark, warehouse, prefix, sent_at)
    assert len(measured) == len(sent_at), "every record sent must be visible exactly once"
    return {"target_records_per_s": rate, "records": len(sent_at),
            "sent_records_per_s": round(sent["records_per_s"], 1),
            "latency_s": {"p50": round(percentile(measured, 0.50), 3), "p95": round(percentile(measured, 0.95), 3),
                          "max": round(max(measured), 3)},
            "micro_batches": len(progress), "spark_jobs_per_micro_batch": round(jobs / max(1, len(progress)), 1),
            "median_records_per_batch": statistics.median(p["numInputRows"] for p in progress),
            "median_batch_ms": batch_phases(progress)}


def measure_throughput(spark: SparkSession, kinesis_url: str, gateway: str, warehouse: str, records: int,
                       first_ind: int) -> dict[str, Any]:
    prefix = "backlog"
    ensure_streams(kinesis_client(kinesis_url), prefix)
    count = records // len(SOURCE_TABLE_BY_KIND)
    put_rows(requests.Session(), gateway, prefix, generate_rows(first_ind, count))
    started = time.monotonic()
    queries = start_streaming(spark, prefix, warehouse, endpoint_url=kinesis_url)
    await_queries(queries)
    seconds = time.monotonic() - started
    counts = table_counts(spark, prefix, warehouse)
    assert all(counts[streaming_table_name(prefix, kind)] == count for kind in SOURCE_TABLE_BY_KIND), counts
    total = count * len(SOURCE_TABLE_BY_KIND)
    batches = [p for q in queries for p in q.recentProgress if p["numInputRows"]]
    batch_seconds = sum(p["durationMs"]["triggerExecution"] for p in batches) / 1000
    return {"records": total, "micro_batches": len(batches), "batch_seconds": round(batch_seconds, 2),
            "records_per_s": round(total / batch_seconds, 1), "wall_seconds_with_query_start": round(seconds, 2),
            "wall_records_per_s": round(total / seconds, 1), "median_batch_ms": batch_phases(batches)}


def verdict(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``(errors, goals missed)``: senders below :data:`MIN_SENT_SHARE` of their target, and the goals not met."""
    errors, missed = [], []
    for run in results["latency"]:
        target, sent = run["target_records_per_s"], run["sent_records_per_s"]
        if sent < MIN_SENT_SHARE * target:
            errors.append(f"the sender reached {sent} records/s, below {MIN_SENT_SHARE:.0%} of its target {target}")
        if target == GOALS["at_records_per_s"]:
            for name, goal in (("p50", GOALS["p50_s"]), ("p95", GOALS["p95_s"])):
                if run["latency_s"][name] > goal:
                    missed.append(f"{name} {run['latency_s'][name]} s > {goal} s at {target} records/s")
    sustained = results["sustained"]["records_per_s"]
    if sustained < GOALS["sustained_records_per_s"]:
        missed.append(f"sustained {sustained} records/s < {GOALS['sustained_records_per_s']}")
    return errors, missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", type=int, nargs="+", default=[200, 1000], help="records/s to PUT")
    parser.add_argument("--seconds", type=float, default=20, help="seconds of sending per rate")
    parser.add_argument("--trigger", default="500 milliseconds", help="micro-batch interval of the job")
    parser.add_argument("--backlog", type=int, default=15_000, help="records drained for the sustained rate")
    parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Spark setting of the session (repeatable)")
    args = parser.parse_args()
    spark_conf = dict(item.split("=", 1) for item in args.spark_conf)
    load_at_start = os.getloadavg()
    sender = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    with tempfile.TemporaryDirectory(prefix="bench-streaming-") as workdir, MotoServer() as moto, sender:
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
                results["latency"].append(measure_latency(spark, sender, kinesis_url, gateway, warehouse, rate,
                                                          args.seconds, args.trigger, first_ind))
                first_ind += 100_000
            results["sustained"] = measure_throughput(spark, kinesis_url, gateway, warehouse, args.backlog, first_ind)
            spark.stop()
    errors, missed = verdict(results)
    results.update({"load_average_1m_at_start": round(load_at_start[0], 2),
                    "load_average_1m_at_end": round(os.getloadavg()[0], 2),
                    "goals": GOALS, "goals_missed": missed, "errors": errors})
    print(json.dumps(results, indent=2))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
