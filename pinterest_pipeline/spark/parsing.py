"""Raw JSON text → the raw schema's columns, with the reason a record is unusable (batch and streaming alike).

A record is rejected, never dropped, when it is larger than :data:`~pinterest_pipeline.contract.MAX_RECORD_BYTES`,
blank, not UTF-8, not strict JSON of the schema (PERMISSIVE parsing puts it in the corrupt-record column; ``NaN``
and ``Infinity`` are not JSON), holds a number that is not finite (``NaN``, ``Infinity``, or beyond a double's
range such as ``1e999``), or lacks its key column (``index`` / ``ind``). Each caller keeps its own provenance
columns (lake object, or Kinesis shard and sequence number) beside the parsed ones.
"""
from __future__ import annotations

from functools import reduce
from operator import or_

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, LongType, StructField, StructType

from pinterest_pipeline.contract import MAX_RECORD_BYTES
from pinterest_pipeline.spark.schemas import CORRUPT_RECORD, with_corrupt_record

#: Column naming why a record was rejected (NULL for a good record).
REJECT_REASON = "_reject_reason"
#: Column of a rejected record's exact bytes (its text column holds them as valid UTF-8).
RAW_BYTES = "raw_bytes"
REASON_TOO_LARGE = "record too large"
REASON_BLANK = "blank line"
REASON_NOT_UTF8 = "not valid UTF-8"
REASON_MALFORMED = "malformed JSON or wrong field type"
REASON_NON_FINITE = "non-finite number"
REASON_MISSING_KEY = "missing key column"
_PARSED = "_parsed"
_LENIENT = "_lenient"
_INFINITY = float("inf")


def parse_json(raw: Column, schema: StructType, allow_non_finite: bool = False) -> Column:
    """``raw`` JSON text parsed with ``schema`` (PERMISSIVE: unparsable text lands in the corrupt column).

    Strict unless ``allow_non_finite``: the tokens ``NaN`` / ``Infinity`` and such strings in a double field make
    the record corrupt. Strings may be as long as a record may be (Jackson's default stops at 20 million chars).
    """
    options = {
        "mode": "PERMISSIVE",
        "columnNameOfCorruptRecord": CORRUPT_RECORD,
        "allowNonNumericNumbers": str(allow_non_finite).lower(),
        "maxStringLen": str(MAX_RECORD_BYTES),
    }
    return F.from_json(raw, with_corrupt_record(schema), options)


def utf8_text(raw: Column) -> tuple[Column, Column]:
    """``(valid, text)``: whether the string ``raw`` holds valid UTF-8, and its text with each invalid sequence
    replaced by U+FFFD. Spark 4 has functions for both; Spark 3.5 (Databricks 14.3 / 15.4 LTS) has not, but its
    ``decode`` replaces (Spark 4's raises), and valid UTF-8 is exactly what survives that round trip."""
    if hasattr(F, "make_valid_utf8"):
        return F.is_valid_utf8(raw), F.make_valid_utf8(raw)
    text = F.decode(raw.cast("binary"), "UTF-8")
    return text.cast("binary") == raw.cast("binary"), text


def _numbers_as_doubles(schema: StructType) -> StructType:
    """``schema`` with every long column read as a double, so that ``NaN`` or ``1e999`` there has a value."""
    return StructType([StructField(f.name, DoubleType(), f.nullable) if isinstance(f.dataType, LongType) else f
                       for f in schema.fields])


def _non_finite(parsed: Column, schema: StructType) -> Column:
    """True when a double column of ``parsed`` is NaN or infinite."""
    checks = [F.isnan(parsed[f.name]) | (F.abs(parsed[f.name]) == _INFINITY)
              for f in schema.fields if isinstance(f.dataType, DoubleType)]
    return reduce(or_, checks, F.lit(False))


def reject_reason(raw: Column, parsed: Column, lenient: Column, schema: StructType, key_column: str) -> Column:
    """Why a record is unusable, or NULL when it is good (the first reason that applies).

    ``parsed`` is the strict parse; ``lenient`` the :func:`lenient_parse` of a record the strict one rejected,
    whose non-finite number, if any, is the reason.
    """
    size = F.octet_length(raw)
    valid_utf8, _ = utf8_text(raw)
    lenient_schema = _numbers_as_doubles(schema)
    non_finite_number = lenient[CORRUPT_RECORD].isNull() & _non_finite(lenient, lenient_schema)
    return (
        F.when(size > MAX_RECORD_BYTES,
               F.format_string(f"{REASON_TOO_LARGE}: %d bytes > {MAX_RECORD_BYTES}", size))
        .when(F.trim(raw) == "", F.lit(REASON_BLANK))
        .when(~valid_utf8, F.lit(REASON_NOT_UTF8))
        .when(parsed[CORRUPT_RECORD].isNotNull(),
              F.when(non_finite_number, F.lit(REASON_NON_FINITE)).otherwise(F.lit(REASON_MALFORMED)))
        .when(_non_finite(parsed, schema), F.lit(REASON_NON_FINITE))
        .when(parsed[key_column].isNull(), F.lit(f"{REASON_MISSING_KEY} {key_column}"))
    )


def lenient_parse(raw: Column, schema: StructType) -> Column:
    """``raw`` parsed with every number read as a double and ``NaN`` / ``Infinity`` accepted: where the strict
    parse fails, this one shows whether a non-finite number is why."""
    return parse_json(raw, _numbers_as_doubles(schema), allow_non_finite=True)


def parse_raw(frame: DataFrame, raw_column: str, schema: StructType, key_column: str | None = None) -> DataFrame:
    """``schema``'s columns parsed from ``raw_column``, then every column of ``frame``, then :data:`REJECT_REASON`.

    ``key_column`` (default: the schema's first column) must be present for a record to be good. A record larger
    than :data:`~pinterest_pipeline.contract.MAX_RECORD_BYTES` is not parsed at all; the lenient parse runs only
    for records the strict one rejects.
    """
    key_column = key_column or schema.fieldNames()[0]
    raw = F.col(raw_column)
    readable = F.when(F.octet_length(raw) <= MAX_RECORD_BYTES, raw)
    parsed = frame.withColumn(_PARSED, parse_json(readable, schema))
    explained = parsed.withColumn(
        _LENIENT, F.when(F.col(_PARSED)[CORRUPT_RECORD].isNotNull(), lenient_parse(readable, schema)))
    return explained.select(
        *[F.col(_PARSED)[name].alias(name) for name in schema.fieldNames()],
        *frame.columns,
        reject_reason(raw, F.col(_PARSED), F.col(_LENIENT), schema, key_column).alias(REJECT_REASON),
    )


def good_records(parsed: DataFrame, schema: StructType) -> DataFrame:
    """The usable records of :func:`parse_raw`, with the schema's columns only."""
    return parsed.where(F.col(REJECT_REASON).isNull()).select(*schema.fieldNames())


def rejected_records(parsed: DataFrame, provenance: tuple[str, ...], raw_column: str) -> DataFrame:
    """The unusable records of :func:`parse_raw`: the ``provenance`` columns, ``raw_column`` as valid UTF-8 text
    (each invalid sequence replaced by U+FFFD), :data:`RAW_BYTES` (its exact bytes) and ``reason``."""
    raw = F.col(raw_column)
    _, text = utf8_text(raw)
    return parsed.where(F.col(REJECT_REASON).isNotNull()).select(
        *provenance, text.alias(raw_column), raw.cast("binary").alias(RAW_BYTES), F.col(REJECT_REASON).alias("reason"))


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
