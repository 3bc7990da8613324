"""Benchmark: emulator → gateway → lake, batched and one record per request, against the original loop shape;
then 1, 4 and 16 concurrent single-record clients (group commit).

Prints JSON. The baseline is the original emulator's loop: a new engine per row, ``LIMIT <offset>, 1`` per table,
one ``requests.post`` per record (no session), no sleep.

The concurrent cases measure the gateway's single-record ingest: N keep-alive connections, each sending one
record per request and waiting for its 200 (every 200 follows an fsync covering the record), from a lean asyncio
client in this process (a heavier client would measure itself on 2 cores). Each case runs ``--rounds`` times,
interleaved, and the median is reported; ``--before PATH`` also measures a gateway from another checkout
(``PYTHONPATH=PATH``, e.g. main before group commit) in the same rounds. Goals: ≥ 3,000 records/s with 16
clients, ≥ 500 records/s with one; the output says which were missed.

    .venv/bin/python bench/bench_ingest.py --rows 3000 --baseline-rows 500 --rounds 3 --before /work/main
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from pinterest_pipeline.contract import SOURCE_TABLE_BY_KIND, encode_json, topic_name
from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.emulator.delivery import RetryPolicy, pooled_session
from pinterest_pipeline.emulator.runner import EmulationPlan, run_emulation
from pinterest_pipeline.emulator.transports import KAFKA_JSON_V2, KafkaRestTransport
from pinterest_pipeline.source.database import fetch_row_at, make_engine, row_count, seed

PREFIX = "124a514b9149"
#: Records per second to reach with one record per request: by concurrent clients.
GOALS = {16: 3000.0, 1: 500.0}


def run_ours(db_url: str, invoke_url: str, rows: int, batch_size: int) -> dict:
    """The project's emulator loop: one pooled engine, one query per table per batch, keep-alive HTTP."""
    engine = make_engine(db_url)
    transport = KafkaRestTransport(pooled_session(), invoke_url, PREFIX, RetryPolicy())
    plan = EmulationPlan(count=rows, rate=0, batch_size=batch_size, seed=100, max_index=row_count(engine, "pinterest_data") - 1)
    summary = run_emulation(engine, transport, plan, progress=False)
    engine.dispose()
    assert summary.ok, summary.line()
    return {"rows": rows, "records": summary.sent, "seconds": round(summary.seconds, 3),
            "records_per_s": round(summary.records_per_s, 1)}


def run_baseline(db_url: str, invoke_url: str, rows: int, max_index: int) -> dict:
    """The original loop shape, without its sleep."""
    rng = random.Random(100)
    sent = 0
    started = time.monotonic()
    for _ in range(rows):
        index = rng.randint(0, max_index)
        engine = make_engine(db_url)
        for kind, table in SOURCE_TABLE_BY_KIND.items():
            row = fetch_row_at(engine, table, index)
            body = json.dumps({"records": [{"value": row}]}, default=str)  # as the original
            response = requests.post(f"{invoke_url}/topics/{topic_name(PREFIX, kind)}", data=body,
                                     headers={"Content-Type": KAFKA_JSON_V2}, timeout=30)
            response.raise_for_status()
            sent += 1
        engine.dispose()
    seconds = time.monotonic() - started
    return {"rows": rows, "records": sent, "seconds": round(seconds, 3), "records_per_s": round(sent / seconds, 1)}


async def _post_records(host: str, port: int, path: str, bodies: list[bytes], latencies: list[float]) -> None:
    """One client: one keep-alive connection, one record per request, each answer awaited (must be 200)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for body in bodies:
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {KAFKA_JSON_V2}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            started = time.perf_counter()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status_line.split()[1:2] != [b"200"]:
                raise RuntimeError(f"{status_line!r}: {answer[:300]!r}")
    finally:
        writer.close()


#: Gateway metrics read around each concurrent case: journal writes (fsync included) and the records they held.
JOURNAL_SERIES = ("pinterest_gateway_journal_write_seconds_sum", "pinterest_gateway_journal_write_seconds_count",
                  "pinterest_gateway_journal_write_records_sum")


def gateway_figures(gateway: GatewayProcess) -> dict[str, float]:
    """The gateway's CPU seconds so far (Linux ``/proc``) and its journal write series."""
    stat = Path(f"/proc/{gateway.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    figures = {"cpu_s": (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")}
    for family in text_string_to_metric_families(requests.get(f"{gateway.url}/metrics", timeout=30).text):
        for sample in family.samples:
            if sample.name in JOURNAL_SERIES:
                figures[sample.name] = sample.value
    return figures


