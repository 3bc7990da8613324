"""Command line shared by ``user_posting_emulation.py`` (Kafka REST) and its streaming twin (Kinesis)."""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Literal, Sequence
from urllib.parse import urlsplit

from pinterest_pipeline.config import ConfigError, is_loopback, load_settings, secret_file
from pinterest_pipeline.contract import MAX_RECORDS_PER_REQUEST
from pinterest_pipeline.emulator.delivery import DEFAULT_REQUEST_TIMEOUT_S, RetryPolicy, pooled_session
from pinterest_pipeline.emulator.fan_out import FanOut
from pinterest_pipeline.emulator.runner import EmulationPlan, run_emulation
from pinterest_pipeline.emulator.transports import KafkaRestTransport, KinesisTransport, Transport
from pinterest_pipeline.source.database import ensure_seeded, make_engine, row_count, safe_url

Route = Literal["kafka", "kinesis"]
ROUTES: tuple[Route, ...] = ("kafka", "kinesis")
#: Most concurrent connections ``--concurrency`` accepts.
MAX_CONCURRENCY = 64


def _bounded(kind: type, low: float, high: float | None = None) -> Callable[[str], Any]:
    """An argparse type: ``kind`` of the text, within ``low``..``high`` (argparse exits 2 otherwise)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < low or (high is not None and value > high) or value != value:  # value != value: NaN
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {text}")
        return value

    return parse


def invoke_url(text: str) -> str:
    """An http(s) URL with a host (argparse exits 2 otherwise)."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"not an http(s) URL with a host: {text!r}")
    return text


def build_parser(route: Route, prog: str | None = None) -> argparse.ArgumentParser:
    """Flags of both emulators; with none, they behave as the original (endless, 0–1 s sleeps)."""
    what = "Kafka REST Proxy v2 topics" if route == "kafka" else "Kinesis stream routes"
    parser = argparse.ArgumentParser(
        prog=prog, description=f"Send random source rows to the API gateway's {what}.",
        epilog="Secrets: a flag's value is visible to other local users in the process list; prefer the "
               "environment (PINTEREST_API_KEY, PINTEREST_DB_URL), db_creds.yml, or the --*-file flags.")
    parser.add_argument("--invoke-url", type=invoke_url,
                        help="API gateway base URL (default: settings, http://127.0.0.1:8080)")
    parser.add_argument("--prefix", help="topic/stream prefix, the original user id (default 124a514b9149)")
    parser.add_argument("--count", type=_bounded(int, 1),
                        help="rows to send (each row is one record per table); default: forever")
    parser.add_argument("--rate", type=_bounded(float, 0),
                        help="rows per second, 0 = no sleep; default: a random 0-1 s sleep per row as the original")
    parser.add_argument("--batch-size", type=_bounded(int, 1, MAX_RECORDS_PER_REQUEST), default=1,
                        help=f"records per request, 1-{MAX_RECORDS_PER_REQUEST} (default 1)")
    parser.add_argument("--concurrency", type=_bounded(int, 1, MAX_CONCURRENCY), default=1,
                        help=f"keep-alive connections sending at once, 1-{MAX_CONCURRENCY} (default 1); the records "
                             "of one source row always share a connection, in order (per-row order is kept)")
    parser.add_argument("--seed", type=int, default=100, help="random seed (default 100, as the original)")
    parser.add_argument("--max-index", type=_bounded(int, 0),
                        help="highest row index to sample (default: source row count - 1)")
    parser.add_argument("--db-url", help="SQLAlchemy URL of the source database (default: PINTEREST_DB_URL, "
                                         "db_creds.yml, or the SQLite sample)")
    parser.add_argument("--db-url-file", type=secret_file, dest="db_url_from_file", metavar="PATH",
                        help="a file whose first line is the source database URL")
    parser.add_argument("--creds-file", help="path of db_creds.yml (default: ./db_creds.yml or ./db_creds.yaml)")
    parser.add_argument("--api-key", help="x-api-key for an API Gateway usage plan (default: PINTEREST_API_KEY)")
    parser.add_argument("--api-key-file", type=secret_file, dest="api_key_from_file", metavar="PATH",
                        help="a file whose first line is the x-api-key")
    parser.add_argument("--max-attempts", type=_bounded(int, 1), default=8, help="tries per request (default 8)")
    parser.add_argument("--request-timeout", type=_bounded(float, 0.1), default=DEFAULT_REQUEST_TIMEOUT_S,
                        help=f"seconds to wait for one answer before retrying (default {DEFAULT_REQUEST_TIMEOUT_S:g})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--allow-sample-data", action="store_true",
                        help="send the built-in sample rows (no db_creds.yml) to a gateway that is not on this machine")
    return parser


def make_transport(route: Route, invoke_url: str, prefix: str, api_key: str | None,
                   policy: RetryPolicy, concurrency: int = 1) -> Transport:
    """The transport for the chosen gateway route: one pooled HTTP session, or ``concurrency`` of them sending
    at once (:class:`~pinterest_pipeline.emulator.fan_out.FanOut`)."""
    if concurrency > 1:
        return FanOut([make_transport(route, invoke_url, prefix, api_key, policy) for _ in range(concurrency)])
    session = pooled_session(api_key)
    if route == "kafka":
        return KafkaRestTransport(session, invoke_url, prefix, policy)
    return KinesisTransport(session, invoke_url, prefix, policy)


def main(route: Route, argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run one emulator; exit status 0 only when every record was delivered."""
    args = build_parser(route, prog).parse_args(argv)
    try:
        settings = load_settings(creds_file=args.creds_file, db_url=args.db_url or args.db_url_from_file,
                                 invoke_url=args.invoke_url, prefix=args.prefix,
                                 api_key=args.api_key or args.api_key_from_file)
        invoke_url(settings.invoke_url)
    except (ConfigError, argparse.ArgumentTypeError) as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
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
                               RetryPolicy(max_attempts=args.max_attempts, request_timeout_s=args.request_timeout),
                               args.concurrency)
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
