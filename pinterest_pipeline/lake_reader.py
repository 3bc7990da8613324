"""Reading one topic of the lake with an explicit schema; unreadable lines go to quarantine, never away."""
from __future__ import annotations

from typing import NamedTuple

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from pinterest_pipeline.lake.layout import topic_prefix
from pinterest_pipeline.schemas import CORRUPT_RECORD, with_corrupt_record

#: Column naming why a line was rejected (NULL for a good record).
REJECT_REASON = "_reject_reason"
#: Columns of the quarantine DataFrame / table.
QUARANTINE_COLUMNS = ("topic", "source_file", "raw_line", "reason")

REASON_BLANK = "blank line"
REASON_MALFORMED = "malformed JSON or wrong field type"
REASON_MISSING_KEY = "missing key column"


class TopicRead(NamedTuple):
    """Good records (the schema's columns) and rejected lines (:data:`QUARANTINE_COLUMNS`)."""

    good: DataFrame
    quarantine: DataFrame


class LakeReadError(RuntimeError):
    """The lake holds no objects for a topic (wrong root, prefix or an empty lake)."""


def topic_glob(lake_root: str, topic: str) -> str:
    """``<lake_root>/topics/<topic>/partition=*/*.json`` for any filesystem Spark knows."""
    return f"{lake_root.rstrip('/')}/{topic_prefix(topic)}partition=*/*.json"


def parse_json(raw: Column, schema: StructType) -> Column:
    """``raw`` JSON text parsed with ``schema`` (PERMISSIVE: unparsable text lands in the corrupt column)."""
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD}
    return F.from_json(raw, with_corrupt_record(schema), options)


def reject_reason(raw: Column, parsed: Column, key_column: str) -> Column:
    """Why a line or record is unusable, or NULL when it is good (shared by the batch and streaming jobs)."""
    return (
        F.when(F.trim(raw) == "", F.lit(REASON_BLANK))
        .when(parsed[CORRUPT_RECORD].isNotNull(), F.lit(REASON_MALFORMED))
        .when(parsed[key_column].isNull(), F.lit(f"{REASON_MISSING_KEY} {key_column}"))
    )


def parse_topic(
    spark: SparkSession, lake_root: str, topic: str, schema: StructType, key_column: str | None = None
) -> DataFrame:
    """Every line of a topic's objects, parsed: the schema's columns, ``raw_line``, ``source_file``,
    ``topic`` and :data:`REJECT_REASON` (NULL for good records).

    ``key_column`` (default: the schema's first column) must be present for a record to be good.
    """
    key_column = key_column or schema.fieldNames()[0]
    path = topic_glob(lake_root, topic)
    try:
        lines = spark.read.text(path)
    except AnalysisException as error:
        raise LakeReadError(f"no lake objects for topic {topic!r} at {path}") from error
    parsed = parse_json(F.col("raw_line"), schema)
    return (
        lines.select(
            F.col("value").alias("raw_line"),
            F.col("_metadata.file_path").alias("source_file"),
        )
        .withColumn("_parsed", parsed)
        .select(
            *[F.col("_parsed")[f.name].alias(f.name) for f in schema.fields],
            "raw_line",
            "source_file",
            F.lit(topic).alias("topic"),
            reject_reason(F.col("raw_line"), F.col("_parsed"), key_column).alias(REJECT_REASON),
        )
    )


def split_rejects(parsed: DataFrame, schema: StructType) -> TopicRead:
    """Split the output of :func:`parse_topic` into good records and quarantined lines."""
    good = parsed.where(F.col(REJECT_REASON).isNull()).select(*schema.fieldNames())
    rejected = parsed.where(F.col(REJECT_REASON).isNotNull()).withColumnRenamed(REJECT_REASON, "reason")
    quarantine = rejected.select(*QUARANTINE_COLUMNS)
    return TopicRead(good, quarantine)


def read_topic(
    spark: SparkSession, lake_root: str, topic: str, schema: StructType, key_column: str | None = None
) -> TopicRead:
    """Read ``<lake_root>/topics/<topic>/partition=*/*.json`` → (good records, quarantined lines)."""
    return split_rejects(parse_topic(spark, lake_root, topic, schema, key_column), schema)


def count_outcomes(parsed: DataFrame) -> dict[str, int]:
    """``{"raw": lines, "good": records, "quarantined": rejected}`` of a :func:`parse_topic` result."""
    row = parsed.agg(
        F.count(F.lit(1)).alias("raw"),
        F.count(F.when(F.col(REJECT_REASON).isNull(), 1)).alias("good"),
        F.count(F.col(REJECT_REASON)).alias("quarantined"),
    ).first()
    return {"raw": int(row["raw"]), "good": int(row["good"]), "quarantined": int(row["quarantined"])}
