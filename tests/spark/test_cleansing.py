"""Cleansing rules of docs/data-contract.md §3 on small hand-made DataFrames, one dirty pattern at a time."""
from __future__ import annotations

from datetime import datetime

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    ArrayType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)
from pyspark.testing import assertDataFrameEqual

from pinterest_pipeline.spark import cleansing
from pinterest_pipeline.spark.schemas import GEO_SCHEMA, PIN_SCHEMA, USER_SCHEMA

pytestmark = pytest.mark.spark

NO_TAGS = "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"

CLEAN_PIN_SCHEMA = StructType([
    StructField("ind", LongType()), StructField("unique_id", StringType()), StructField("title", StringType()),
    StructField("description", StringType()), StructField("follower_count", LongType()),
    StructField("poster_name", StringType()), StructField("tag_list", StringType()),
    StructField("is_image_or_video", StringType()), StructField("image_src", StringType()),
    StructField("save_location", StringType()), StructField("category", StringType()),
])
CLEAN_GEO_SCHEMA = StructType([
    StructField("ind", LongType()), StructField("country", StringType()),
    StructField("coordinates", ArrayType(DoubleType())), StructField("timestamp", TimestampType()),
])
CLEAN_USER_SCHEMA = StructType([
    StructField("ind", LongType()), StructField("user_name", StringType()),
    StructField("age", LongType()), StructField("date_joined", TimestampType()),
])


def pin_row(index: int, **values: object) -> dict[str, object]:
    """A clean raw pin record, with ``values`` overriding some columns."""
    row: dict[str, object] = {
        "index": index, "unique_id": f"uid-{index}", "title": "A title", "description": "A description",
        "poster_name": "Poster", "follower_count": "10", "tag_list": "a,b", "is_image_or_video": "image",
        "image_src": "https://i.example/x.jpg", "downloaded": 1, "save_location": "Local save in /data/art",
        "category": "art",
    }
    row.update(values)
    return row


FOLLOWER_COUNTS = {
    "452": 452, "0": 0, "5k": 5000, "12k": 12000, "3.2k": 3200, "1.15k": 1150, "1M": 1_000_000,
    "2.5M": 2_500_000, " 7k ": 7000, "User Info Error": None, "": None, None: None, "lots": None,
    "-5": None, "5x": None, "99999999999999999999999": None,
    "1.2345k": 1235, "2.5005k": 2501, "0.0005k": 1,  # half-way rounds up (not down, not to the even neighbour)
}


def test_follower_count_is_parsed_to_an_integer(spark: SparkSession) -> None:
    raw = spark.createDataFrame([pin_row(i, follower_count=t) for i, t in enumerate(FOLLOWER_COUNTS)], PIN_SCHEMA)
    parsed = {r["ind"]: r["follower_count"] for r in cleansing.clean_pin(raw).collect()}
    assert {text: parsed[i] for i, text in enumerate(FOLLOWER_COUNTS)} == FOLLOWER_COUNTS


def test_clean_pin_nulls_placeholders_and_empties_strips_prefix_and_orders_columns(spark: SparkSession) -> None:
    raw = spark.createDataFrame(
        [
            pin_row(1),
            pin_row(2, title="No Title Data Available", description="No description available Story format",
                    poster_name="User Info Error", follower_count="User Info Error", tag_list=NO_TAGS,
                    image_src="Image src error.", save_location="Local save in /data/mens-fashion"),
            pin_row(3, description="No description available", title="", category="", unique_id="  "),
            pin_row(4, description="Untitled", is_image_or_video="multi-video(story page format)",
                    save_location=None, downloaded=None),
            pin_row(5, title=None, follower_count="3.2k", save_location=""),
        ],
        PIN_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            (1, "uid-1", "A title", "A description", 10, "Poster", "a,b", "image", "https://i.example/x.jpg",
             "/data/art", "art"),
            (2, "uid-2", None, None, None, None, None, "image", None, "/data/mens-fashion", "art"),
            (3, None, None, None, 10, "Poster", "a,b", "image", "https://i.example/x.jpg", "/data/art", None),
            (4, "uid-4", "A title", None, 10, "Poster", "a,b", "multi-video(story page format)",
             "https://i.example/x.jpg", None, "art"),
            (5, "uid-5", None, "A description", 3200, "Poster", "a,b", "image", "https://i.example/x.jpg",
             None, "art"),
        ],
        CLEAN_PIN_SCHEMA,
    )
    actual = cleansing.clean_pin(raw)
    assert tuple(actual.columns) == cleansing.PIN_COLUMNS
    assertDataFrameEqual(actual, expected)


