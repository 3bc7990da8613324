"""Cleansing rules (docs/data-contract.md §3) as pure DataFrame → DataFrame steps, shared by batch and streaming.

``clean_pin``, ``clean_geo`` and ``clean_user`` work row by row (so a stream can use them);
:func:`deduplicate_by_ind` is the separate step that keeps one row per ``ind``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from pinterest_pipeline.contract import PLACEHOLDERS, SAVE_LOCATION_PREFIX

PIN_COLUMNS = (
    "ind", "unique_id", "title", "description", "follower_count", "poster_name", "tag_list",
    "is_image_or_video", "image_src", "save_location", "category",
)
GEO_COLUMNS = ("ind", "country", "coordinates", "timestamp")
USER_COLUMNS = ("ind", "user_name", "age", "date_joined")

TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"
#: ``452``, ``3.2k``, ``1M``: up to 12 digits, up to 6 decimals, optional thousand / million suffix. The bounds
#: make every match fit ``decimal(18,6)`` and, scaled, a bigint, so the casts below cannot fail (ANSI or not).
FOLLOWER_COUNT_PATTERN = r"^(\d{1,12}(?:\.\d{1,6})?)\s*([kKmM]?)$"
_SUFFIX_MULTIPLIER = {"k": 1_000, "m": 1_000_000}


# --- row-level expressions -------------------------------------------------------------------------

def follower_count_value(text: Column) -> Column:
    """``"452"`` → 452, ``"3.2k"`` → 3200, ``"1M"`` → 1000000; anything else → NULL (bigint)."""
    trimmed = F.trim(text)
    number = F.regexp_extract(trimmed, FOLLOWER_COUNT_PATTERN, 1)
    suffix = F.lower(F.regexp_extract(trimmed, FOLLOWER_COUNT_PATTERN, 2))
    multiplier = F.lit(1)
    for letter, factor in _SUFFIX_MULTIPLIER.items():
        multiplier = F.when(suffix == letter, F.lit(factor)).otherwise(multiplier)
    scaled = F.round(number.cast("decimal(18,6)") * multiplier, 0)
    return F.when(number != "", scaled.cast("bigint"))


def timestamp_value(text: Column) -> Column:
    """``"2018-06-26 02:39:25"`` → timestamp (other ISO forms accepted); unreadable → NULL."""
    return F.coalesce(F.try_to_timestamp(text, F.lit(TIMESTAMP_FORMAT)), F.try_to_timestamp(text))


def is_blank(column: Column) -> Column:
    """True for an empty or whitespace-only string."""
    return F.trim(column) == ""


# --- steps -----------------------------------------------------------------------------------------

def string_columns(df: DataFrame) -> list[str]:
    """Names of the string columns of ``df``."""
    return [f.name for f in df.schema.fields if isinstance(f.dataType, StringType)]


def replace_empty_strings_with_null(df: DataFrame) -> DataFrame:
    """Every empty (or whitespace-only) string becomes NULL."""
    return df.withColumns({c: F.when(~is_blank(F.col(c)), F.col(c)) for c in string_columns(df)})


def replace_placeholders_with_null(
    df: DataFrame, placeholders: Mapping[str, Iterable[str]] = PLACEHOLDERS
) -> DataFrame:
    """Every placeholder value of docs/data-contract.md §1 (in the columns ``df`` has) becomes NULL."""
    present = {c: tuple(v) for c, v in placeholders.items() if c in df.columns}
    return df.withColumns({c: F.when(~F.col(c).isin(*v), F.col(c)) for c, v in present.items()})


def parse_follower_count(df: DataFrame) -> DataFrame:
    """``follower_count`` text → bigint (see :func:`follower_count_value`)."""
    return df.withColumn("follower_count", follower_count_value(F.col("follower_count")))


def strip_save_location_prefix(df: DataFrame) -> DataFrame:
    """``"Local save in /data/art"`` → ``"/data/art"``."""
    prefix = f"^{SAVE_LOCATION_PREFIX}"
    return df.withColumn("save_location", F.regexp_replace("save_location", prefix, ""))


def rename_index_to_ind(df: DataFrame) -> DataFrame:
    """The pin table's ``index`` column is called ``ind`` like the others."""
    return df.withColumnRenamed("index", "ind")


def cast_numeric_columns(df: DataFrame, types: Mapping[str, str]) -> DataFrame:
    """Give each named column its numeric type (``try_cast``: a value that does not fit becomes NULL; the SQL
    form, as ``Column.try_cast`` only exists from Spark 4)."""
    return df.withColumns({c: F.expr(f"try_cast(`{c}` AS {t})") for c, t in types.items() if c in df.columns})


