"""Explicit schemas of the three raw topics, exactly as the JSON carries them (batch and streaming)."""
from __future__ import annotations

from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

from pinterest_pipeline.contract import SOURCE_COLUMNS, SOURCE_TABLE_BY_KIND

#: Column holding a line the JSON parser could not read (Spark's PERMISSIVE mode).
CORRUPT_RECORD = "_corrupt_record"

#: Raw JSON type of every non-string column; all other columns are strings (timestamps too).
_NON_STRING_TYPES = {
    "index": LongType(),
    "ind": LongType(),
    "downloaded": LongType(),
    "age": LongType(),
    "latitude": DoubleType(),
    "longitude": DoubleType(),
}

def raw_schema(kind: str) -> StructType:
    """Schema of one raw topic (``pin``, ``geo`` or ``user``), columns in the source order."""
    columns = SOURCE_COLUMNS[SOURCE_TABLE_BY_KIND[kind]]
    return StructType([StructField(c, _NON_STRING_TYPES.get(c, StringType()), True) for c in columns])


PIN_SCHEMA = raw_schema("pin")
GEO_SCHEMA = raw_schema("geo")
USER_SCHEMA = raw_schema("user")
RAW_SCHEMAS: dict[str, StructType] = {"pin": PIN_SCHEMA, "geo": GEO_SCHEMA, "user": USER_SCHEMA}


def with_corrupt_record(schema: StructType) -> StructType:
    """``schema`` plus the string column where PERMISSIVE parsing puts unreadable lines."""
    return StructType([*schema.fields, StructField(CORRUPT_RECORD, StringType(), True)])
