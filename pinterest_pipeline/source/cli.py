"""``python -m pinterest_pipeline.source seed|count``: fill the source database, or show its row counts."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

from sqlalchemy.exc import SQLAlchemyError
from tqdm import tqdm

from pinterest_pipeline.config import load_settings
from pinterest_pipeline.source.database import DEFAULT_CHUNK_SIZE, make_engine, safe_url, seed, table_row_counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pinterest_pipeline.source",
                                     description="The source database (the original's RDS) on SQLite or MySQL.")
    commands = parser.add_subparsers(dest="command", required=True)
    seed_parser = commands.add_parser("seed", help="drop, recreate and fill the three source tables")
    seed_parser.add_argument("--rows", type=int, default=11000, help="rows per table (default 11000)")
    seed_parser.add_argument("--seed", type=int, default=100, help="random seed (default 100)")
    seed_parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE,
                             help=f"rows per table per insert batch (default {DEFAULT_CHUNK_SIZE})")
    seed_parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    count_parser = commands.add_parser("count", help="print the row count of each source table")
    for sub in (seed_parser, count_parser):
        sub.add_argument("--url", help="SQLAlchemy URL (default: db_creds.yml → MySQL, else sqlite:///data/pinterest.db)")
        sub.add_argument("--creds-file", help="path of db_creds.yml (default: ./db_creds.yml or ./db_creds.yaml)")
    return parser


def run_seed(url: str, rows: int, random_seed: int, chunk_size: int, progress: bool) -> None:
    engine = make_engine(url)
    started = time.perf_counter()
    with tqdm(total=rows, unit="rows", disable=not progress) as bar:
        seed(engine, rows, random_seed, chunk_size, on_chunk=bar.update)
    seconds = time.perf_counter() - started
    rate = rows / seconds if seconds > 0 else 0.0
    print(f"seeded {rows} rows per table into {safe_url(engine)} in {seconds:.2f} s ({rate:.0f} rows/s per table)")
    engine.dispose()


def run_count(url: str) -> None:
    engine = make_engine(url)
    for table, count in table_row_counts(engine).items():
        print(f"{table}: {'missing' if count is None else count}")
    engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = load_settings(creds_file=args.creds_file, db_url=args.url).database_url
    try:
        if args.command == "seed":
            run_seed(url, args.rows, args.seed, args.chunk_size, progress=not args.no_progress)
        else:
            run_count(url)
    except (SQLAlchemyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
