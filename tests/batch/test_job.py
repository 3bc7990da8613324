"""End to end: generated lake (repeats, repeats that differ and damaged lines included) → run_batch → Delta
tables, checked against an independent DuckDB computation over the same files."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from pinterest_pipeline.batch.cli import main
from pinterest_pipeline.batch.increment import BRONZE_METADATA
from pinterest_pipeline.batch.insights import INSIGHTS
from pinterest_pipeline.batch.job import batch_steps
from pinterest_pipeline.batch.lake_reader import LAKE_QUARANTINE_COLUMNS, read_topic
from pinterest_pipeline.contract import KINDS, bronze_table_name, cleaned_table_name, quarantine_table_name, topic_name
from pinterest_pipeline.lake.layout import object_key
from pinterest_pipeline.spark.cleansing import data_quality_metrics, quality_issue
from pinterest_pipeline.spark.parsing import REASON_BLANK, REASON_MALFORMED, REASON_MISSING_KEY
from pinterest_pipeline.spark.schemas import RAW_SCHEMAS
from tests.support.batch_run import EDITED_RECORDS, PREFIX, SENT_RECORDS, Lake, Run
from tests.support.duckdb_reference import DuckDBReference, comparable_rows
from tests.support.lake_files import MALFORMED_LINES
from tests.support.readers import rows_three_ways

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def reference(lake: Lake) -> DuckDBReference:
    return DuckDBReference(lake.root, PREFIX)


def test_counts_per_topic(run: Run) -> None:
    for kind in KINDS:
        injected = len(MALFORMED_LINES[kind])
        good = SENT_RECORDS + EDITED_RECORDS
        assert run.result.counts[kind] == {"raw": good + injected, "good": good, "quarantined": injected}, kind
        assert run.result.cleaned_rows[kind] == run.lake.distinct_indices, kind
        assert run.result.duplicates[kind] == good - run.lake.distinct_indices, kind
        assert sum(run.result.reasons[kind].values()) == injected, kind


def test_progress_hears_of_every_step_once_in_order(run: Run) -> None:
    total = batch_steps()
    assert [(done, all_steps) for done, all_steps, _ in run.progress] == [(n, total) for n in range(1, total + 1)]
    steps = [step for _, _, step in run.progress]
    assert sorted(steps) == sorted([*(f"read {kind}" for kind in KINDS), "wrote quarantine",
                                    *(f"wrote {name}" for name in INSIGHTS)])
    assert set(run.result.stage_seconds) == {"parse and count", "bronze", "data quality", "cleaned", "quarantine",
                                             "insights"}


def test_quarantine_holds_every_damaged_line_with_its_source(spark: SparkSession, run: Run,
                                                             reference: DuckDBReference) -> None:
    location = run.result.tables[quarantine_table_name(PREFIX)]
    quarantine = spark.read.format("delta").load(location)
    assert tuple(quarantine.columns) == LAKE_QUARANTINE_COLUMNS
    rows = quarantine.collect()
    assert run.result.quarantined == len(rows) == sum(len(lines) for lines in MALFORMED_LINES.values())
    for kind in KINDS:
        lines = sorted(bytes(r["raw_bytes"]) for r in rows if r["topic"] == f"{PREFIX}.{kind}")
        assert lines == sorted(MALFORMED_LINES[kind]) == sorted(reference.rejected_lines(kind))
    assert all(r["source_file"].endswith("+0+0000000000.json") and r["reason"] for r in rows)
    assert all(r["raw_line"] == bytes(r["raw_bytes"]).decode("utf-8", errors="replace") for r in rows)
    reasons = {bytes(r["raw_bytes"]): r["reason"] for r in rows}
    assert reasons[b'{"title": "no key"}'] == "missing key column index"
    assert reasons[b"this is not json at all"] == reasons[b'{"ind": 8, "country": "Cuba", "note": Infinity}'] \
        == "malformed JSON or wrong field type"
    not_utf8 = [b'{"ind": 9, "x": "\xff\xfe"}', b'{"index": 18, "title": "caf\xe9 in Latin-1"}',
                b'{"ind": 11, "first_name": "Ren\xe9']
    assert {reasons[line] for line in not_utf8} == {"not valid UTF-8"}
    non_finite = [b'{"index": 19, "downloaded": NaN}', b'{"ind": 5, "latitude": NaN, "longitude": 1.5}',
                  b'{"ind": 6, "latitude": 1.5, "longitude": -Infinity}',
                  b'{"ind": 7, "latitude": 1e999, "longitude": 1.5}', b'{"ind": 10, "age": 1e999}']
    assert {reasons[line] for line in non_finite} == {"non-finite number"}
    for kind in KINDS:
        stored = Counter(r["reason"] for r in rows if r["topic"] == f"{PREFIX}.{kind}")
        assert run.result.reasons[kind] == dict(stored), kind


def test_quarantine_of_bytes_that_are_not_utf8_reads_anywhere(spark: SparkSession, run: Run) -> None:
    """DuckDB (over the table's Parquet files), Arrow and pandas read whole rows; every line's bytes come back
    exactly, beside its text with U+FFFD for each invalid sequence."""
    quarantine = spark.read.format("delta").load(run.result.tables[quarantine_table_name(PREFIX)])
    expected = sorted((line, line.decode("utf-8", errors="replace")) for lines in MALFORMED_LINES.values()
                      for line in lines)
    for rows in rows_three_ways(quarantine).values():
        assert sorted((bytes(r["raw_bytes"]), r["raw_line"]) for r in rows) == expected
    texts = dict(expected)
    assert texts[b'{"ind": 9, "x": "\xff\xfe"}'] == '{"ind": 9, "x": "\ufffd\ufffd"}'


@pytest.mark.parametrize("kind", KINDS)
def test_cleaned_tables_equal_duckdb(spark: SparkSession, run: Run, reference: DuckDBReference, kind: str) -> None:
    assert reference.differing_repeats(kind) > 0  # the lake holds repeats of one ind that differ: one is kept
    location = run.result.tables[cleaned_table_name(PREFIX, kind)]
    ours = spark.read.format("delta").load(location).orderBy("ind").toPandas()
    theirs = reference.table(kind)
    assert list(ours.columns) == list(theirs.columns)
    assert comparable_rows(ours) == comparable_rows(theirs)


@pytest.mark.parametrize("name", INSIGHTS)
def test_insight_equals_duckdb(spark: SparkSession, run: Run, reference: DuckDBReference, name: str) -> None:
    theirs = reference.insight(name)
    assert len(theirs) > 0
    ours = run.result.insights[name]
    assert list(ours.columns) == list(theirs.columns)
    assert comparable_rows(ours) == comparable_rows(theirs)
    stored = spark.read.format("delta").load(run.result.tables[name]).toPandas()
    assert sorted(comparable_rows(stored), key=repr) == sorted(comparable_rows(theirs), key=repr)


def test_every_output_is_a_delta_table(spark: SparkSession, run: Run) -> None:
    expected = {quarantine_table_name(PREFIX), *(f"{PREFIX}_{k}" for k in KINDS),
                *(f"{PREFIX}_{k}_bronze" for k in KINDS), *INSIGHTS}
    assert set(run.result.tables) == expected
    for name, location in run.result.tables.items():
        assert Path(location) == run.warehouse / name
        assert (Path(location) / "_delta_log").is_dir(), name
        assert DeltaTable.isDeltaTable(spark, location), name


def test_data_quality_facts_count_the_good_records_of_each_topic(spark: SparkSession, run: Run) -> None:
    facts = run.result.data_quality
    for kind in KINDS:
        good = read_topic(spark, str(run.lake.root), topic_name(PREFIX, kind), RAW_SCHEMAS[kind]).good
        metrics = data_quality_metrics(good)
        expected = good.agg(*[metric.alias(name) for name, metric in metrics.items()]).first()
        of_kind = facts[facts["kind"] == kind]
        assert {(r.column_name, r.issue): r.value_count for r in of_kind.itertuples()} == {
            quality_issue(name): expected[name] for name in metrics}, kind
    assert facts["value_count"].sum() > 0


def test_bronze_statistics_cover_the_key_and_provenance_columns_only(run: Run) -> None:
    for kind in KINDS:
        first_commit = run.warehouse / bronze_table_name(PREFIX, kind) / "_delta_log" / f"{0:020d}.json"
        actions = [json.loads(line) for line in first_commit.read_text().splitlines()]
        stats = [json.loads(action["add"]["stats"]) for action in actions if "add" in action]
        assert stats and sum(s["numRecords"] for s in stats) == run.result.counts[kind]["good"]
        key = RAW_SCHEMAS[kind].fieldNames()[0]
        for file_stats in stats:
            assert set(file_stats["minValues"]) == set(file_stats["nullCount"]) == {key, *BRONZE_METADATA}


def latest_version(spark: SparkSession, location: str) -> int:
    """The newest version of the Delta table at ``location``."""
    return DeltaTable.forPath(spark, location).history(1).first()["version"]


def test_cli_full_refresh_rebuilds_tables_and_writes_report(spark: SparkSession, run: Run,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    report = run.warehouse.parent / "report" / "report.md"
    argv = ["--lake-root", str(run.lake.root), "--prefix", PREFIX, "--warehouse", str(run.warehouse),
            "--report", str(report), "--full-refresh", "--logical-date", "2024-08-26"]
    versions = {kind: latest_version(spark, run.result.tables[cleaned_table_name(PREFIX, kind)]) for kind in KINDS}
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "insight_3b_top_country_by_followers" in printed and "quarantined" in printed
    assert "(logical date 2024-08-26)" in printed and "1 micro-batch(es)" in printed
    for kind in KINDS:
        location = run.result.tables[cleaned_table_name(PREFIX, kind)]
        assert spark.read.format("delta").load(location).count() == run.lake.distinct_indices  # replaced, not added
        assert latest_version(spark, location) == versions[kind] + 1  # one new version, whatever ran before
        bronze = spark.read.format("delta").load(run.result.tables[bronze_table_name(PREFIX, kind)])
        assert bronze.count() == run.result.counts[kind]["good"]  # every lake line read again, once
    quarantine = spark.read.format("delta").load(run.result.tables[quarantine_table_name(PREFIX)])
    assert quarantine.count() == run.result.quarantined
    text = report.read_text()
    assert "Logical date 2024-08-26." in text
    assert all(f"### {n}" in text for n in ("1. Most popular", "3b. The country", "8. Median follower count"))
    images = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    assert len(images) == 4 and all((report.parent / image).stat().st_size > 1000 for image in images)
    page = report.with_suffix(".html").read_text()
    assert page.count('<img src="data:image/png;base64,') == 4 and "### " not in page


def test_cli_reports_an_empty_lake_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--lake-root", str(tmp_path / "nothing"), "--prefix", PREFIX, "--warehouse", str(tmp_path / "wh")]
    assert main(argv) == 2
    assert f"no lake objects for topic '{PREFIX}.pin'" in capsys.readouterr().out


def test_read_topic_keeps_every_line_either_good_or_quarantined(spark: SparkSession, tmp_path: Path) -> None:
    lines = ['{"ind": 1, "age": 30}', "", '{"ind": "x"}', '{"first_name": "No Key"}', "[1]", '{"ind": 2}']
    path = tmp_path / object_key("p.user", 0, 0)
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    good, quarantine = read_topic(spark, str(tmp_path), "p.user", RAW_SCHEMAS["user"])
    assert sorted((r["ind"], r["age"]) for r in good.collect()) == [(1, 30), (2, None)]
    reasons = {r["raw_line"]: r["reason"] for r in quarantine.collect()}
    assert reasons == {"": REASON_BLANK, '{"ind": "x"}': REASON_MALFORMED, "[1]": REASON_MALFORMED,
                       '{"first_name": "No Key"}': f"{REASON_MISSING_KEY} ind"}
