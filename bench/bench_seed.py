"""Benchmark: seed N rows per table into SQLite (temp file) and a private MariaDB server; prints JSON.

``rows_per_s`` is rows per table per second, generation included. Also reports the generator alone.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.mariadb_server import MariaDBServer  # noqa: E402

from pinterest_pipeline.source.database import DEFAULT_CHUNK_SIZE, make_engine, row_count, seed  # noqa: E402
from pinterest_pipeline.source.generator import generate_rows  # noqa: E402
from pinterest_pipeline.source.vocabulary import build_vocabulary  # noqa: E402


def timed(rows: int, run: Any) -> dict[str, float]:
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}


def generate_only(rows: int, chunk_size: int) -> None:
    for start in range(0, rows, chunk_size):
        generate_rows(start, min(chunk_size, rows - start))


def seed_into(url: str, rows: int, chunk_size: int) -> dict[str, float]:
    engine = make_engine(url)
    try:
        result = timed(rows, lambda: seed(engine, rows, chunk_size=chunk_size))
        counts = {row_count(engine, table) for table in ("pinterest_data", "geolocation_data", "user_data")}
        if counts != {rows}:
            raise RuntimeError(f"expected {rows} rows per table, found {counts}")
        return result
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per table (default 1,000,000)")
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    parser.add_argument("--skip-mariadb", action="store_true", help="SQLite only")
    args = parser.parse_args()

    build_vocabulary(100)  # the one-off Faker warm-up is not part of any figure below
    report: dict[str, Any] = {"rows_per_table": args.rows, "chunk_size": args.chunk_size}
    report["generator_only"] = timed(args.rows, lambda: generate_only(args.rows, args.chunk_size))
    with tempfile.TemporaryDirectory() as folder:
        report["sqlite"] = seed_into(f"sqlite:///{Path(folder) / 'bench.db'}", args.rows, args.chunk_size)
    if not args.skip_mariadb:
        with MariaDBServer() as server:
            report["mariadb"] = seed_into(server.url, args.rows, args.chunk_size)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
