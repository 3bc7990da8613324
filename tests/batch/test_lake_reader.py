"""Reading lake lines of any size: a record up to ``MAX_RECORD_BYTES`` is parsed whole, a larger one is quarantined
with its size as the reason."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pinterest_pipeline.batch.lake_reader import parse_topic
from pinterest_pipeline.contract import MAX_RECORD_BYTES
from pinterest_pipeline.lake.layout import object_key
from pinterest_pipeline.spark.parsing import REJECT_REASON
from pinterest_pipeline.spark.schemas import RAW_SCHEMAS

pytestmark = pytest.mark.spark

TOPIC = "p.pin"


def record_of_size(index: int, size: int) -> bytes:
    """A valid pin record of exactly ``size`` bytes, most of them its description."""
    empty = json.dumps({"index": index, "title": "Long read", "description": ""}).encode()
    text = ("A story pin that goes on and on. " * (size // 33 + 1))[: size - len(empty)]
    line = json.dumps({"index": index, "title": "Long read", "description": text}).encode()
    assert len(line) == size
    return line


def write_object(lake: Path, lines: list[bytes]) -> None:
    path = lake / object_key(TOPIC, 0, 0)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\n".join(lines) + b"\n")


def outcomes(spark: SparkSession, lake: Path) -> list[tuple[int | None, int | None, int, str | None]]:
    """``(index, description chars, line bytes, reject reason)`` of every line, in one Spark job."""
    parsed = parse_topic(spark, str(lake), TOPIC, RAW_SCHEMAS["pin"])
    rows = parsed.select("index", F.length("description"), F.octet_length("raw_line"), REJECT_REASON).collect()
    return sorted((tuple(r) for r in rows), key=lambda r: r[2])


def test_a_30_mb_record_is_read_whole(spark: SparkSession, tmp_path: Path) -> None:
    big, small = record_of_size(1, 30_000_000), b'{"index": 2, "title": "short"}'
    write_object(tmp_path, [big, small])
    started = time.perf_counter()
    assert outcomes(spark, tmp_path) == [(2, None, len(small), None),
                                         (1, len(json.loads(big)["description"]), len(big), None)]
    assert time.perf_counter() - started < 60


def test_a_record_over_the_limit_is_quarantined_with_its_size(spark: SparkSession, tmp_path: Path) -> None:
    write_object(tmp_path, [record_of_size(1, MAX_RECORD_BYTES), record_of_size(2, MAX_RECORD_BYTES + 1)])
    [at_limit, over_limit] = outcomes(spark, tmp_path)
    assert at_limit[0] == 1 and at_limit[3] is None
    assert over_limit == (None, None, MAX_RECORD_BYTES + 1,
                          f"record too large: {MAX_RECORD_BYTES + 1} bytes > {MAX_RECORD_BYTES}")
