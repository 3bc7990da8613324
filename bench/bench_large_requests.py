"""Benchmark: how long a one-record request waits while largest-allowed requests are written to the same topic.

Prints JSON: latency percentiles of sequential one-record POSTs alone, then while another client sends
``MAX_RECORDS_PER_REQUEST``-record POSTs to the same topic without pause (flush size 1: one lake object per
record, the original's layout and the worst case).

    .venv/bin/python bench/bench_large_requests.py --seconds 10
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time

import requests

from pinterest_pipeline.contract import MAX_RECORDS_PER_REQUEST, encode_json
from pinterest_pipeline.demo.processes import GatewayProcess

TOPIC = "124a514b9149.pin"
HEADERS = {"Content-Type": "application/vnd.kafka.json.v2+json"}


def body(records: int) -> bytes:
    return encode_json({"records": [{"value": {"ind": i, "title": "x" * 200}} for i in range(records)]})


def small_request_latencies(url: str, seconds: float) -> list[float]:
    """Seconds each sequential one-record request took, for ``seconds``."""
    latencies, payload = [], body(1)
    with requests.Session() as session:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            session.post(f"{url}/topics/{TOPIC}", data=payload, headers=HEADERS, timeout=120).raise_for_status()
            latencies.append(time.perf_counter() - started)
    return latencies


def summary(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {"requests": len(ordered), "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as lake, GatewayProcess(lake) as gateway:
        alone = small_request_latencies(gateway.url, args.seconds)
        stop, large_done, large_seconds = threading.Event(), [0], []
        payload = body(MAX_RECORDS_PER_REQUEST)

        def send_large() -> None:
            with requests.Session() as session:
                while not stop.is_set():
                    started = time.perf_counter()
                    session.post(f"{gateway.url}/topics/{TOPIC}", data=payload, headers=HEADERS,
                                 timeout=300).raise_for_status()
                    large_seconds.append(time.perf_counter() - started)
                    large_done[0] += 1

        sender = threading.Thread(target=send_large, daemon=True)
        sender.start()
        during = small_request_latencies(gateway.url, args.seconds)
        stop.set()
        sender.join()
    print(json.dumps({
        "records_per_large_request": MAX_RECORDS_PER_REQUEST,
        "large_requests": large_done[0],
        "large_request_median_s": round(statistics.median(large_seconds), 2) if large_seconds else None,
        "small_alone": summary(alone),
        "small_during_large": summary(during),
        "p50_ratio": round(statistics.median(during) / statistics.median(alone), 1),
        "cpu_count": os.cpu_count(), "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
