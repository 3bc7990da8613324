"""Benchmark: emulator → gateway → lake, batched and one record per request, against the original loop shape.

Prints JSON. The baseline is the original emulator's loop: a new engine per row, ``LIMIT <offset>, 1`` per table,
one ``requests.post`` per record (no session), no sleep.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import requests

from pinterest_pipeline.contract import SOURCE_TABLE_BY_KIND, topic_name
from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.emulator.delivery import RetryPolicy, pooled_session
from pinterest_pipeline.emulator.runner import EmulationPlan, run_emulation
from pinterest_pipeline.emulator.transports import KAFKA_JSON_V2, KafkaRestTransport
from pinterest_pipeline.source.database import fetch_row_at, make_engine, row_count, seed

PREFIX = "124a514b9149"


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20000, help="rows per table per run (batched and single)")
    parser.add_argument("--baseline-rows", type=int, default=2000, help="rows for the (slow) original loop shape")
    parser.add_argument("--source-rows", type=int, default=11000, help="rows seeded in the source database")
    args = parser.parse_args()
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
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
