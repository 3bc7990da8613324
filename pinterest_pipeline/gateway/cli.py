"""``python -m pinterest_pipeline.gateway``: the Kafka REST and Kinesis routes on 127.0.0.1, over the lake or Kafka."""
from __future__ import annotations

import argparse
import logging
import socket
from typing import Sequence

import uvicorn

from pinterest_pipeline.config import Settings, load_settings, secret_file
from pinterest_pipeline.gateway.app import create_app
from pinterest_pipeline.gateway.backend import RecordBackend
from pinterest_pipeline.gateway.kinesis_routes import kinesis_routes
from pinterest_pipeline.gateway.lake_backend import LakeBackend
from pinterest_pipeline.gateway.metrics import GatewayMetrics
from pinterest_pipeline.gateway.request_body import BodyLimits
from pinterest_pipeline.gateway.slow_clients import protocol_class
from pinterest_pipeline.kinesis import kinesis_client

logger = logging.getLogger("pinterest_pipeline.gateway")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pinterest_pipeline.gateway", description=__doc__)
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080)")
    parser.add_argument("--fd", type=int, help="serve on this inherited, already listening socket instead")
    parser.add_argument("--lake-root", help="lake folder or s3://bucket/prefix (default: settings, data/lake)")
    parser.add_argument("--prefix", help="user id prefix of the default topics (default 124a514b9149)")
    parser.add_argument("--topics", help="comma-separated topics to serve (default: <prefix>.pin,.geo,.user)")
    parser.add_argument("--flush-size", type=positive_int, help="records per lake object (default 1)")
    parser.add_argument("--rotate-interval-ms", type=positive_int,
                        help="also write a partial object once its first record is this old")
    parser.add_argument("--partitions", type=positive_int, help="partitions per topic (default 1)")
    parser.add_argument("--flush-on-close", action="store_true", default=None,
                        help="on shutdown, write partial objects too (else they wait in the write-ahead log)")
    parser.add_argument("--state-dir", help="write-ahead log folder (default: <lake>/_gateway_state, or "
                                            "data/gateway_state/<bucket> for s3:// lakes)")
    parser.add_argument("--s3-endpoint-url", help="S3 endpoint of an s3:// lake (default: AWS_ENDPOINT_URL_S3)")
    parser.add_argument("--max-body-bytes", type=positive_int, help="largest request body (default 10 MiB)")
    parser.add_argument("--api-key", help="require this x-api-key header (default: PINTEREST_API_KEY; a flag's "
                                          "value is visible to other local users: prefer the variable or the file)")
    parser.add_argument("--api-key-file", type=secret_file, dest="api_key_from_file", metavar="PATH",
                        help="a file whose first line is the API key")
    parser.add_argument("--kinesis-endpoint", help="Kinesis API endpoint for the streaming routes")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Project settings (file, environment), then the flags given."""
    topics = tuple(t.strip() for t in args.topics.split(",") if t.strip()) if args.topics else None
    return load_settings(
        gateway_host=args.host, gateway_port=args.port, lake_root=args.lake_root, prefix=args.prefix, topics=topics,
        flush_size=args.flush_size, rotate_interval_ms=args.rotate_interval_ms, partitions=args.partitions,
        flush_on_close=args.flush_on_close, state_dir=args.state_dir, s3_endpoint_url=args.s3_endpoint_url,
        max_body_bytes=args.max_body_bytes, api_key=args.api_key or args.api_key_from_file, kinesis_endpoint=args.kinesis_endpoint,
    )


def build_backend(settings: Settings, metrics: GatewayMetrics) -> RecordBackend:
    """The backend the settings ask for: Kafka when ``KAFKA_BOOTSTRAP_SERVERS`` is set, else the lake writer."""
    if settings.kafka_bootstrap_servers:
        from pinterest_pipeline.gateway.kafka_backend import KafkaBackend

        return KafkaBackend.from_settings(settings)
    return LakeBackend.from_settings(settings, on_journal_write=metrics.journal_written)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings_from_args(args)
    metrics = GatewayMetrics()
    backend = build_backend(settings, metrics)
    target = (f"Kafka {settings.kafka_bootstrap_servers}" if settings.kafka_bootstrap_servers
              else f"lake {settings.lake_root}, flush size {settings.flush_size}")
    logger.info("serving topics %s; %s%s", ", ".join(settings.topic_names), target,
                "; API key required" if settings.api_key else "")
    streams = kinesis_routes(lambda: kinesis_client(settings.kinesis_endpoint, settings.region),
                             BodyLimits.from_settings(settings), metrics)
    app = create_app(settings, backend, extra_routes=streams, metrics=metrics)
    config = uvicorn.Config(app, host=settings.gateway_host, port=settings.gateway_port, log_level=args.log_level,
                            lifespan="on", access_log=False, http=protocol_class(settings.header_timeout_seconds))
    sockets = [socket.socket(fileno=args.fd)] if args.fd is not None else None
    uvicorn.Server(config).run(sockets=sockets)
    return 0