def test_clean_geo_builds_coordinates_and_parses_timestamps(spark: SparkSession) -> None:
    raw = spark.createDataFrame(
        [
            (7, "2018-06-26 02:39:25", -5.5, 120.25, "Indonesia"),
            (8, "2020-01-01 00:00:00.5", 10.0, None, ""),
            (9, "not a time", None, None, None),
            (10, "", 1.0, 2.0, "Chad"),
        ],
        GEO_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            (7, "Indonesia", [-5.5, 120.25], datetime(2018, 6, 26, 2, 39, 25)),
            (8, None, [10.0, None], datetime(2020, 1, 1, 0, 0, 0, 500000)),
            (9, None, [None, None], None),
            (10, "Chad", [1.0, 2.0], None),
        ],
        CLEAN_GEO_SCHEMA,
    )
    actual = cleansing.clean_geo(raw)
    assert tuple(actual.columns) == cleansing.GEO_COLUMNS
    assertDataFrameEqual(actual, expected)


def test_clean_user_joins_names_and_parses_date_joined(spark: SparkSession) -> None:
    raw = spark.createDataFrame(
        [
            (1, "Ada", "Lovelace", 36, "2015-10-02 08:00:01"),
            (2, "", "Solo", 20, "2016-02-29 23:59:59"),
            (3, "Only", None, None, None),
            (4, "", "", 51, "yesterday"),
        ],
        USER_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            (1, "Ada Lovelace", 36, datetime(2015, 10, 2, 8, 0, 1)),
            (2, "Solo", 20, datetime(2016, 2, 29, 23, 59, 59)),
            (3, "Only", None, None),
            (4, None, 51, None),
        ],
        CLEAN_USER_SCHEMA,
    )
    actual = cleansing.clean_user(raw)
    assert tuple(actual.columns) == cleansing.USER_COLUMNS
    assertDataFrameEqual(actual, expected)


def test_deduplicate_by_ind_keeps_one_deterministic_row_per_ind(spark: SparkSession) -> None:
    rows = [(1, "b", 20), (1, "a", 30), (2, "x", 5), (2, "x", 5), (3, None, 1), (3, "c", None), (None, "z", 9)]
    schema = "ind bigint, user_name string, age bigint"
    expected = spark.createDataFrame([(1, "a", 30), (2, "x", 5), (3, None, 1)], schema)
    for partitions in (1, 3):
        df = spark.createDataFrame(rows, schema).repartition(partitions)
        assertDataFrameEqual(cleansing.deduplicate_by_ind(df), expected)


def quality_counts(raw: DataFrame) -> dict[tuple[str, str], int]:
    """(column, issue) → count of :func:`cleansing.data_quality_metrics` over ``raw``."""
    metrics = cleansing.data_quality_metrics(raw)
    row = raw.agg(*[metric.alias(name) for name, metric in metrics.items()]).first()
    return {cleansing.quality_issue(name): row[name] for name in metrics}


def test_data_quality_metrics_count_placeholders_empties_and_unreadable_values(spark: SparkSession) -> None:
    raw = spark.createDataFrame(
        [
            pin_row(1, follower_count="User Info Error", poster_name="User Info Error", title=""),
            pin_row(2, follower_count="many", description="Untitled", tag_list=NO_TAGS),
            pin_row(3, follower_count="", description="No description available"),
        ],
        PIN_SCHEMA,
    )
    counts = quality_counts(raw)
    assert counts[("follower_count", "placeholder")] == 1
    assert counts[("follower_count", "empty")] == 1
    assert counts[("follower_count", "unparseable")] == 1
    assert counts[("poster_name", "placeholder")] == 1
    assert counts[("title", "empty")] == 1
    assert counts[("title", "placeholder")] == 0
    assert counts[("description", "placeholder")] == 2
    assert counts[("tag_list", "placeholder")] == 1
    assert ("category", "placeholder") not in counts

    geo = spark.createDataFrame([(1, "bad", 0.0, 0.0, ""), (2, "2019-01-01 00:00:00", 0.0, 0.0, "Chad")], GEO_SCHEMA)
    geo_counts = quality_counts(geo)
    assert geo_counts == {("timestamp", "empty"): 0, ("timestamp", "unparseable"): 1, ("country", "empty"): 1}
