"""Each insight of docs/data-contract.md §5 on a tiny hand-made dataset; expected rows computed by hand, ties included."""
from __future__ import annotations

from datetime import datetime

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from pinterest_pipeline.batch import insights
from pinterest_pipeline.batch.insights import CleanTables

pytestmark = pytest.mark.spark

# ind, category, poster_name, follower_count | country, post year | age, join year
ROWS = [
    (1, "art", "alice", 100, "Chad", 2018, 20, 2015),
    (2, "art", "bob", 500, "Chad", 2018, 22, 2015),
    (3, "travel", "carl", 500, "Chad", 2019, 30, 2016),
    (4, "travel", "dora", 50, "Chad", 2019, 40, 2016),
    (5, "beauty", "erin", 1000, "Peru", 2019, 60, 2017),
    (6, "art", "fred", None, "Peru", 2020, 17, 2017),
    (7, "beauty", None, 2000, "Peru", 2020, 25, 2021),
    (8, None, "gus", 300, "Peru", 2017, 35, 2014),
    (9, "diy", "hal", 1000, "Fiji", 2023, None, 2020),
    (10, "quotes", "ivy", 10, None, 2018, 50, 2018),
]
PIN_ONLY = (11, "art", "jo", 9999)  # no geo, no user: every join drops it
GEO_AND_USER_ONLY = (12, "Fiji", 2018, 24, 2015)  # no pin: counts only in insight 6


@pytest.fixture(scope="module")
def tables(spark: SparkSession) -> CleanTables:
    pin_rows = [(r[0], r[1], r[2], r[3]) for r in ROWS] + [PIN_ONLY]
    geo_rows = [(r[0], r[4], datetime(r[5], 3, 1, 12)) for r in ROWS]
    geo_rows.append((12, GEO_AND_USER_ONLY[1], datetime(GEO_AND_USER_ONLY[2], 1, 1)))
    user_rows = [(r[0], f"user {r[0]}", r[6], datetime(r[7], 7, 4)) for r in ROWS]
    user_rows.append((12, "user 12", GEO_AND_USER_ONLY[3], datetime(GEO_AND_USER_ONLY[4], 1, 1)))
    pin = spark.createDataFrame(pin_rows, "ind bigint, category string, poster_name string, follower_count bigint")
    geo = spark.createDataFrame(geo_rows, "ind bigint, country string, timestamp timestamp").withColumn(
        "coordinates", F.array(F.lit(0.0), F.lit(0.0))
    )
    user = spark.createDataFrame(user_rows, "ind bigint, user_name string, age bigint, date_joined timestamp")
    return CleanTables(pin, geo, user)


def expect(spark: SparkSession, actual: DataFrame, rows: list[tuple], schema: str) -> None:
    """``actual`` equals ``rows`` (order included) with exactly the columns and types of ``schema``."""
    assertDataFrameEqual(actual, spark.createDataFrame(rows, schema), checkRowOrder=True)


def test_age_groups_have_inclusive_bounds(spark: SparkSession) -> None:
    ages = [17, 18, 24, 25, 35, 36, 50, 51, 99, None]
    df = spark.createDataFrame([(a,) for a in ages], "age bigint")
    labels = [r["g"] for r in df.select(insights.age_group(F.col("age")).alias("g")).collect()]
    assert labels == [None, "18-24", "18-24", "25-35", "25-35", "36-50", "36-50", "+50", "+50", None]


def test_1_popular_category_by_country_breaks_ties_by_name(spark: SparkSession, tables: CleanTables) -> None:
    expect(spark, insights.popular_category_by_country(tables),
           [("Chad", "art", 2), ("Fiji", "diy", 1), ("Peru", "beauty", 2)],
           "country string, category string, category_count bigint")


def test_2_popular_category_by_year_2018_to_2022(spark: SparkSession, tables: CleanTables) -> None:
    expect(spark, insights.popular_category_by_year(tables),
           [(2018, "art", 2), (2019, "travel", 2), (2020, "art", 1)],
           "post_year int, category string, category_count bigint")


def test_3a_top_user_by_country_skips_unknown_names_and_counts(spark: SparkSession, tables: CleanTables) -> None:
    expect(spark, insights.top_user_by_country(tables),
           [("Chad", "bob", 500), ("Fiji", "hal", 1000), ("Peru", "erin", 1000)],
           "country string, poster_name string, follower_count bigint")


def test_3b_top_country_by_followers_breaks_ties_by_country(spark: SparkSession, tables: CleanTables) -> None:
    expect(spark, insights.top_country_by_followers(tables), [("Fiji", 1000)],
           "country string, follower_count bigint")


def test_4_popular_category_by_age_group(spark: SparkSession, tables: CleanTables) -> None:
    expect(spark, insights.popular_category_by_age_group(tables),
           [("+50", "beauty", 1), ("18-24", "art", 2), ("25-35", "beauty", 1), ("36-50", "quotes", 1)],
           "age_group string, category string, category_count bigint")


def test_5_median_followers_by_age_group_interpolates(spark: SparkSession, tables: CleanTables) -> None:
    expect(spark, insights.median_followers_by_age_group(tables),
           [("+50", 1000.0), ("18-24", 300.0), ("25-35", 500.0), ("36-50", 30.0)],
           "age_group string, median_follower_count double")


def test_6_users_joined_by_year_counts_every_user(spark: SparkSession, tables: CleanTables) -> None:
    expect(spark, insights.users_joined_by_year(tables),
           [(2015, 3), (2016, 2), (2017, 2), (2018, 1), (2020, 1)],
           "post_year int, number_users_joined bigint")


def test_7_median_followers_by_join_year(spark: SparkSession, tables: CleanTables) -> None:
    expect(spark, insights.median_followers_by_join_year(tables),
           [(2015, 300.0), (2016, 275.0), (2017, 1000.0), (2018, 10.0), (2020, 1000.0)],
           "post_year int, median_follower_count double")


def test_8_median_followers_by_age_group_and_join_year(spark: SparkSession, tables: CleanTables) -> None:
    expect(spark, insights.median_followers_by_age_group_and_join_year(tables),
           [("+50", 2017, 1000.0), ("18-24", 2015, 300.0), ("25-35", 2016, 500.0), ("36-50", 2016, 50.0),
            ("36-50", 2018, 10.0)],
           "age_group string, post_year int, median_follower_count double")


def test_registry_names_every_query_once() -> None:
    assert len(insights.INSIGHTS) == 9
    assert all(name.startswith("insight_") for name in insights.INSIGHTS)
    assert len(set(insights.INSIGHTS.values())) == 9
