"""The streaming job against moto server: exactly once across a restart, quarantine, and the whole path from
the streaming emulator through the gateway to three Delta tables equal to an independent DuckDB cleansing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from delta.tables import DeltaTable
from py4j.protocol import Py4JJavaError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from pinterest_pipeline.contract import (
    SOURCE_TABLE_BY_KIND,
    encode_json,
    stream_name,
    streaming_quarantine_table_name,
    streaming_table_name,
    topic_name,
)
from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.kinesis import ensure_streams
from pinterest_pipeline.source.database import fetch_rows, make_engine, seed
from pinterest_pipeline.source.generator import generate_rows
from pinterest_pipeline.spark.delta import Warehouse
from pinterest_pipeline.spark.parsing import (
    REASON_BLANK,
    REASON_MALFORMED,
    REASON_MISSING_KEY,
    REASON_NON_FINITE,
    REASON_NOT_UTF8,
)
from pinterest_pipeline.streaming.job import (
    KINESIS_QUARANTINE_COLUMNS,
    CheckpointIdentity,
    MicroBatchWriter,
    Route,
    await_queries,
    cleaned_schema,
    start_streaming,
    table_counts,
)
from pinterest_pipeline.streaming.kinesis_source import SCHEMA as KINESIS_SCHEMA
from tests.support import REPO_ROOT
from tests.support.readers import rows_three_ways
from tests.support.duckdb_reference import DuckDBReference, comparable_rows
from tests.support.lake_files import write_topic
from tests.support.source_sample import drawn_indices

pytestmark = pytest.mark.spark

REPO = REPO_ROOT


def put_rows(kinesis: Any, stream: str, rows: list[dict[str, Any]]) -> None:
    """Rows as the JSON text the gateway stores, in one PutRecords call."""
    records = [{"Data": encode_json(row), "PartitionKey": "partition_1"} for row in rows]
    assert kinesis.put_records(StreamName=stream, Records=records)["FailedRecordCount"] == 0


def table(spark: SparkSession, warehouse: Path, name: str) -> DataFrame:
    return Warehouse(str(warehouse)).read(spark, name)


def wait_for_first_batch(query: StreamingQuery, timeout: float = 300) -> None:
    """Until the query has finished its first micro-batch (its progress is reported once it is committed)."""
    deadline = time.monotonic() + timeout
    while not query.recentProgress:
        assert query.exception() is None, query.exception()
        assert time.monotonic() < deadline, "the query finished no micro-batch"
        time.sleep(0.1)


def test_restart_from_checkpoint_writes_every_record_exactly_once(spark: SparkSession, moto_endpoint: str,
                                                                   kinesis: Any, tmp_path: Path) -> None:
    prefix = uuid.uuid4().hex[:12]
    ensure_streams(kinesis, prefix)
    rows = generate_rows(0, 60, seed=3)["pinterest_data"]
    pin_stream = stream_name(prefix, "pin")
    put_rows(kinesis, pin_stream, rows[:40])
    bad = [b"not json at all", b"   ", b'{"title": "no index"}', b'{"index": "not a number"}']
    kinesis.put_records(StreamName=pin_stream, Records=[{"Data": data, "PartitionKey": "partition_1"} for data in bad])
    warehouse = tmp_path / "warehouse"
    options = dict(endpoint_url=moto_endpoint, max_records_per_batch=20, kinds=["pin"])

    # A processing-time trigger runs its first micro-batch at once and the next one only a year later (the
    # interval is long on purpose): the query is stopped after exactly one micro-batch of 20 records.
    [query] = start_streaming(spark, prefix, str(warehouse), trigger="365 days", **options)
    try:
        wait_for_first_batch(query)
    finally:
        query.stop()
    assert [p["numInputRows"] for p in query.recentProgress] == [20]
    assert table(spark, warehouse, streaming_table_name(prefix, "pin")).count() == 20  # stopped mid-way
    put_rows(kinesis, pin_stream, rows[40:])
    await_queries(start_streaming(spark, prefix, str(warehouse), trigger="availableNow", **options))

    written = sorted(r["ind"] for r in table(spark, warehouse, streaming_table_name(prefix, "pin")).collect())
    assert written == sorted(row["index"] for row in rows)  # every record, once
    quarantined = table(spark, warehouse, streaming_quarantine_table_name(prefix)).collect()
    assert sorted((r["raw_data"], r["reason"]) for r in quarantined) == sorted([
        ("not json at all", REASON_MALFORMED), ("   ", REASON_BLANK),
        ('{"title": "no index"}', f"{REASON_MISSING_KEY} index"), ('{"index": "not a number"}', REASON_MALFORMED),
    ])
    assert {r["stream"] for r in quarantined} == {pin_stream}
    counts = table_counts(spark, prefix, str(warehouse))
    assert counts[streaming_quarantine_table_name(prefix)] == len(bad)
    assert counts[streaming_table_name(prefix, "geo")] == 0  # not started: no table


def checkpoint_of(tmp_path: Path, query_id: str) -> CheckpointIdentity:
    """A checkpoint folder whose ``metadata`` names ``query_id``, as Spark writes it."""
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "metadata").write_text(f'{{"id":"{query_id}"}}\n')
    return CheckpointIdentity(str(checkpoint))


def kinesis_batch(spark: SparkSession, records: list[tuple[str, bytes]]) -> DataFrame:
    """A micro-batch as the Kinesis source gives it: ``(stream, data)`` pairs, sequence numbers 1, 2, ..."""
    return spark.createDataFrame(
        [("partition_1", bytearray(data), stream, "shardId-000000000000", str(n), datetime(2024, 1, 1))
         for n, (stream, data) in enumerate(records, start=1)], KINESIS_SCHEMA)


def test_a_replayed_micro_batch_is_written_once(spark: SparkSession, tmp_path: Path) -> None:
    rows = generate_rows(0, 3)["pinterest_data"]
    batch = kinesis_batch(spark, [("s", encode_json(row)) for row in rows])
    warehouse = Warehouse(str(tmp_path))
    write = MicroBatchWriter({"s": Route("pin", "pin")}, "quarantine", warehouse,
                             checkpoint_of(tmp_path, "7f3c0d6e-query"))
    write(batch, 0)
    write(batch, 0)  # replayed after a crash: Delta skips it
    assert warehouse.read(spark, "pin").count() == 3
    write(batch, 1)  # the next batch is written
    assert warehouse.read(spark, "pin").count() == 6


def test_a_micro_batch_that_failed_half_way_writes_only_the_missing_tables_on_replay(spark: SparkSession,
                                                                                    tmp_path: Path) -> None:
    rows = generate_rows(0, 4)
    batch = kinesis_batch(spark, [("pins", encode_json(row)) for row in rows["pinterest_data"]]
                          + [("geos", encode_json(row)) for row in rows["geolocation_data"]]
                          + [("geos", b"not json")])
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    write = MicroBatchWriter({"pins": Route("pin", "pin"), "geos": Route("geo", "geo")}, "quarantine", warehouse,
                             checkpoint_of(tmp_path, "3a9b-query"))
    blocker = Path(warehouse.location("geo"))
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the geo table's folder should be: its append fails")
    with pytest.raises(Py4JJavaError, match="save"):  # the geo append; pin's was committed
        write(batch, 0)
    assert warehouse.read(spark, "pin").count() == 4 and not warehouse.exists(spark, "quarantine")
    blocker.unlink()
    write(batch, 0)  # the replay: pin and quarantine already hold batch 0, only geo is written
    counts = {name: warehouse.read(spark, name).count() for name in ("pin", "geo", "quarantine")}
    assert counts == {"pin": 4, "geo": 4, "quarantine": 1}


def test_a_stream_without_records_in_a_micro_batch_gets_no_commit(spark: SparkSession, tmp_path: Path) -> None:
    rows = generate_rows(0, 2)["pinterest_data"]
    warehouse = Warehouse(str(tmp_path))
    for table, kind in (("pin", "pin"), ("geo", "geo")):
        warehouse.create_if_missing(spark, table, cleaned_schema(spark, kind))
    write = MicroBatchWriter({"pins": Route("pin", "pin"), "geos": Route("geo", "geo")}, "quarantine", warehouse,
                             checkpoint_of(tmp_path, "9e1f-query"))
    for batch_id in (0, 1):  # the first batch looks for a replay, the next one appends at once
        write(kinesis_batch(spark, [("pins", encode_json(row)) for row in rows]), batch_id)
    history = {table: DeltaTable.forPath(spark, warehouse.location(table)).history().collect()
               for table in ("pin", "geo")}
    assert [commit["userMetadata"] for commit in history["pin"]] == ["9e1f-query@1", "9e1f-query@0", None]
    assert [commit["version"] for commit in history["geo"]] == [0]
    assert warehouse.read(spark, "pin").count() == 4 and not warehouse.exists(spark, "quarantine")


def test_records_not_utf8_or_not_finite_are_quarantined_readably(spark: SparkSession, tmp_path: Path) -> None:
    """The batch reader's rules (shared code): bytes that are not UTF-8 and non-finite numbers go to the quarantine,
    whose bytes DuckDB, Arrow and pandas read, and give back exactly."""
    good = b'{"ind": 1, "latitude": 10.5, "longitude": -3.25, "country": "Cuba"}'
    bad = {b'{"ind": 2, "country": "C\xf4te d\xe2\x80"}': REASON_NOT_UTF8,
           b'{"ind": 3, "latitude": NaN, "longitude": 1.0}': REASON_NON_FINITE,
           b'{"ind": 4, "latitude": 1.0, "longitude": 1e999}': REASON_NON_FINITE,
           b'{"ind": 5, "latitude": Infinity}': REASON_NON_FINITE,
           b'{"ind": 6, "country": "\xff': REASON_NOT_UTF8}
    batch = kinesis_batch(spark, [("geo-stream", data) for data in [good, *bad]])
    warehouse = Warehouse(str(tmp_path))
    write = MicroBatchWriter({"geo-stream": Route("geo", "geo")}, "quarantine", warehouse,
                             checkpoint_of(tmp_path, "5d2e-query"))
    write(batch, 0)

    quarantine = warehouse.read(spark, "quarantine")
    assert tuple(quarantine.columns) == KINESIS_QUARANTINE_COLUMNS
    expected = sorted((raw, raw.decode("utf-8", errors="replace"), reason) for raw, reason in bad.items())
    for rows in rows_three_ways(quarantine).values():
        assert sorted((bytes(r["raw_bytes"]), r["raw_data"], r["reason"]) for r in rows) == expected
    texts = {raw: text for raw, text, _ in expected}
    assert texts[b'{"ind": 2, "country": "C\xf4te d\xe2\x80"}'] == '{"ind": 2, "country": "C\ufffdte d\ufffd"}'
    assert [(r["ind"], r["coordinates"]) for r in warehouse.read(spark, "geo").collect()] == [(1, [10.5, -3.25])]


def test_a_reset_checkpoint_starts_new_transactions_nothing_skipped(spark: SparkSession, moto_endpoint: str,
                                                                    kinesis: Any, tmp_path: Path) -> None:
    prefix = uuid.uuid4().hex[:12]
    ensure_streams(kinesis, prefix)
    rows = generate_rows(0, 8, seed=4)["pinterest_data"]
    put_rows(kinesis, stream_name(prefix, "pin"), rows)
    warehouse, checkpoints = tmp_path / "warehouse", tmp_path / "checkpoints"
    options = dict(endpoint_url=moto_endpoint, kinds=["pin"], checkpoint_root=str(checkpoints))

    await_queries(start_streaming(spark, prefix, str(warehouse), **options))
    shutil.rmtree(checkpoints)  # an operator resets the checkpoint: the stream is read again from its start
    await_queries(start_streaming(spark, prefix, str(warehouse), **options))

    written = Counter(r["ind"] for r in table(spark, warehouse, streaming_table_name(prefix, "pin")).collect())
    assert written == Counter({row["index"]: 2 for row in rows})  # replayed in full, not skipped as "seen"


def test_on_databricks_the_job_imports_without_the_spark_4_data_source_api(tmp_path: Path) -> None:
    """Spark 3.5 runtimes have no ``pyspark.sql.datasource``: the job must not need it there."""
    script = (
        "import sys; sys.modules['pyspark.sql.datasource'] = None; sys.modules['pyspark.sql.streaming.datasource'] = None\n"
        "from pinterest_pipeline.streaming.job import register_kinesis_source, start_streaming\n"
        "register_kinesis_source(None)  # the runtime's own source is used: nothing to register\n"
        "print('imported')\n"
    )
    env = {**os.environ, "DATABRICKS_RUNTIME_VERSION": "14.3"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "imported" in done.stdout, done.stderr
    env.pop("DATABRICKS_RUNTIME_VERSION")
    off_databricks = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                    timeout=120)
    assert "ModuleNotFoundError" in off_databricks.stderr  # elsewhere the data source is needed, and imported


def sent_rows(source_url: str, indices: Counter) -> dict[str, list[dict[str, Any]]]:
    """The source rows of ``indices`` (each once), per source table."""
    engine = make_engine(source_url)
    try:
        return {table: fetch_rows(engine, table, sorted(indices)) for table in SOURCE_TABLE_BY_KIND.values()}
    finally:
        engine.dispose()


def test_emulator_through_gateway_to_delta_equals_the_duckdb_reference(spark: SparkSession, moto_endpoint: str,
                                                                      kinesis: Any, tmp_path: Path) -> None:
    prefix, count, rows_in_source = uuid.uuid4().hex[:12], 200, 300
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    engine = make_engine(source_url)
    seed(engine, rows_in_source, seed=100)
    engine.dispose()
    ensure_streams(kinesis, prefix)
    with GatewayProcess(tmp_path / "lake", extra_args=["--kinesis-endpoint", moto_endpoint]) as gateway:
        emulator = subprocess.run(
            [sys.executable, str(REPO / "user_posting_emulation_streaming.py"), "--invoke-url", gateway.url,
             "--prefix", prefix, "--count", str(count), "--rate", "0", "--batch-size", "10", "--seed", "5",
             "--db-url", source_url, "--no-progress"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert emulator.returncode == 0, emulator.stderr

    warehouse = tmp_path / "warehouse"
    await_queries(start_streaming(spark, prefix, str(warehouse), endpoint_url=moto_endpoint))

    # The reference: the rows the emulator draws (derived from the contract), cleaned by DuckDB SQL.
    drawn = drawn_indices(count, seed=5, rows=rows_in_source)
    reference_lake = tmp_path / "reference-lake"
    sent = sent_rows(source_url, drawn)
    for kind, source_table in SOURCE_TABLE_BY_KIND.items():
        write_topic(reference_lake, topic_name(prefix, kind), sent[source_table], flush_size=100)
    reference = DuckDBReference(reference_lake, prefix)
    for kind in SOURCE_TABLE_BY_KIND:
        streamed = table(spark, warehouse, streaming_table_name(prefix, kind)).toPandas()
        assert Counter(streamed["ind"]) == drawn, kind  # each record once, repeats of a row included
        expected = reference.table(kind)
        assert list(streamed.columns) == list(expected.columns)
        assert sorted(set(comparable_rows(streamed)), key=lambda row: row[0]) == comparable_rows(expected), kind
    assert table_counts(spark, prefix, str(warehouse))[streaming_quarantine_table_name(prefix)] == 0
