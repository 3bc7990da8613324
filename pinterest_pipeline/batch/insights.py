"""The insight queries of docs/data-contract.md §5, one function each, over the cleaned (deduplicated) tables.

Joins are inner joins on ``ind``; ties go to the name that sorts first; rows come out sorted by the
leading columns; medians are exact with linear interpolation (``percentile(x, 0.5)``) over rows whose
``follower_count`` is not NULL. Rows whose grouping value (country, category, year, age group) is NULL
are left out: a NULL is not a country nor a category.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

POST_YEARS = (2018, 2022)
JOIN_YEARS = (2015, 2020)
#: Age group label → inclusive (lowest, highest) age; ``None`` means no upper bound.
AGE_GROUPS: dict[str, tuple[int, int | None]] = {
    "18-24": (18, 24), "25-35": (25, 35), "36-50": (36, 50), "+50": (51, None),
}


class CleanTables(NamedTuple):
    """The three cleaned tables, one row per ``ind`` each."""

    pin: DataFrame
    geo: DataFrame
    user: DataFrame


# --- shared building blocks ------------------------------------------------------------------------

def age_group(age: Column) -> Column:
    """Label of :data:`AGE_GROUPS` for ``age``; NULL below 18 or when unknown."""
    label = F.lit(None).cast("string")
    for name, (low, high) in reversed(AGE_GROUPS.items()):
        within = age >= low if high is None else age.between(low, high)
        label = F.when(within, F.lit(name)).otherwise(label)
    return label


def top_per_group(df: DataFrame, groups: Sequence[str], value: str, name: str) -> DataFrame:
    """Per ``groups``, the row with the highest ``value``; ties go to the smallest ``name``."""
    order = Window.partitionBy(*groups).orderBy(F.col(value).desc(), F.col(name).asc())
    return df.withColumn("_rank", F.row_number().over(order)).where("_rank = 1").drop("_rank")


def most_popular_category(df: DataFrame, group: str) -> DataFrame:
    """Per ``group``, the category with the most rows → ``<group>, category, category_count``."""
    counts = (
        df.where(F.col(group).isNotNull() & F.col("category").isNotNull())
        .groupBy(group, "category")
        .agg(F.count(F.lit(1)).alias("category_count"))
    )
    return top_per_group(counts, [group], "category_count", "category").orderBy(group)


def median_follower_count(df: DataFrame, groups: Sequence[str]) -> DataFrame:
    """Per ``groups``, the exact median ``follower_count`` → ``<groups>, median_follower_count``."""
    known = F.col("follower_count").isNotNull()
    for group in groups:
        known = known & F.col(group).isNotNull()
    return (
        df.where(known)
        .groupBy(*groups)
        .agg(F.percentile(F.col("follower_count"), F.lit(0.5)).alias("median_follower_count"))
        .orderBy(*groups)
    )


def pins_with_country(tables: CleanTables) -> DataFrame:
    """Pin rows joined to their geolocation."""
    return tables.pin.join(tables.geo, "ind")


def pins_with_user(tables: CleanTables) -> DataFrame:
    """Pin rows joined to their user, with ``age_group`` and the joining year as ``post_year``."""
    return tables.pin.join(tables.user, "ind").select(
        "*", age_group(F.col("age")).alias("age_group"), F.year("date_joined").alias("post_year")
    )


def in_years(df: DataFrame, years: tuple[int, int]) -> DataFrame:
    """Rows whose ``post_year`` lies within ``years`` (inclusive)."""
    return df.where(F.col("post_year").between(*years))


# --- the queries -----------------------------------------------------------------------------------

def popular_category_by_country(tables: CleanTables) -> DataFrame:
    """1. Most popular category in each country → ``country, category, category_count``."""
    return most_popular_category(pins_with_country(tables), "country")


def popular_category_by_year(tables: CleanTables) -> DataFrame:
    """2. Most popular category each year 2018–2022 (geo timestamp) → ``post_year, category, category_count``."""
    posts = pins_with_country(tables).withColumn("post_year", F.year("timestamp"))
    return most_popular_category(in_years(posts, POST_YEARS), "post_year")


def top_user_by_country(tables: CleanTables) -> DataFrame:
    """3a. User with the most followers in each country → ``country, poster_name, follower_count``."""
    known = pins_with_country(tables).where(
        F.col("country").isNotNull() & F.col("poster_name").isNotNull() & F.col("follower_count").isNotNull()
    )
    top = top_per_group(known, ["country"], "follower_count", "poster_name")
    return top.select("country", "poster_name", "follower_count").orderBy("country")


def top_country_by_followers(tables: CleanTables) -> DataFrame:
    """3b. The country whose top user has the most followers → ``country, follower_count``."""
    return (
        top_user_by_country(tables)
        .orderBy(F.col("follower_count").desc(), F.col("country").asc())
        .limit(1)
        .select("country", "follower_count")
    )


def popular_category_by_age_group(tables: CleanTables) -> DataFrame:
    """4. Most popular category per age group → ``age_group, category, category_count``."""
    return most_popular_category(pins_with_user(tables), "age_group")


def median_followers_by_age_group(tables: CleanTables) -> DataFrame:
    """5. Median follower count per age group → ``age_group, median_follower_count``."""
    return median_follower_count(pins_with_user(tables), ["age_group"])


def users_joined_by_year(tables: CleanTables) -> DataFrame:
    """6. Users joined per year 2015–2020 → ``post_year, number_users_joined``."""
    users = tables.user.withColumn("post_year", F.year("date_joined"))
    return (
        in_years(users, JOIN_YEARS)
        .groupBy("post_year")
        .agg(F.count(F.lit(1)).alias("number_users_joined"))
        .orderBy("post_year")
    )


def median_followers_by_join_year(tables: CleanTables) -> DataFrame:
    """7. Median follower count by joining year 2015–2020 → ``post_year, median_follower_count``."""
    return median_follower_count(in_years(pins_with_user(tables), JOIN_YEARS), ["post_year"])


def median_followers_by_age_group_and_join_year(tables: CleanTables) -> DataFrame:
    """8. Median follower count by age group and joining year 2015–2020
    → ``age_group, post_year, median_follower_count``."""
    return median_follower_count(in_years(pins_with_user(tables), JOIN_YEARS), ["age_group", "post_year"])


#: Delta table name → query.
INSIGHTS: dict[str, Callable[[CleanTables], DataFrame]] = {
    "insight_1_popular_category_by_country": popular_category_by_country,
    "insight_2_popular_category_by_year": popular_category_by_year,
    "insight_3a_top_user_by_country": top_user_by_country,
    "insight_3b_top_country_by_followers": top_country_by_followers,
    "insight_4_popular_category_by_age_group": popular_category_by_age_group,
    "insight_5_median_followers_by_age_group": median_followers_by_age_group,
    "insight_6_users_joined_by_year": users_joined_by_year,
    "insight_7_median_followers_by_join_year": median_followers_by_join_year,
    "insight_8_median_followers_by_age_group_and_join_year": median_followers_by_age_group_and_join_year,
}


def compute_insights(tables: CleanTables) -> dict[str, DataFrame]:
    """Every insight of :data:`INSIGHTS`, by table name (lazy DataFrames)."""
    return {name: query(tables) for name, query in INSIGHTS.items()}
