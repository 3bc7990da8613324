"""The Python Kinesis data source against moto server: what was put is read, in order, once."""
from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import BinaryType, StringType, TimestampType

from pinterest_pipeline.kinesis import ensure_stream
from pinterest_pipeline.streaming.job import register_kinesis_source
from pinterest_pipeline.streaming.kinesis_source import (
    TRIM_HORIZON,
    KinesisStreamReader,
    ReaderOptions,
    ShardEndedEarly,
    last_sequence_number,
    shard_records,
)


def new_stream(kinesis: Any, shards: int = 1) -> str:
    name = f"streaming-test-{uuid.uuid4().hex[:8]}"
    ensure_stream(kinesis, name, shards)
    return name


def put_rows(kinesis: Any, stream: str, first: int, count: int, keys: int = 1) -> list[dict[str, str]]:
    """Put rows ``{"i": n}``; return ``{"i", "shard", "sequence"}`` per record, in put order."""
    sent = []
    for i in range(first, first + count):
        answer = kinesis.put_record(StreamName=stream, Data=json.dumps({"i": i}).encode(),
                                    PartitionKey=f"key-{i % keys}")
        sent.append({"i": i, "shard": answer["ShardId"], "sequence": answer["SequenceNumber"]})
    return sent


def run_until_done(stream_df: DataFrame, checkpoint: Path, batches: list[list[dict[str, Any]]]) -> None:
    """Run an ``availableNow`` query, appending each micro-batch's rows to ``batches``."""
    def collect(batch: DataFrame, batch_id: int) -> None:
        batches.append([row.asDict() for row in batch.collect()])

    query = (stream_df.writeStream.foreachBatch(collect).option("checkpointLocation", str(checkpoint))
             .trigger(availableNow=True).start())
    query.awaitTermination(300)
    assert query.exception() is None


def kinesis_stream(spark: SparkSession, endpoint: str, stream: str, **options: str) -> DataFrame:
    register_kinesis_source(spark)
    return (spark.readStream.format("kinesis").option("streamName", stream).option("endpointUrl", endpoint)
            .option("region", "us-east-1").options(**options).load())


def test_shard_records_page_from_a_position(kinesis: Any) -> None:
    stream = new_stream(kinesis)
    sent = put_rows(kinesis, stream, 0, 7)
    shard = sent[0]["shard"]
    everything = list(shard_records(kinesis, stream, shard, TRIM_HORIZON, page_size=2))
    assert [json.loads(r["Data"])["i"] for r in everything] == list(range(7))
    assert len(list(shard_records(kinesis, stream, shard, TRIM_HORIZON, page_size=2, limit=3))) == 3
    after_third = list(shard_records(kinesis, stream, shard, sent[2]["sequence"]))
    assert [json.loads(r["Data"])["i"] for r in after_third] == [3, 4, 5, 6]
    assert last_sequence_number(iter(everything), stop_at=int(sent[4]["sequence"])) == sent[4]["sequence"]
    assert last_sequence_number(shard_records(kinesis, stream, shard, sent[6]["sequence"])) is None


def test_reads_every_record_in_order_over_several_micro_batches(spark: SparkSession, moto_endpoint: str,
                                                                 kinesis: Any, tmp_path: Path) -> None:
    stream = new_stream(kinesis, shards=2)
    before = datetime.now() - timedelta(seconds=5)
    sent = put_rows(kinesis, stream, 0, 30, keys=6)
    assert len({r["shard"] for r in sent}) == 2  # both shards hold records
    source = kinesis_stream(spark, moto_endpoint, stream, initialPosition="trim_horizon", maxRecordsPerBatch="6")
    assert [(f.name, f.dataType) for f in source.schema.fields] == [
        ("partitionKey", StringType()), ("data", BinaryType()), ("stream", StringType()),
        ("shardId", StringType()), ("sequenceNumber", StringType()), ("approximateArrivalTimestamp", TimestampType())]
    batches: list[list[dict[str, Any]]] = []
    run_until_done(source, tmp_path / "checkpoint", batches)

    assert len(batches) >= 5 and all(len(batch) <= 6 for batch in batches)
    read = [row for batch in batches for row in batch]
    assert sorted(json.loads(row["data"])["i"] for row in read) == list(range(30))  # each once
    per_shard_read, per_shard_sent = defaultdict(list), defaultdict(list)
    for row in read:
        per_shard_read[row["shardId"]].append(row["sequenceNumber"])
    for record in sent:
        per_shard_sent[record["shard"]].append(record["sequence"])
    assert per_shard_read == per_shard_sent  # in put order within each shard
    first = read[0]
    assert first["stream"] == stream and first["partitionKey"].startswith("key-")
    assert before <= first["approximateArrivalTimestamp"] <= datetime.now() + timedelta(seconds=5)


