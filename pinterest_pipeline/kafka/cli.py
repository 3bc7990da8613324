"""``python -m pinterest_pipeline.kafka broker {start|stop|status|topics|fetch}`` and ``... kafka sink``.

``broker``: a local single-node Kafka (KRaft) on 127.0.0.1 (``scripts/kafka-local`` is a shortcut).
``sink``: Kafka → lake in the Confluent S3 sink layout (what MSK Connect's S3 sink did in the original).
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from typing import Sequence

from pinterest_pipeline.config import Settings, load_settings
from pinterest_pipeline.kafka.broker import (
    DEFAULT_PORT,
    DEFAULT_STATE_DIR,
    DEFAULT_VERSION,
    NOT_RUNNING,
    BrokerFailed,
    JarsUnavailable,
    LocalKafka,
    ensure_jars,
    ensure_topics,
    topic_summaries,
)
from pinterest_pipeline.kafka.client_config import client_config
from pinterest_pipeline.kafka.sink import LakeSink, SinkOptions

BROKER_COMMANDS = ("start", "stop", "status", "topics", "fetch")


def _add_broker_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("broker", help="a local Kafka broker (KRaft) on 127.0.0.1")
    parser.add_argument("command", choices=BROKER_COMMANDS,
                        help="start the broker and create the topics; stop it; is it running; list topics; "
                             "only fetch the jars")
    parser.add_argument("--state-dir", default=os.environ.get("KAFKA_LOCAL_STATE_DIR", DEFAULT_STATE_DIR),
                        help=f"data, configuration, log and pid of the broker (default {DEFAULT_STATE_DIR})")
    parser.add_argument("--port", type=int, help=f"client port (default: last used, else {DEFAULT_PORT})")
    parser.add_argument("--controller-port", type=int, help="KRaft controller port (default: client port + 1)")
    parser.add_argument("--version", help=f"Apache Kafka version (default: last used, else {DEFAULT_VERSION})")
    parser.add_argument("--prefix", help="topic prefix (default: settings, 124a514b9149)")
    parser.add_argument("--partitions", type=int,
                        help="partitions of each topic created (default: settings, PINTEREST_PARTITIONS, else 1)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the broker")


def _add_sink_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("sink", help="consume the topics into the lake (Confluent S3 sink layout)")
    parser.add_argument("--bootstrap-servers", help="Kafka brokers (default: KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument("--lake-root", help="lake folder or s3://bucket/prefix (default: settings, data/lake)")
    parser.add_argument("--prefix", help="topics <prefix>.pin|geo|user (default 124a514b9149)")
    parser.add_argument("--topics-regex", help="consume the topics matching this regular expression instead")
    parser.add_argument("--flush-size", type=int, help="records per object (default 1, as the original)")
    parser.add_argument("--rotate-interval-ms", type=int,
                        help="also close an object at a record this much later (record timestamps) than its first")
    parser.add_argument("--rotate-schedule-interval-ms", type=int,
                        help="also close an object open this long by the wall clock (writes partial objects)")
    parser.add_argument("--group-id", help="consumer group (default connect-<prefix>-s3-sink)")
    parser.add_argument("--until-caught-up", action="store_true",
                        help="write partial objects and exit once every partition is read to its end")
    parser.add_argument("--s3-endpoint-url", help="S3 endpoint of an s3:// lake (default: AWS_ENDPOINT_URL_S3)")
    parser.add_argument("--metrics-port", type=int,
                        help="serve Prometheus metrics on 127.0.0.1:<port>/metrics (docs/metrics.md)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pinterest_pipeline.kafka",
                                     description="A local Kafka broker, and the sink from Kafka to the lake.")
    commands = parser.add_subparsers(dest="tool", required=True)
    _add_broker_parser(commands)
    _add_sink_parser(commands)
    return parser


def run_broker(args: argparse.Namespace) -> int:
    """One broker command; 0, or :data:`NOT_RUNNING` for ``status`` / ``topics`` without a broker."""
    broker = LocalKafka(args.state_dir, port=args.port, controller_port=args.controller_port, version=args.version)
    if args.command == "fetch":
        started = time.monotonic()
        libs = ensure_jars(broker.version)
        print(f"{libs} ({len(list(libs.glob('*.jar')))} jars, {time.monotonic() - started:.1f} s)")
    elif args.command == "start":
        started = time.monotonic()
        broker.start(args.timeout)
        settings = load_settings(prefix=args.prefix, partitions=args.partitions)
        created = ensure_topics(broker.bootstrap_servers, settings.topic_names, settings.partitions)
        print(f"Kafka {broker.version} up on {broker.bootstrap_servers} (pid {broker.pid()}, state {broker.state_dir},"
              f" {time.monotonic() - started:.1f} s); topics created: {', '.join(created) or 'none'}")
        print(f"KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap_servers}")
    elif args.command == "stop":
        print("stopped" if broker.stop() else "not running")
    elif args.command == "status":
        pid = broker.pid()
        print(f"running on {broker.bootstrap_servers} (pid {pid})" if pid else "not running")
        return 0 if pid else NOT_RUNNING
    else:
        if not broker.is_running():
            print("not running", file=sys.stderr)
            return NOT_RUNNING
        for name, partitions, records in topic_summaries(broker.bootstrap_servers):
            print(f"{name:<28} partitions={partitions:<3} records={records}")
    return 0


def sink_options(args: argparse.Namespace, settings: Settings) -> SinkOptions:
    """The sink's options: the flags given, then the project settings (file, environment, defaults)."""
    return SinkOptions(
        lake_root=settings.lake_root,
        topics=settings.topic_names,
        topics_regex=args.topics_regex,
        group_id=args.group_id or f"connect-{settings.prefix}-s3-sink",
        flush_size=settings.flush_size,
        rotate_interval_ms=settings.rotate_interval_ms,
        rotate_schedule_interval_ms=args.rotate_schedule_interval_ms,
        until_caught_up=args.until_caught_up,
        s3_endpoint_url=settings.s3_endpoint_url,
    )


def run_sink(args: argparse.Namespace) -> int:
    """Run the sink until stopped (SIGTERM / SIGINT) or, with ``--until-caught-up``, caught up."""
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(prefix=args.prefix, lake_root=args.lake_root, flush_size=args.flush_size,
                                 rotate_interval_ms=args.rotate_interval_ms, s3_endpoint_url=args.s3_endpoint_url,
                                 kafka_bootstrap_servers=args.bootstrap_servers)
        sink = LakeSink(sink_options(args, settings), client_config(settings.kafka_bootstrap_servers))
    except ValueError as error:
        print(f"sink: {error}", file=sys.stderr)
        return 2
    if args.metrics_port is not None:
        sink.metrics.serve(args.metrics_port)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: sink.stop())
    print(sink.run().line(), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_broker(args) if args.tool == "broker" else run_sink(args)
    except (JarsUnavailable, BrokerFailed) as failure:
        print(f"kafka: {failure}", file=sys.stderr)
        return 1
