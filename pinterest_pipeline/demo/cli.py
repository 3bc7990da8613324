"""``python -m pinterest_pipeline.demo [--kafka | --stream]``: the whole pipeline on embedded defaults.

Without a flag the batch path (``make demo``): sample database → gateway → lake → Spark batch job → report.
``--kafka``: the same through a real local Kafka broker and the sink (``make demo KAFKA=1``). ``--stream``: the
streaming path through Kinesis (moto) into Delta tables (``make demo-stream``). Each prints one line per stage;
other programs' output goes to a log file under ``data/logs/``, named at the end (and with any error).
"""
from __future__ import annotations

import argparse
from typing import Sequence

from pinterest_pipeline.config import load_settings
from pinterest_pipeline.demo.batch_demo import run_batch_demo
from pinterest_pipeline.demo.console import LOG_DIR, Console
from pinterest_pipeline.demo.streaming import run_streaming_demo

TITLES = {
    "demo": "Batch demo: sample database → gateway → lake → Spark batch job → Delta tables and report",
    "demo-kafka": "Batch demo through Kafka: sample database → gateway → Kafka → sink → lake → Spark → report",
    "demo-stream": "Streaming demo: sample database → gateway → Kinesis (moto) → Spark Structured Streaming → Delta",
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pinterest_pipeline.demo", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--kafka", action="store_true",
                      help="ingest through a real local Kafka broker and the sink (make demo KAFKA=1)")
    mode.add_argument("--stream", action="store_true", help="the streaming path (make demo-stream)")
    parser.add_argument("--count", type=int, help="rows to emulate (default 3000; 1000 with --stream)")
    parser.add_argument("--batch-size", type=int,
                        help="records per gateway request (default 100; 1 with --stream: PutRecord as the original)")
    parser.add_argument("--flush-size", type=int, default=100, help="records per lake object (sink flush.size)")
    parser.add_argument("--skip-batch", action="store_true", help="stop after the ingest path")
    parser.add_argument("--workdir", default="data/demo_stream",
                        help="with --stream: gateway lake and Delta warehouse (emptied first)")
    parser.add_argument("--log-dir", default=str(LOG_DIR), help="folder of the log file (default data/logs)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one demo; 1 (the error in full, and the log's path, on stderr) if it fails."""
    args = parse_args(argv)
    settings = load_settings()
    name = "demo-stream" if args.stream else "demo-kafka" if args.kafka else "demo"
    with Console(name, args.log_dir) as console:
        console.title(TITLES[name])
        try:
            if args.stream:
                run_streaming_demo(console, settings, args.count or 1000, args.batch_size or 1, args.workdir)
            else:
                run_batch_demo(console, settings, args.count or 3000, args.batch_size or 100, args.flush_size,
                               kafka=args.kafka, skip_batch=args.skip_batch)
        except (Exception, KeyboardInterrupt) as error:
            console.failed(error)
            return 130 if isinstance(error, KeyboardInterrupt) else 1
        console.finished()
    return 0
