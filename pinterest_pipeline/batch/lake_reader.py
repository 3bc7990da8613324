"""Reading one topic of the lake with an explicit schema; unreadable lines go to quarantine, never away."""
from __future__ import annotations

from typing import NamedTuple

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from pinterest_pipeline.lake.layout import topic_prefix
from pinterest_pipeline.spark.parsing import RAW_BYTES, good_records, parse_raw, rejected_records

#: Where a lake line came from.
LAKE_PROVENANCE = ("topic", "source_file")
#: Columns of the batch quarantine table: where a line came from, the line (as valid UTF-8 text, and its exact
#: bytes), and why it was rejected.
LAKE_QUARANTINE_COLUMNS = (*LAKE_PROVENANCE, "raw_line", RAW_BYTES, "reason")


class TopicRead(NamedTuple):
    """Good records (the schema's columns) and rejected lines (:data:`LAKE_QUARANTINE_COLUMNS`)."""

    good: DataFrame
    quarantine: DataFrame


class LakeReadError(RuntimeError):
    """The lake holds no objects for a topic (wrong root, prefix or an empty lake)."""


def topic_glob(lake_root: str, topic: str) -> str:
    """``<lake_root>/topics/<topic>/partition=*/*.json`` for any filesystem Spark knows."""
    return f"{lake_root.rstrip('/')}/{topic_prefix(topic)}partition=*/*.json"


def parse_topic(
    spark: SparkSession, lake_root: str, topic: str, schema: StructType, key_column: str | None = None
) -> DataFrame:
    """Every line of a topic's objects, parsed (:func:`~pinterest_pipeline.spark.parsing.parse_raw`) beside
    ``raw_line``, ``source_file`` and ``topic``."""
    path = topic_glob(lake_root, topic)
    try:
        lines = spark.read.text(path)
    except AnalysisException as error:
        raise LakeReadError(f"no lake objects for topic {topic!r} at {path}") from error
    return parse_raw(located_lines(lines, topic), "raw_line", schema, key_column)


def located_lines(lines: DataFrame, topic: str) -> DataFrame:
    """Text lines (Spark's text source, batch or stream) → ``raw_line``, ``source_file``, ``topic``."""
    return lines.select(
        F.col("value").alias("raw_line"),
        F.col("_metadata.file_path").alias("source_file"),
        F.lit(topic).alias("topic"),
    )


def split_rejects(parsed: DataFrame, schema: StructType) -> TopicRead:
    """Split the output of :func:`parse_topic` into good records and quarantined lines."""
    return TopicRead(good_records(parsed, schema), rejected_records(parsed, LAKE_PROVENANCE, "raw_line"))


def read_topic(
    spark: SparkSession, lake_root: str, topic: str, schema: StructType, key_column: str | None = None
) -> TopicRead:
    """Read ``<lake_root>/topics/<topic>/partition=*/*.json`` → (good records, quarantined lines)."""
    return split_rejects(parse_topic(spark, lake_root, topic, schema, key_column), schema)
