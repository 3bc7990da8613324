"""The Python Kinesis data source against moto server: what was put is read, in order, once."""
from __future__ import annotations

import json
import threading
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
from pinterest_pipeline.streaming.kinesis_prefetch import PollerFailed, ShardPrefetcher
from pinterest_pipeline.streaming.kinesis_source import (
    TRIM_HORIZON,
    KinesisStreamReader,
    ReaderOptions,
    ShardEndedEarly,
    last_sequence_number,
    shard_records,
)
from tests.support.sink_lake import wait_for


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


class RecordingClient:
    """The real boto3 client, noting when each GetRecords call starts and how many records it returns."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[float, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get_records(self, **request: Any) -> dict[str, Any]:
        started = time.monotonic()
        answer = self.client.get_records(**request)
        self.calls.append((started, len(answer["Records"])))
        return answer


def reader_of(endpoint: str, stream: str, **options: str) -> KinesisStreamReader:
    return KinesisStreamReader(ReaderOptions.parse({"streamName": stream, "endpointUrl": endpoint,
                                                    "initialPosition": "trim_horizon", **options}))


def prefetch_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("kinesis-prefetch-")]


def test_fetch_options_take_databricks_names_and_reject_bad_values() -> None:
    default = ReaderOptions.parse({"streamName": "s"})
    assert (default.min_fetch_period, default.buffer_records) == (0.4, 20_000)
    assert ReaderOptions.parse({"streamName": "s", "minFetchPeriod": "250ms"}).min_fetch_period == 0.25
    assert ReaderOptions.parse({"streamName": "s", "minFetchPeriod": "1.5s"}).min_fetch_period == 1.5
    assert ReaderOptions.parse({"streamName": "s", "maxBufferedRecordsPerShard": "7"}).buffer_records == 7
    with pytest.raises(ValueError, match="minFetchPeriod must be a duration"):
        ReaderOptions.parse({"streamName": "s", "minFetchPeriod": "fast"})
    with pytest.raises(ValueError, match="maxBufferedRecordsPerShard must be a positive integer"):
        ReaderOptions.parse({"streamName": "s", "maxBufferedRecordsPerShard": "0"})


def test_get_records_calls_on_a_shard_are_min_fetch_period_apart(moto_endpoint: str, kinesis: Any) -> None:
    stream = new_stream(kinesis)
    shard = put_rows(kinesis, stream, 0, 1)[0]["shard"]
    recording = RecordingClient(kinesis)
    prefetcher = ShardPrefetcher(recording, min_fetch_period=0.3, capacity=100, page_size=100)
    prefetcher.follow(stream, shard, TRIM_HORIZON)
    try:
        wait_for(lambda: len(recording.calls) >= 6, "six GetRecords calls")
    finally:
        prefetcher.stop()
    starts = [started for started, _ in recording.calls]
    assert all(later - earlier >= 0.3 for earlier, later in zip(starts, starts[1:])), starts


def test_a_full_buffer_makes_the_poller_wait_and_drops_nothing(moto_endpoint: str, kinesis: Any) -> None:
    stream = new_stream(kinesis)
    sent = put_rows(kinesis, stream, 0, 10)
    recording = RecordingClient(kinesis)
    prefetcher = ShardPrefetcher(recording, min_fetch_period=0.05, capacity=3, page_size=100)
    prefetcher.follow(stream, sent[0]["shard"], TRIM_HORIZON)
    taken: list[str] = []
    position = TRIM_HORIZON

    def take_some() -> bool:
        nonlocal position
        records = prefetcher.take(stream, sent[0]["shard"], position, None, None)
        assert records is not None and len(records) <= 3
        taken.extend(record["SequenceNumber"] for record in records)
        position = taken[-1] if taken else position
        return len(taken) >= 10

    try:
        wait_for(take_some, "all ten records taken")
    finally:
        prefetcher.stop()
    assert taken == [record["sequence"] for record in sent]  # in order, each once
    assert all(count <= 3 for _, count in recording.calls)


def test_the_buffer_serves_only_a_start_it_continues_from(moto_endpoint: str, kinesis: Any) -> None:
    stream = new_stream(kinesis)
    sent = put_rows(kinesis, stream, 0, 4)
    shard = sent[0]["shard"]
    prefetcher = ShardPrefetcher(kinesis, min_fetch_period=0.05, capacity=100, page_size=100)
    prefetcher.follow(stream, shard, sent[0]["sequence"])
    try:
        assert prefetcher.take(stream, "shardId-000000000099", TRIM_HORIZON, None, None) is None  # no poller
        wait_for(lambda: len(prefetcher.take(stream, shard, sent[0]["sequence"], None, None) or []) == 3,
                 "three records after the first buffered")
        assert prefetcher.take(stream, shard, TRIM_HORIZON, None, None) is None  # before the buffer: a replay
        after_second = prefetcher.take(stream, shard, sent[1]["sequence"], 1, None)
        assert [r["SequenceNumber"] for r in after_second] == [sent[2]["sequence"]]
        assert prefetcher.take(stream, shard, sent[0]["sequence"], None, None) is None  # already moved past it
        assert prefetcher.take(stream, shard, sent[1]["sequence"], None, int(sent[2]["sequence"])) == after_second
    finally:
        prefetcher.stop()


def test_stop_ends_every_poller_thread(moto_endpoint: str, kinesis: Any) -> None:
    stream = new_stream(kinesis, shards=3)
    put_rows(kinesis, stream, 0, 9, keys=9)
    reader = reader_of(moto_endpoint, stream)
    reader.read(reader.initialOffset())
    mine = [thread for thread in prefetch_threads() if stream in thread.name]
    assert len(mine) == 3 and all(thread.daemon and thread.is_alive() for thread in mine)
    reader.stop()
    assert not any(thread.is_alive() for thread in mine)


def test_stop_also_ends_the_threads_of_replaced_pollers(moto_endpoint: str, kinesis: Any) -> None:
    stream = new_stream(kinesis)
    shard = put_rows(kinesis, stream, 0, 2)[0]["shard"]
    prefetcher = ShardPrefetcher(kinesis, min_fetch_period=0.05, capacity=100, page_size=100)
    prefetcher.follow(stream, shard, TRIM_HORIZON)
    prefetcher.follow(stream, shard, TRIM_HORIZON)  # e.g. a replay: read ahead again from an earlier start
    mine = [thread for thread in prefetch_threads() if stream in thread.name]
    prefetcher.stop()
    assert mine and not any(thread.is_alive() for thread in mine)


def test_a_poller_failure_fails_the_next_read(moto_endpoint: str, kinesis: Any) -> None:
    stream = new_stream(kinesis)
    put_rows(kinesis, stream, 0, 3)
    reader = reader_of(moto_endpoint, stream, minFetchPeriod="50ms")
    _, end = reader.read(reader.initialOffset())
    [thread] = [thread for thread in prefetch_threads() if stream in thread.name]
    kinesis.delete_stream(StreamName=stream)
    thread.join(60)
    try:
        with pytest.raises(PollerFailed, match=f"reading shard shardId-000000000000 of Kinesis stream {stream} in "
                                               "the background failed: .*ResourceNotFoundException"):
            reader.read(end)
    finally:
        reader.stop()


def test_records_put_while_the_query_runs_arrive_in_order_exactly_once(
        spark: SparkSession, moto_endpoint: str, kinesis: Any, tmp_path: Path) -> None:
    stream = new_stream(kinesis, shards=2)
    sent = put_rows(kinesis, stream, 0, 10, keys=4)
    read: list[dict[str, Any]] = []

    def collect(batch: DataFrame, batch_id: int) -> None:
        read.extend(row.asDict() for row in batch.collect())

    source = kinesis_stream(spark, moto_endpoint, stream, initialPosition="trim_horizon", minFetchPeriod="100ms")
    query = (source.writeStream.foreachBatch(collect).option("checkpointLocation", str(tmp_path / "checkpoint"))
             .trigger(processingTime="500 milliseconds").start())
    try:
        for first in range(10, 70, 20):
            wait_for(lambda: len(read) >= first, f"the first {first} records read", timeout=300)
            sent += put_rows(kinesis, stream, first, 20, keys=4)
        wait_for(lambda: len(read) >= 70, "all 70 records read", timeout=300)
        query.processAllAvailable()
    finally:
        query.stop()
    assert query.exception() is None
    assert sorted(json.loads(row["data"])["i"] for row in read) == list(range(70))  # each once
    for shard in {record["shard"] for record in sent}:
        assert ([row["sequenceNumber"] for row in read if row["shardId"] == shard]
                == [record["sequence"] for record in sent if record["shard"] == shard])  # in put order


def test_shards_split_while_reading_are_followed_each_record_once(moto_endpoint: str, kinesis: Any) -> None:
    stream = new_stream(kinesis)
    sent = put_rows(kinesis, stream, 0, 5, keys=5)
    reader = reader_of(moto_endpoint, stream, minFetchPeriod="50ms")
    read: list[tuple] = []
    offset = reader.initialOffset()

    def read_until(count: int) -> bool:
        nonlocal offset
        rows, offset = reader.read(offset)
        read.extend(rows)
        return len(read) >= count

    try:
        wait_for(lambda: read_until(5), "the records before the split")
        [parent] = {record["shard"] for record in sent}
        kinesis.split_shard(StreamName=stream, ShardToSplit=parent, NewStartingHashKey=str(2**127))
        kinesis.get_waiter("stream_exists").wait(StreamName=stream)
        sent += put_rows(kinesis, stream, 5, 20, keys=20)
        wait_for(lambda: read_until(25), "the records after the split")
        assert len([thread for thread in prefetch_threads() if stream in thread.name]) == 3  # children polled
    finally:
        reader.stop()
    assert len(offset[stream]) == 3  # the children were found (moto keeps putting into the parent)
    assert len([thread for thread in prefetch_threads() if stream in thread.name]) == 0  # all stopped
    assert sorted(json.loads(row[1])["i"] for row in read) == list(range(25))  # each once
    for shard in {record["shard"] for record in sent}:
        assert [row[4] for row in read if row[3] == shard] == [r["sequence"] for r in sent if r["shard"] == shard]