def test_restart_from_checkpoint_reads_only_new_records(spark: SparkSession, moto_endpoint: str, kinesis: Any,
                                                         tmp_path: Path) -> None:
    stream = new_stream(kinesis)
    put_rows(kinesis, stream, 0, 8)
    source = kinesis_stream(spark, moto_endpoint, stream, initialPosition="trim_horizon", maxRecordsPerBatch="5")
    first_run: list[list[dict[str, Any]]] = []
    run_until_done(source, tmp_path / "checkpoint", first_run)
    put_rows(kinesis, stream, 8, 4)
    second_run: list[list[dict[str, Any]]] = []
    run_until_done(source, tmp_path / "checkpoint", second_run)
    assert [json.loads(r["data"])["i"] for b in first_run for r in b] == list(range(8))
    assert [json.loads(r["data"])["i"] for b in second_run for r in b] == list(range(8, 12))


def test_latest_starts_after_the_records_already_there(spark: SparkSession, moto_endpoint: str, kinesis: Any,
                                                       tmp_path: Path) -> None:
    stream = new_stream(kinesis)
    put_rows(kinesis, stream, 0, 3)
    collected: list[int] = []

    def collect(batch: DataFrame, batch_id: int) -> None:
        collected.extend(json.loads(row["data"])["i"] for row in batch.collect())

    source = kinesis_stream(spark, moto_endpoint, stream, initialPosition="latest")
    query = (source.writeStream.foreachBatch(collect).option("checkpointLocation", str(tmp_path / "checkpoint"))
             .trigger(processingTime="1 second").start())
    try:
        deadline = time.monotonic() + 120
        while query.lastProgress is None and time.monotonic() < deadline:  # initial offset taken
            time.sleep(0.2)
        put_rows(kinesis, stream, 3, 4)
        query.processAllAvailable()
    finally:
        query.stop()
    assert collected == [3, 4, 5, 6]


def test_one_source_reads_several_streams_each_record_once_in_order(spark: SparkSession, moto_endpoint: str,
                                                                     kinesis: Any, tmp_path: Path) -> None:
    first, second = new_stream(kinesis, shards=2), new_stream(kinesis)
    sent = {first: put_rows(kinesis, first, 0, 12, keys=4), second: put_rows(kinesis, second, 100, 5)}
    source = kinesis_stream(spark, moto_endpoint, f"{first}, {second}", initialPosition="trim_horizon",
                            maxRecordsPerBatch="6")
    batches: list[list[dict[str, Any]]] = []
    run_until_done(source, tmp_path / "checkpoint", batches)

    assert len(batches) >= 3 and all(len(batch) <= 6 for batch in batches)
    read = [row for batch in batches for row in batch]
    for stream, records in sent.items():
        mine = [row for row in read if row["stream"] == stream]
        assert sorted(json.loads(row["data"])["i"] for row in mine) == [r["i"] for r in records]  # each once
        for shard in {r["shard"] for r in records}:
            assert ([row["sequenceNumber"] for row in mine if row["shardId"] == shard]
                    == [r["sequence"] for r in records if r["shard"] == shard])  # in put order


def test_a_replayed_micro_batch_reads_exactly_its_range_again(moto_endpoint: str, kinesis: Any) -> None:
    stream = new_stream(kinesis, shards=2)
    put_rows(kinesis, stream, 0, 24, keys=6)  # every shard holds at least 4 records
    reader = KinesisStreamReader(ReaderOptions.parse({"streamName": stream, "endpointUrl": moto_endpoint,
                                                      "initialPosition": "trim_horizon", "maxRecordsPerBatch": "4"}))
    start = reader.initialOffset()
    rows, end = reader.read(start)
    planned = list(rows)
    assert len(planned) == 4
    put_rows(kinesis, stream, 24, 6, keys=6)  # arrives after the micro-batch was planned
    assert list(reader.readBetweenOffsets(start, end)) == planned
    later, _ = reader.read(end)
    assert {json.loads(row[1])["i"] for row in later}.isdisjoint(json.loads(row[1])["i"] for row in planned)

    beyond = {stream: {shard: str(int(last) + 10**6) for shard, last in end[stream].items() if last.isdigit()}}
    with pytest.raises(ShardEndedEarly):
        list(reader.readBetweenOffsets(end, beyond))


def test_missing_stream_name_is_a_clear_error(spark: SparkSession, tmp_path: Path) -> None:
    register_kinesis_source(spark)
    source = spark.readStream.format("kinesis").option("initialPosition", "trim_horizon").load()
    query = source.writeStream.format("noop").option("checkpointLocation", str(tmp_path / "c")).start()
    try:
        with pytest.raises(StreamingQueryException,
                           match="ValueError: the kinesis source needs the option streamName"):
            query.awaitTermination(60)
    finally:
        query.stop()
