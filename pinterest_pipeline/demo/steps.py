"""Stages the demos share before Spark: the source database, the emulator at full speed, the lake's contents."""
from __future__ import annotations

import time
from pathlib import Path

from pinterest_pipeline.config import Settings
from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.demo.console import Console, duration, per_topic
from pinterest_pipeline.emulator.cli import Route, make_transport
from pinterest_pipeline.emulator.delivery import RetryPolicy
from pinterest_pipeline.emulator.runner import EmulationPlan, run_emulation
from pinterest_pipeline.source.database import ensure_seeded, make_engine, row_count, safe_url


def source_stage(console: Console, settings: Settings) -> None:
    """Seed the sample database unless it is there; one line with its size."""
    started = time.monotonic()
    with console.waiting("seeding the sample database"):
        seeded = ensure_seeded(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        rows = row_count(engine, "pinterest_data")
        where = safe_url(engine)
    finally:
        engine.dispose()
    how = f"seeded in {duration(time.monotonic() - started)}" if seeded else "already seeded"
    console.stage("source", f"{where}: {rows:,} rows per table ({how})")


def emulate(console: Console, settings: Settings, invoke_url: str, count: int, batch_size: int,
            route: Route = "kafka") -> None:
    """The emulator (the code behind ``user_posting_emulation.py``) at full speed; raise if a record was lost."""
    engine = make_engine(settings.database_url)
    transport = make_transport(route, invoke_url, settings.prefix, settings.api_key, RetryPolicy())
    plan = EmulationPlan(count=count, rate=0, batch_size=batch_size, seed=100,
                         max_index=row_count(engine, "pinterest_data") - 1)
    try:
        with console.watch("emulator", lambda: transport.stats.sent, total=count * len(KINDS), unit="record"):
            summary = run_emulation(engine, transport, plan, progress=False)
    finally:
        engine.dispose()
    if not summary.ok:
        raise RuntimeError(f"the emulator did not deliver every record: {summary.line()}; "
                           f"undelivered by reason: {transport.stats.errors}")
    per_request = "one record per request" if batch_size == 1 else f"{batch_size} records per request"
    console.stage("emulator", f"{summary.rows:,} rows → {summary.sent:,} records in {duration(summary.seconds)} "
                              f"({summary.records_per_s:,.0f} records/s, {per_request}), "
                              f"{summary.retried} retried, {summary.failed} failed")


def lake_stage(console: Console, lake_root: Path, prefix: str) -> None:
    """Objects and records per topic, in one line."""
    objects, records = 0, {}
    for kind in KINDS:
        paths = list((lake_root / "topics" / topic_name(prefix, kind)).glob("partition=*/*.json"))
        records[kind] = 0
        for path in paths:
            with path.open("rb") as stored:
                records[kind] += sum(1 for _ in stored)
        objects += len(paths)
    console.stage("lake", f"{sum(records.values()):,} records ({per_topic(records)}) in {objects:,} objects "
                          f"under {lake_root}/topics/, the Confluent S3 sink layout")
