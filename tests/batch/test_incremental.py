"""Incremental runs: lake A, then objects B (new rows, repeats of old ``ind`` that differ, bad lines) read by a
second run that reads only B; the tables equal a from-scratch DuckDB computation over A ∪ B; a run with nothing
new changes no table; a run killed (SIGKILL) mid-batch and run again ends with the same tables."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from pinterest_pipeline.batch import BatchResult, run_batch
from pinterest_pipeline.batch.insights import INSIGHTS
from pinterest_pipeline.batch.job import table_names
from pinterest_pipeline.batch.lake_stream import lake_checkpoint
from pinterest_pipeline.contract import KINDS, bronze_table_name, cleaned_table_name, quarantine_table_name
from pinterest_pipeline.lake.layout import parse_object_name
from tests.support import REPO_ROOT
from tests.support.duckdb_reference import DuckDBReference, comparable_rows
from tests.support.lake_files import MALFORMED_LINES, sampled_rows, write_lake, write_topic

pytestmark = pytest.mark.spark

PREFIX = "inc0test"
#: Damaged lines of the objects B: other bytes than A's, one per kind of damage again.
MALFORMED_B: dict[str, tuple[bytes, ...]] = {
    "pin": (b'{"index": 1, "title": "cut', b"   ", b'{"index": 2, "downloaded": Infinity}'),
    "geo": (b"B: not json", b'{"ind": 2, "latitude": "north"}'),
    "user": (b'{"ind": 3, "age": NaN}', b'{"first_name": "no key in B"}', b'{"ind": 4, "x": "\xc3\x28"}'),
}
#: Offsets of B's objects start here (A's end below it).
B_FIRST_OFFSET = 100_000


def write_a(lake: Path) -> None:
    """Lake A: 800 records per kind over 600 rows, some repeats that differ, A's damaged lines."""
    write_lake(lake, PREFIX, sampled_rows(600, 800, edited=20), flush_size=150, single_record_objects=2,
               partitions=2, malformed=MALFORMED_LINES)


def write_b(lake: Path) -> None:
    """Objects B: 400 records per kind drawn from 900 rows generated with another seed, so that some are new
    ``ind`` and others repeat an ``ind`` of A with other values; B's damaged lines."""
    for kind, rows in sampled_rows(900, 400, seed=101, edited=20).items():
        write_topic(lake, f"{PREFIX}.{kind}", rows, flush_size=120, partitions=2, extra_lines=MALFORMED_B[kind],
                    first_offset=B_FIRST_OFFSET)


def lake_lines(lake: Path, kind: str) -> list[tuple[str, bytes]]:
    """``(object name, line)`` of every line of a topic's objects, read with Python alone."""
    lines = []
    for path in sorted((lake / "topics" / f"{PREFIX}.{kind}").glob("partition=*/*.json")):
        lines += [(path.name, line) for line in path.read_bytes().split(b"\n")[:-1]]
    return lines


def latest_version(spark: SparkSession, location: str) -> int:
    return DeltaTable.forPath(spark, location).history(1).first()["version"]


def versions(spark: SparkSession, result: BatchResult) -> dict[str, int]:
    return {name: latest_version(spark, location) for name, location in result.tables.items()}


@dataclass(frozen=True)
class Runs:
    lake: Path
    warehouse: Path
    first: BatchResult
    second: BatchResult
    second_started: float


