"""Reject rules of docs/data-contract.md §3 (quarantine), shared by batch and streaming, on hand-made records."""
from __future__ import annotations

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pinterest_pipeline.spark.parsing import (
    RAW_BYTES,
    REASON_MALFORMED,
    REASON_NON_FINITE,
    REASON_NOT_UTF8,
    REJECT_REASON,
    good_records,
    parse_raw,
    rejected_records,
)
from pinterest_pipeline.spark.schemas import RAW_SCHEMAS

pytestmark = pytest.mark.spark

#: kind → records with a number field that is not finite: the tokens NaN / Infinity (not JSON) or a string of them,
#: or a number beyond a double's range; in every number field.
NON_FINITE = {
    "geo": [b'{"ind": 1, "latitude": NaN, "longitude": 2.5}', b'{"ind": 1, "latitude": 2.5, "longitude": NaN}',
            b'{"ind": 1, "latitude": Infinity, "longitude": 2.5}', b'{"ind": 1, "latitude": -Infinity}',
            b'{"ind": 1, "longitude": 1e999}', b'{"ind": 1, "latitude": -1e999}', b'{"ind": 1, "latitude": "NaN"}',
            b'{"ind": 1, "longitude": "-Infinity"}', b'{"ind": NaN, "latitude": 2.5}', b'{"ind": 1e999}',
            b'{"ind": "NaN"}'],
    "user": [b'{"ind": 1, "age": NaN}', b'{"ind": 1, "age": Infinity}', b'{"ind": 1, "age": -Infinity}',
             b'{"ind": 1, "age": 1e999}', b'{"ind": -Infinity, "age": 30}'],
    "pin": [b'{"index": NaN}', b'{"index": 1, "downloaded": Infinity}', b'{"index": 1, "downloaded": -1e999}'],
}


def records(spark: SparkSession, lines: list[bytes]) -> DataFrame:
    """``lines`` as the string column ``raw`` (bytes kept as they are, like Spark's text reader and the Kinesis
    job's cast of ``data``) beside their position ``n``."""
    frame = spark.createDataFrame([(n, bytearray(line)) for n, line in enumerate(lines)], "n int, data binary")
    return frame.select("n", F.col("data").cast("string").alias("raw"))


def reasons(spark: SparkSession, kind: str, lines: list[bytes]) -> list[str | None]:
    parsed = parse_raw(records(spark, lines), "raw", RAW_SCHEMAS[kind])
    return [r[REJECT_REASON] for r in parsed.orderBy("n").collect()]


@pytest.mark.parametrize("kind", NON_FINITE)
def test_non_finite_numbers_are_rejected_as_such(spark: SparkSession, kind: str) -> None:
    assert reasons(spark, kind, NON_FINITE[kind]) == [REASON_NON_FINITE] * len(NON_FINITE[kind])


def test_finite_extremes_are_good_and_other_non_json_tokens_malformed(spark: SparkSession) -> None:
    lines = [b'{"ind": 1, "latitude": 1.7976931348623157e308, "longitude": -1e-999}',  # largest double; 0.0
             b'{"ind": 1, "country": NaN}', b'{"ind": 1, "extra": [Infinity]}',  # not JSON, not a number field
             b'{"ind": 1.5}', b'{"ind": "12"}', b'{"ind": NaN, "latitude": "north"}']  # wrong type
    assert reasons(spark, "geo", lines) == [None] + [REASON_MALFORMED] * 5


def test_text_that_is_not_utf8_is_rejected_and_kept_byte_for_byte(spark: SparkSession) -> None:
    lines = [b'{"ind": 1, "x": "\xff\xfe"}', b'{"ind": 2, "first_name": "Ren\xe9"}', b'\xc3\x28',
             b'{"ind": 3, "first_name": "Ren\xc3\xa9 \xef\xbf\xbd"}']  # valid: é and a real U+FFFD
    parsed = parse_raw(records(spark, lines), "raw", RAW_SCHEMAS["user"])
    assert [r["ind"] for r in good_records(parsed, RAW_SCHEMAS["user"]).collect()] == [3]
    rejected = rejected_records(parsed, ("n",), "raw").orderBy("n").collect()
    assert [r["reason"] for r in rejected] == [REASON_NOT_UTF8] * 3
    assert [bytes(r[RAW_BYTES]) for r in rejected] == lines[:3]
    assert [r["raw"] for r in rejected] == ['{"ind": 1, "x": "\ufffd\ufffd"}', '{"ind": 2, "first_name": "Ren\ufffd"}',
                                            "\ufffd("]
