"""Benchmark: SIGKILL the gateway while clients send, restart it, and count acknowledged vs stored records.

Prints JSON: records acknowledged before the kill, how many of them are in the lake after the restart (must be
all, once each), records stored that were never acknowledged (sent, answer lost in the kill: allowed, never
repeated), and the restart time. Clients send 1-3 records per request, a mix of sizes, over two partitions.

    .venv/bin/python bench/bench_crash_recovery.py --clients 16 --seconds 5
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

from pinterest_pipeline.contract import encode_json
from pinterest_pipeline.demo.processes import GatewayProcess

TOPIC = "124a514b9149.pin"
HEADERS = {"Content-Type": "application/vnd.kafka.json.v2+json"}


def stored_ids(lake: Path) -> Counter:
    """How often each record id is in the lake."""
    return Counter(json.loads(line)["id"] for path in (lake / "topics" / TOPIC).glob("partition=*/*.json")
                   for line in path.read_text().splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0, help="sending time before the kill")
    args = parser.parse_args()
    acknowledged: list[str] = []
    sent: set[str] = set()
    stop = threading.Event()

    def client(number: int, url: str) -> None:
        with requests.Session() as session:
            request = 0
            while not stop.is_set():
                ids = [f"{number}-{request}-{k}" for k in range(1 + request % 3)]
                request += 1
                sent.update(ids)
                try:
                    answer = session.post(f"{url}/topics/{TOPIC}", headers=HEADERS, timeout=30,
                                          data=encode_json({"records": [{"value": {"id": i}} for i in ids]}))
                except requests.RequestException:
                    return
                if answer.status_code != 200:
                    return
                acknowledged.extend(ids)

    with tempfile.TemporaryDirectory() as folder:
        lake = Path(folder) / "lake"
        with GatewayProcess(lake, extra_args=["--partitions", "2"]) as gateway:
            threads = [threading.Thread(target=client, args=(n, gateway.url), daemon=True)
                       for n in range(args.clients)]
            for thread in threads:
                thread.start()
            time.sleep(args.seconds)
            gateway.kill()
            acked_at_kill = list(acknowledged)
            stop.set()
            for thread in threads:
                thread.join(60)
            restarted = time.perf_counter()
            gateway.start()
            restart_s = time.perf_counter() - restarted
        counts = stored_ids(lake)
    acked = set(acked_at_kill)
    print(json.dumps({
        "clients": args.clients,
        "acknowledged_before_kill": len(acked),
        "acknowledged_in_lake_once": sum(1 for i in acked if counts[i] == 1),
        "acknowledged_missing": sum(1 for i in acked if counts[i] == 0),
        "stored_more_than_once": sum(1 for c in counts.values() if c > 1),
        "stored_unacknowledged": sum(1 for i in counts if i not in acked),
        "stored_never_sent": sum(1 for i in counts if i not in sent),
        "restart_s": round(restart_s, 2),
        "cpu_count": os.cpu_count(), "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
