"""End to end: generated lake (repeats and damaged lines included) → run_batch → Delta tables, checked
against an independent DuckDB computation over the same files."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from pinterest_pipeline.batch.cli import main
from pinterest_pipeline.batch.insights import INSIGHTS
from pinterest_pipeline.batch.job import batch_steps
from pinterest_pipeline.batch.lake_reader import read_topic
from pinterest_pipeline.contract import KINDS, cleaned_table_name, quarantine_table_name
from pinterest_pipeline.lake.layout import object_key
from pinterest_pipeline.spark.parsing import REASON_BLANK, REASON_MALFORMED, REASON_MISSING_KEY
from pinterest_pipeline.spark.schemas import RAW_SCHEMAS
from tests.support.batch_run import PREFIX, SENT_RECORDS, Lake, Run
from tests.support.duckdb_reference import DuckDBReference, comparable_rows
from tests.support.lake_files import MALFORMED_LINES

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def reference(lake: Lake) -> DuckDBReference:
    return DuckDBReference(lake.root, PREFIX)


def test_counts_per_topic(run: Run) -> None:
    for kind in KINDS:
        injected = len(MALFORMED_LINES[kind])
        assert run.result.counts[kind] == {"raw": SENT_RECORDS + injected, "good": SENT_RECORDS,
                                           "quarantined": injected}, kind
        assert run.result.cleaned_rows[kind] == run.lake.distinct_indices, kind
        assert run.result.duplicates[kind] == SENT_RECORDS - run.lake.distinct_indices, kind
        assert sum(run.result.reasons[kind].values()) == injected, kind


def test_progress_hears_of_every_step_once_in_order(run: Run) -> None:
    total = batch_steps()
    assert [(done, all_steps) for done, all_steps, _ in run.progress] == [(n, total) for n in range(1, total + 1)]
    steps = [step for _, _, step in run.progress]
    assert len(set(steps)) == len(steps) and {f"wrote {name}" for name in run.result.tables} <= set(steps)


def test_quarantine_holds_every_damaged_line_with_its_source(spark: SparkSession, run: Run,
                                                             reference: DuckDBReference) -> None:
    location = run.result.tables[quarantine_table_name(PREFIX)]
    rows = spark.read.format("delta").load(location).collect()
    assert run.result.quarantined == len(rows) == sum(len(lines) for lines in MALFORMED_LINES.values())
    for kind in KINDS:
        lines = sorted(r["raw_line"] for r in rows if r["topic"] == f"{PREFIX}.{kind}")
        assert lines == sorted(MALFORMED_LINES[kind]) == sorted(reference.rejected_lines(kind))
    assert all(r["source_file"].endswith("+0+0000000000.json") and r["reason"] for r in rows)
    reasons = {r["raw_line"]: r["reason"] for r in rows}
    assert reasons['{"title": "no key"}'] == "missing key column index"
    assert reasons["this is not json at all"] == "malformed JSON or wrong field type"
    for kind in KINDS:
        stored = Counter(r["reason"] for r in rows if r["topic"] == f"{PREFIX}.{kind}")
        assert run.result.reasons[kind] == dict(stored), kind


@pytest.mark.parametrize("kind", KINDS)
def test_cleaned_tables_equal_duckdb(spark: SparkSession, run: Run, reference: DuckDBReference, kind: str) -> None:
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
    expected = {quarantine_table_name(PREFIX), *(cleaned_table_name(PREFIX, k) for k in KINDS), *INSIGHTS}
    assert set(run.result.tables) == expected
    for name, location in run.result.tables.items():
        assert Path(location) == run.warehouse / name
        assert (Path(location) / "_delta_log").is_dir(), name
        assert DeltaTable.isDeltaTable(spark, location), name


def test_cli_rerun_replaces_tables_and_writes_report(spark: SparkSession, run: Run,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    report = run.warehouse.parent / "report" / "report.md"
    argv = ["--lake-root", str(run.lake.root), "--prefix", PREFIX, "--warehouse", str(run.warehouse),
            "--report", str(report)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "insight_3b_top_country_by_followers" in printed and "quarantined" in printed
    for kind in KINDS:
        location = run.result.tables[cleaned_table_name(PREFIX, kind)]
        assert spark.read.format("delta").load(location).count() == run.lake.distinct_indices
        assert DeltaTable.forPath(spark, location).history().count() == 2
    quarantine = spark.read.format("delta").load(run.result.tables[quarantine_table_name(PREFIX)])
    assert quarantine.count() == run.result.quarantined
    text = report.read_text()
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