def run_concurrent(gateway: GatewayProcess, clients: int, records: int) -> dict:
    """``records`` single-record requests spread over ``clients`` connections sending at once; with the
    gateway's CPU per record and its journal writes (how many records one fsync covered, how long it took)."""
    url = gateway.url
    host, port = url.removeprefix("http://").split(":")
    path = f"/topics/{topic_name(PREFIX, 'pin')}"
    per_client = records // clients
    bodies = [[encode_json({"records": [{"value": {"ind": n * per_client + i, "title": "x" * 200}}]})
               for i in range(per_client)] for n in range(clients)]
    latencies: list[float] = []

    async def all_clients() -> None:
        await asyncio.gather(*(_post_records(host, int(port), path, own, latencies) for own in bodies))

    before = gateway_figures(gateway)
    started = time.perf_counter()
    asyncio.run(all_clients())
    seconds = time.perf_counter() - started
    after = gateway_figures(gateway)
    writes = after["pinterest_gateway_journal_write_seconds_count"] - before["pinterest_gateway_journal_write_seconds_count"]
    latencies.sort()
    return {"records": len(latencies), "seconds": round(seconds, 3), "records_per_s": round(len(latencies) / seconds, 1),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
            "gateway_cpu_ms_per_record": round((after["cpu_s"] - before["cpu_s"]) / len(latencies) * 1000, 3),
            "records_per_journal_write": round((after["pinterest_gateway_journal_write_records_sum"]
                                                - before["pinterest_gateway_journal_write_records_sum"]) / writes, 2),
            "journal_write_ms": round((after["pinterest_gateway_journal_write_seconds_sum"]
                                       - before["pinterest_gateway_journal_write_seconds_sum"]) / writes * 1000, 3)}


def concurrent_cases(lake: Path, clients: list[int], records: int, rounds: int, before: str | None) -> dict:
    """Median records/s per client count, after (this checkout) and optionally before, rounds interleaved."""
    versions = {"after": None} if before is None else {"before": before, "after": None}
    runs: dict[str, dict[int, list[dict]]] = {name: {n: [] for n in clients} for name in versions}
    for round_number in range(rounds):
        for name, package in versions.items():
            # PYTHONSAFEPATH: ``python -m`` must not put the working directory (maybe this checkout) first.
            env = {"PYTHONPATH": package, "PYTHONSAFEPATH": "1"} if package else None
            with GatewayProcess(lake / f"{name}-{round_number}", flush_size=500, env=env,
                                extra_args=["--prefix", PREFIX, "--flush-on-close"]) as gateway:
                for count in clients:
                    runs[name][count].append(run_concurrent(gateway, count, records))
    results: dict = {}
    for name, by_clients in runs.items():
        results[name] = {
            f"{count}_clients": {**{f"median_{key}": statistics.median(r[key] for r in attempts)
                                    for key in attempts[0] if key not in ("records", "seconds")},
                                 "records_per_s_each_round": [r["records_per_s"] for r in attempts]}
            for count, attempts in by_clients.items()}
    results["goals_missed"] = [
        f"{count} concurrent single-record client(s): {results['after'][f'{count}_clients']['median_records_per_s']} "
        f"records/s, goal {goal:,.0f}"
        for count, goal in GOALS.items()
        if count in clients and results["after"][f"{count}_clients"]["median_records_per_s"] < goal]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20000, help="rows per table per run (batched and single)")
    parser.add_argument("--baseline-rows", type=int, default=2000, help="rows for the (slow) original loop shape")
    parser.add_argument("--source-rows", type=int, default=11000, help="rows seeded in the source database")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16],
                        help="concurrent single-record clients per case (default 1 4 16)")
    parser.add_argument("--concurrent-records", type=int, default=6000, help="records per concurrent case")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each concurrent case (median reported)")
    parser.add_argument("--before", metavar="PATH",
                        help="also measure the gateway of this checkout (PYTHONPATH), e.g. main before a change")
    args = parser.parse_args()
    if args.before and sys.version_info < (3, 11):
        parser.error("--before needs Python 3.11 or later (PYTHONSAFEPATH)")
    load_at_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'source.db'}"
        seed(make_engine(db_url), args.source_rows, seed=100)
        results = {}
        with GatewayProcess(Path(tmp) / "lake", flush_size=500,
                            extra_args=["--prefix", PREFIX, "--flush-on-close"]) as gateway:
            url = gateway.url
            results["batched_500"] = run_ours(db_url, url, args.rows, 500)
            results["single_record"] = run_ours(db_url, url, args.rows, 1)
            results["baseline_original_loop"] = run_baseline(db_url, url, args.baseline_rows,
                                                             args.source_rows - 1)
    base = results["baseline_original_loop"]["records_per_s"]
    results["ratio_batched_to_baseline"] = round(results["batched_500"]["records_per_s"] / base, 1)
    results["ratio_single_to_baseline"] = round(results["single_record"]["records_per_s"] / base, 1)
    results["note"] = "records = rows x 3 tables; one process for emulator, one for the gateway, 2 cores"
    with tempfile.TemporaryDirectory() as tmp:
        results["concurrent_single_record"] = concurrent_cases(Path(tmp), args.clients, args.concurrent_records,
                                                               args.rounds, args.before)
    results["cpu_count"] = os.cpu_count()
    results["load_average_1m"] = {"start": load_at_start, "end": round(os.getloadavg()[0], 2)}
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
