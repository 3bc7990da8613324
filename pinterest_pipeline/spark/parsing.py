"""Raw JSON text → the raw schema's columns, with the reason a record is unusable (batch and streaming alike).

A record is rejected, never dropped, when its text is blank, is not JSON of the schema (PERMISSIVE parsing puts
it in the corrupt-record column), or lacks its key column (``index`` / ``ind``). Each caller keeps its own
provenance columns (lake object, or Kinesis shard and sequence number) beside the parsed ones.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from pinterest_pipeline.spark.schemas import CORRUPT_RECORD, with_corrupt_record

#: Column naming why a record was rejected (NULL for a good record).
REJECT_REASON = "_reject_reason"
REASON_BLANK = "blank line"
REASON_MALFORMED = "malformed JSON or wrong field type"
REASON_MISSING_KEY = "missing key column"
_PARSED = "_parsed"


def parse_json(raw: Column, schema: StructType) -> Column:
    """``raw`` JSON text parsed with ``schema`` (PERMISSIVE: unparsable text lands in the corrupt column)."""
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD}
    return F.from_json(raw, with_corrupt_record(schema), options)


def reject_reason(raw: Column, parsed: Column, key_column: str) -> Column:
    """Why a record is unusable, or NULL when it is good."""
    return (
        F.when(F.trim(raw) == "", F.lit(REASON_BLANK))
        .when(parsed[CORRUPT_RECORD].isNotNull(), F.lit(REASON_MALFORMED))
        .when(parsed[key_column].isNull(), F.lit(f"{REASON_MISSING_KEY} {key_column}"))
    )


def parse_raw(frame: DataFrame, raw_column: str, schema: StructType, key_column: str | None = None) -> DataFrame:
    """``schema``'s columns parsed from ``raw_column``, then every column of ``frame``, then :data:`REJECT_REASON`.

    ``key_column`` (default: the schema's first column) must be present for a record to be good.
    """
    key_column = key_column or schema.fieldNames()[0]
    return frame.withColumn(_PARSED, parse_json(F.col(raw_column), schema)).select(
        *[F.col(_PARSED)[name].alias(name) for name in schema.fieldNames()],
        *frame.columns,
        reject_reason(F.col(raw_column), F.col(_PARSED), key_column).alias(REJECT_REASON),
    )


def good_records(parsed: DataFrame, schema: StructType) -> DataFrame:
    """The usable records of :func:`parse_raw`, with the schema's columns only."""
    return parsed.where(F.col(REJECT_REASON).isNull()).select(*schema.fieldNames())


def rejected_records(parsed: DataFrame, provenance: tuple[str, ...]) -> DataFrame:
    """The unusable records of :func:`parse_raw`: the ``provenance`` columns and ``reason``."""
    return parsed.where(F.col(REJECT_REASON).isNotNull()).select(*provenance, F.col(REJECT_REASON).alias("reason"))


def count_outcomes(parsed: DataFrame) -> dict[str, int]:
    """``{"raw": records, "good": usable, "quarantined": rejected}`` of a :func:`parse_raw` result (one job)."""
    row = parsed.agg(
        F.count(F.lit(1)).alias("raw"),
        F.count(F.when(F.col(REJECT_REASON).isNull(), 1)).alias("good"),
        F.count(F.col(REJECT_REASON)).alias("quarantined"),
    ).first()
    return {"raw": int(row["raw"]), "good": int(row["good"]), "quarantined": int(row["quarantined"])}


def count_reasons(parsed: DataFrame) -> dict[str, int]:
    """Rejected records of a :func:`parse_raw` result by reason (one job; empty when every record is good)."""
    rows = parsed.where(F.col(REJECT_REASON).isNotNull()).groupBy(REJECT_REASON).count().collect()
    return {row[REJECT_REASON]: int(row["count"]) for row in sorted(rows)}