@pytest.fixture(scope="module")
def runs(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    lake, warehouse = tmp_path_factory.mktemp("lake"), tmp_path_factory.mktemp("warehouse")
    write_a(lake)
    first = run_batch(spark, str(lake), PREFIX, str(warehouse))
    write_b(lake)
    started = time.time()
    second = run_batch(spark, str(lake), PREFIX, str(warehouse))
    return Runs(lake, warehouse, first, second, started)


@pytest.fixture(scope="module")
def reference(runs: Runs) -> DuckDBReference:
    return DuckDBReference(runs.lake, PREFIX)


def test_second_run_reads_only_b(runs: Runs) -> None:
    for kind in KINDS:
        b_lines = 400 + 20 + len(MALFORMED_B[kind])
        assert runs.second.counts[kind] == {"raw": b_lines, "good": 420, "quarantined": len(MALFORMED_B[kind])}
        assert runs.first.counts[kind]["raw"] == 800 + 20 + len(MALFORMED_LINES[kind])
    assert runs.first.batches == runs.second.batches == 1


def test_bronze_holds_every_good_line_of_a_and_b_once(spark: SparkSession, runs: Runs) -> None:
    for kind in KINDS:
        bronze = spark.read.format("delta").load(runs.second.tables[bronze_table_name(PREFIX, kind)])
        key = "index" if kind == "pin" else "ind"
        bad = {*MALFORMED_LINES[kind], *MALFORMED_B[kind]}
        expected = Counter((name, json.loads(line)[key]) for name, line in lake_lines(runs.lake, kind)
                           if line not in bad)
        rows = bronze.select("source_file", key, "ingested_at").collect()
        assert Counter((Path(r["source_file"]).name, r[key]) for r in rows) == expected, kind
        second = {Path(r["source_file"]).name for r in rows if r["ingested_at"].timestamp() >= runs.second_started}
        b_objects = {name for name, _ in lake_lines(runs.lake, kind)
                     if parse_object_name(name).start_offset >= B_FIRST_OFFSET}
        assert second == b_objects, kind  # the second run read B, and only B


def test_quarantine_holds_bad_lines_of_a_and_b_once(spark: SparkSession, runs: Runs,
                                                   reference: DuckDBReference) -> None:
    quarantine = spark.read.format("delta").load(runs.second.tables[quarantine_table_name(PREFIX)]).collect()
    for kind in KINDS:
        stored = sorted(bytes(r["raw_bytes"]) for r in quarantine if r["topic"] == f"{PREFIX}.{kind}")
        assert stored == sorted([*MALFORMED_LINES[kind], *MALFORMED_B[kind]]) == sorted(reference.rejected_lines(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_cleaned_table_equals_duckdb_over_a_and_b(spark: SparkSession, runs: Runs, reference: DuckDBReference,
                                                  kind: str) -> None:
    assert reference.differing_repeats(kind) > 0
    ours = spark.read.format("delta").load(runs.second.tables[cleaned_table_name(PREFIX, kind)])
    assert comparable_rows(ours.orderBy("ind").toPandas()) == comparable_rows(reference.table(kind))
    assert runs.second.cleaned_rows[kind] == len(reference.table(kind))


def test_insights_equal_duckdb_over_a_and_b(spark: SparkSession, runs: Runs, reference: DuckDBReference) -> None:
    for name in INSIGHTS:
        theirs = comparable_rows(reference.insight(name))
        assert comparable_rows(runs.second.insights[name]) == theirs, name
        stored = spark.read.format("delta").load(runs.second.tables[name]).toPandas()
        assert comparable_rows(stored) == theirs, name


def test_a_run_with_nothing_new_changes_no_table(spark: SparkSession, runs: Runs) -> None:
    before = versions(spark, runs.second)
    third = run_batch(spark, str(runs.lake), PREFIX, str(runs.warehouse))
    assert third.batches == 0 and third.quarantined == 0
    assert versions(spark, third) == before
    assert third.cleaned_rows == runs.second.cleaned_rows
    assert all(comparable_rows(third.insights[n]) == comparable_rows(runs.second.insights[n]) for n in INSIGHTS)


def batch_command(lake: Path, warehouse: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "pinterest_pipeline.batch", "--lake-root", str(lake), "--prefix", PREFIX,
            "--warehouse", str(warehouse), *extra]


def test_a_run_killed_mid_batch_then_run_again_ends_with_the_same_tables(
        spark: SparkSession, runs: Runs, reference: DuckDBReference, tmp_path: Path, children) -> None:
    lake, warehouse = tmp_path / "lake", tmp_path / "warehouse"
    write_a(lake)
    run_batch(spark, str(lake), PREFIX, str(warehouse))
    write_b(lake)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYSPARK_PYTHON": sys.executable}
    job = children.start(batch_command(lake, warehouse), cwd=tmp_path, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bronze_appended = warehouse / bronze_table_name(PREFIX, "pin") / "_delta_log" / f"{1:020d}.json"
    while not bronze_appended.exists():
        assert job.poll() is None, "the job ended before it was killed"
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert not (Path(lake_checkpoint(str(warehouse), PREFIX)) / "commits" / "1").exists()  # killed inside batch 1

    rerun = run_batch(spark, str(lake), PREFIX, str(warehouse))
    assert rerun.batches == 1
    for name in table_names(PREFIX):
        ours = spark.read.format("delta").load(str(warehouse / name))
        theirs = spark.read.format("delta").load(runs.second.tables[name])
        columns = [c for c in ours.columns if c not in ("ingested_at", "source_file")]
        assert sorted(comparable_rows(ours.select(columns).toPandas()), key=repr) == \
            sorted(comparable_rows(theirs.select(columns).toPandas()), key=repr), name