def combine_coordinates(df: DataFrame) -> DataFrame:
    """``latitude`` and ``longitude`` → ``coordinates`` = array(latitude, longitude)."""
    return df.withColumn("coordinates", F.array("latitude", "longitude")).drop("latitude", "longitude")


def combine_user_name(df: DataFrame) -> DataFrame:
    """``first_name`` + " " + ``last_name`` → ``user_name`` (NULL when both are missing)."""
    name = F.concat_ws(" ", "first_name", "last_name")
    return df.withColumn("user_name", F.when(name != "", name)).drop("first_name", "last_name")


def parse_timestamp(df: DataFrame, column: str) -> DataFrame:
    """``column`` text → a real timestamp (see :func:`timestamp_value`)."""
    return df.withColumn(column, timestamp_value(F.col(column)))


def select_columns(df: DataFrame, columns: Iterable[str]) -> DataFrame:
    """Keep exactly ``columns``, in that order."""
    return df.select(*columns)


# --- per-leg pipelines -----------------------------------------------------------------------------

def clean_pin(df: DataFrame) -> DataFrame:
    """Raw pin records → :data:`PIN_COLUMNS` (docs/data-contract.md §3)."""
    return (
        df.transform(replace_empty_strings_with_null)
        .transform(replace_placeholders_with_null)
        .transform(parse_follower_count)
        .transform(strip_save_location_prefix)
        .transform(rename_index_to_ind)
        .transform(cast_numeric_columns, {"ind": "bigint"})
        .transform(select_columns, PIN_COLUMNS)
    )


def clean_geo(df: DataFrame) -> DataFrame:
    """Raw geolocation records → :data:`GEO_COLUMNS` (docs/data-contract.md §3)."""
    return (
        df.transform(replace_empty_strings_with_null)
        .transform(cast_numeric_columns, {"ind": "bigint", "latitude": "double", "longitude": "double"})
        .transform(combine_coordinates)
        .transform(parse_timestamp, "timestamp")
        .transform(select_columns, GEO_COLUMNS)
    )


def clean_user(df: DataFrame) -> DataFrame:
    """Raw user records → :data:`USER_COLUMNS` (docs/data-contract.md §3)."""
    return (
        df.transform(replace_empty_strings_with_null)
        .transform(cast_numeric_columns, {"ind": "bigint", "age": "bigint"})
        .transform(combine_user_name)
        .transform(parse_timestamp, "date_joined")
        .transform(select_columns, USER_COLUMNS)
    )


CLEANERS = {"pin": clean_pin, "geo": clean_geo, "user": clean_user}


def deduplicate_by_ind(df: DataFrame) -> DataFrame:
    """One row per ``ind``: among repeats the smallest row (all columns compared in order) is kept,
    so the result does not depend on partitioning. Rows without ``ind`` are dropped (the reader
    already quarantines them)."""
    others = [c for c in df.columns if c != "ind"]
    return (
        df.where(F.col("ind").isNotNull())
        .groupBy("ind")
        .agg(F.min(F.struct(*others)).alias("_row"))
        .select("ind", *[F.col(f"_row.{c}").alias(c) for c in others])
    )


# --- data quality ----------------------------------------------------------------------------------

#: Raw columns parsed into another type, and the expression that parses them.
_PARSED_COLUMNS = {"follower_count": follower_count_value, "timestamp": timestamp_value, "date_joined": timestamp_value}


#: Separates column and issue in the name of a :func:`data_quality_metrics` column.
_METRIC_SEPARATOR = ":"


def data_quality_metrics(raw: DataFrame) -> dict[str, Column]:
    """Per column of raw records, the aggregate counting its empty, placeholder (§3) or unreadable values, named
    ``<column>:<issue>`` (:func:`quality_issue` splits the name), only for the issues a column can have.

    Aggregates, so they fit beside others in one pass over the records (a ``groupBy``'s ``agg`` too)."""
    metrics: dict[str, Column] = {}
    for column in string_columns(raw):
        value = F.col(column)
        metrics[f"{column}{_METRIC_SEPARATOR}empty"] = F.count(F.when(is_blank(value), 1))
        placeholders = PLACEHOLDERS.get(column, ())
        if placeholders:
            metrics[f"{column}{_METRIC_SEPARATOR}placeholder"] = F.count(F.when(value.isin(*placeholders), 1))
        readable = _PARSED_COLUMNS.get(column)
        if readable is not None:
            usable = ~is_blank(value) & ~value.isin(*placeholders) if placeholders else ~is_blank(value)
            metrics[f"{column}{_METRIC_SEPARATOR}unparseable"] = F.count(F.when(usable & readable(value).isNull(), 1))
    return metrics


def quality_issue(metric: str) -> tuple[str, str]:
    """``(column_name, issue)`` of a :func:`data_quality_metrics` name."""
    column, _, issue = metric.partition(_METRIC_SEPARATOR)
    return column, issue
