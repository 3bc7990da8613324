"""Command line shared by ``user_posting_emulation.py`` (Kafka REST) and its streaming twin (Kinesis)."""
from __future__ import annotations

import argparse
import sys
from typing import Literal, Sequence

from pinterest_pipeline.config import is_loopback, load_settings
from pinterest_pipeline.emulator.delivery import RetryPolicy, pooled_session
from pinterest_pipeline.emulator.runner import EmulationPlan, run_emulation
from pinterest_pipeline.emulator.transports import KafkaRestTransport, KinesisTransport, Transport
from pinterest_pipeline.source.database import ensure_seeded, make_engine, row_count, safe_url

Route = Literal["kafka", "kinesis"]
ROUTES: tuple[Route, ...] = ("kafka", "kinesis")


def build_parser(route: Route, prog: str | None = None) -> argparse.ArgumentParser:
    """Flags of both emulators; with none, they behave as the original (endless, 0–1 s sleeps)."""
    what = "Kafka REST Proxy v2 topics" if route == "kafka" else "Kinesis stream routes"
    parser = argparse.ArgumentParser(prog=prog, description=f"Send random source rows to the API gateway's {what}.")
    parser.add_argument("--invoke-url", help="API gateway base URL (default: settings, http://127.0.0.1:8080)")
    parser.add_argument("--prefix", help="topic/stream prefix, the original user id (default 124a514b9149)")
    parser.add_argument("--count", type=int, help="rows to send (each row is one record per table); default: forever")
    parser.add_argument("--rate", type=float,
                        help="rows per second, 0 = no sleep; default: a random 0-1 s sleep per row as the original")
    parser.add_argument("--batch-size", type=int, default=1, help="records per request (default 1)")
    parser.add_argument("--seed", type=int, default=100, help="random seed (default 100, as the original)")
    parser.add_argument("--max-index", type=int,
                        help="highest row index to sample (default: source row count - 1)")
    parser.add_argument("--db-url", help="SQLAlchemy URL of the source database (default: db_creds.yml or SQLite)")
    parser.add_argument("--creds-file", help="path of db_creds.yml (default: ./db_creds.yml or ./db_creds.yaml)")
    parser.add_argument("--api-key", help="x-api-key for an API Gateway usage plan (or PINTEREST_API_KEY)")
    parser.add_argument("--max-attempts", type=int, default=8, help="tries per request before giving up")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--allow-sample-data", action="store_true",
                        help="send the built-in sample rows (no db_creds.yml) to a gateway that is not on this machine")
    return parser


def make_transport(route: Route, invoke_url: str, prefix: str, api_key: str | None,
                   policy: RetryPolicy) -> Transport:
    """The transport for the chosen gateway route, sharing one pooled HTTP session."""
    session = pooled_session(api_key)
    if route == "kafka":
        return KafkaRestTransport(session, invoke_url, prefix, policy)
    return KinesisTransport(session, invoke_url, prefix, policy)


def main(route: Route, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run one emulator; exit status 0 only when every record was delivered."""
    args = build_parser(route, prog).parse_args(argv)
    if args.batch_size < 1:
        raise SystemExit("--batch-size must be at least 1")
    settings = load_settings(creds_file=args.creds_file, db_url=args.db_url, invoke_url=args.invoke_url,
                             prefix=args.prefix, api_key=args.api_key)
    sample_data = settings.db_url is None
    if sample_data and not is_loopback(settings.invoke_url) and not args.allow_sample_data:
        print(f"refusing to send the built-in sample data to {settings.invoke_url}: give db_creds.yml (or --db-url) "
              "for your source database, or --allow-sample-data to send the sample rows anyway", file=sys.stderr)
        return 2
    if sample_data:
        ensure_seeded(settings.database_url)
    engine = make_engine(settings.database_url)
    print(f"source: {safe_url(engine)}" + (" (sample data)" if sample_data else ""), flush=True)
    max_index = args.max_index if args.max_index is not None else row_count(engine, "pinterest_data") - 1
    plan = EmulationPlan(count=args.count, rate=args.rate, batch_size=args.batch_size, seed=args.seed,
                         max_index=max_index)
    transport = make_transport(route, settings.invoke_url, settings.prefix, settings.api_key,
                               RetryPolicy(max_attempts=args.max_attempts))
    summary = run_emulation(engine, transport, plan, progress=not args.no_progress)
    engine.dispose()
    print(summary.line(), flush=True)
    if transport.stats.errors:
        print(f"undelivered by reason: {transport.stats.errors}", file=sys.stderr)
    return 0 if summary.ok else 1


def main_with_route(argv: Sequence[str] | None = None) -> int:
    """``python -m pinterest_pipeline.emulator {kafka|kinesis} [flags]``: the route first, then the flags."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ROUTES:
        print(f"usage: python -m pinterest_pipeline.emulator {{{'|'.join(ROUTES)}}} [--help | flags]", file=sys.stderr)
        return 2
    return main(argv[0], argv[1:], prog=f"python -m pinterest_pipeline.emulator {argv[0]}")
