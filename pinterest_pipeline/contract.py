"""The data contract shared by every stage: columns, placeholders, names, and the one JSON encoding of records.

Written out for readers in ``docs/data-contract.md`` (§1 source tables, §2 wire formats, §4 output tables).
"""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

DEFAULT_PREFIX = "124a514b9149"

#: Source tables and their columns, in the original order.
SOURCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "pinterest_data": (
        "index", "unique_id", "title", "description", "poster_name", "follower_count",
        "tag_list", "is_image_or_video", "image_src", "downloaded", "save_location", "category",
    ),
    "geolocation_data": ("ind", "timestamp", "latitude", "longitude", "country"),
    "user_data": ("ind", "first_name", "last_name", "age", "date_joined"),
}

#: Short name of each leg ("pin", "geo", "user") → its source table.
SOURCE_TABLE_BY_KIND: dict[str, str] = {
    "pin": "pinterest_data",
    "geo": "geolocation_data",
    "user": "user_data",
}
KINDS: tuple[str, ...] = tuple(SOURCE_TABLE_BY_KIND)

#: Placeholder values the source uses instead of NULL.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "follower_count": ("User Info Error",),
    "poster_name": ("User Info Error",),
    "title": ("No Title Data Available",),
    "description": ("No description available Story format", "No description available", "Untitled"),
    "tag_list": ("N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",),
    "image_src": ("Image src error.",),
}
#: Largest record (one lake line or Kinesis record, in bytes) the Spark jobs parse; a larger one is quarantined.
#: Far above what the gateway takes (request bodies up to 10 MiB by default), yet a record's parse (its text,
#: Jackson's buffers, the parsed row: a few times its size) stays small beside an executor's heap.
MAX_RECORD_BYTES = 64 * 1024 * 1024
#: What the source writes before the path in ``save_location`` (``"Local save in /data/art"``).
SAVE_LOCATION_PREFIX = "Local save in "

#: Most records one gateway request may carry, on both route families (Kinesis PutRecords' own limit).
MAX_RECORDS_PER_REQUEST = 500


def topic_name(prefix: str, kind: str) -> str:
    """Kafka topic of one leg, e.g. ``124a514b9149.pin``."""
    return f"{prefix}.{kind}"


def stream_name(prefix: str, kind: str) -> str:
    """Kinesis stream of one leg, e.g. ``streaming-124a514b9149-pin``."""
    return f"streaming-{prefix}-{kind}"


def bronze_table_name(prefix: str, kind: str) -> str:
    """Batch table of one leg's parsed lake records, append-only, each line once: ``<prefix>_pin_bronze`` …"""
    return f"{prefix}_{kind}_bronze"


def cleaned_table_name(prefix: str, kind: str) -> str:
    """Batch table of one leg, one row per ``ind``: ``<prefix>_pin`` / ``_geo`` / ``_user``."""
    return f"{prefix}_{kind}"


def quarantine_table_name(prefix: str) -> str:
    """Batch table of the lake lines that could not be used: ``<prefix>_quarantine``."""
    return f"{prefix}_quarantine"


def streaming_table_name(prefix: str, kind: str) -> str:
    """Streaming table of one leg, as the original notebook named it: ``<prefix>_pin_table`` etc."""
    return f"{prefix}_{kind}_table"


def streaming_quarantine_table_name(prefix: str) -> str:
    """Streaming table of the Kinesis records that could not be used: ``<prefix>_streaming_quarantine``."""
    return f"{prefix}_streaming_quarantine"


def stream_progress_table_name(prefix: str) -> str:
    """Table of the streaming job's micro-batch progress (when asked for): ``<prefix>_stream_progress``."""
    return f"{prefix}_stream_progress"


def _wire_value(value: Any) -> Any:
    """Source values JSON has no type for: datetimes as ``str()`` (``'2018-06-26 02:39:25'``, as the original's
    ``json.dumps(..., default=str)``), decimals as floats."""
    if isinstance(value, (datetime, date)):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def encode_json(value: Any) -> bytes:
    """The one encoding of records and request bodies: compact UTF-8 JSON, no NaN / Infinity.

    ``ValueError`` when ``value`` cannot be JSON.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_wire_value)
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not JSON-serialisable: a string holds a lone surrogate (not valid UTF-8)") from None
    except (TypeError, ValueError) as error:
        raise ValueError(f"not JSON-serialisable: {error}") from None
    except RecursionError:
        raise ValueError("not JSON-serialisable: nested too deeply") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard token {name!r} is not JSON")


def decode_json(data: bytes | str) -> Any:
    """Strict JSON: ``ValueError`` for text that is not JSON (NaN and Infinity included) or not UTF-8."""
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8: {error}") from None
    except RecursionError:
        raise ValueError("nested too deeply to be read") from None
