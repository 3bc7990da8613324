"""``spark.readStream.format("kinesis")`` outside Databricks: a PySpark Python Data Source over boto3.

Output columns are those of Databricks' built-in Kinesis source: ``partitionKey``, ``data`` (binary),
``stream``, ``shardId``, ``sequenceNumber``, ``approximateArrivalTimestamp``.

Options: ``streamName`` (required: one stream, or several separated by commas, as on Databricks), ``region``
(default ``us-east-1``), ``initialPosition`` (``trim_horizon``/``earliest`` or ``latest``, the default as on
Databricks), ``endpointUrl`` (e.g. a local moto server; absent = AWS), ``maxRecordsPerBatch`` (records per
micro-batch, split evenly over the shards; absent = everything available), ``maxRecordsPerFetch`` (GetRecords
page size, default 10,000), ``minFetchPeriod`` (least time between two GetRecords calls on one shard, e.g.
``400ms``, the default as on Databricks, or ``1s``), ``maxBufferedRecordsPerShard`` (records read ahead per
shard, default 20,000: a full buffer makes its shard's poller wait, nothing is dropped).

Offsets are ``{stream: {shardId: position}}`` where a position is the sequence number of the last record read
from the shard, or — before anything was read — ``TRIM_HORIZON`` or ``AT_TIMESTAMP:<epoch seconds>``
(``latest`` = records arriving after the query first started). The reader is a *simple* stream reader: Spark
plans a micro-batch by calling ``read`` on the driver and keeps its rows, so no task reads Kinesis again.
``read`` does not wait for records: a daemon thread per shard (:mod:`.kinesis_prefetch`) polls GetRecords in
the background, keeping the shard iterator between calls, and ``read`` takes what the shard's buffer holds
after the micro-batch's start (its one call to Kinesis: ListShards per stream, to find new shards). A shard whose buffer does not continue from the start (the first micro-batch, a
shard new since resharding, read from its beginning) is read there and then, as is, with ``availableNow``, a
shard still short of the query's target whose buffer is empty. A poller's failure fails the next ``read``;
``stop()`` ends the threads. Only a micro-batch replayed after a restart is read again, by its exact per-shard
range: Kinesis records never change, so a restart from Spark's checkpoint reads exactly the records not yet
committed: nothing lost, nothing twice.
"""
from __future__ import annotations

import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator, TypeVar

from pyspark.sql.datasource import DataSource, SimpleDataSourceStreamReader
from pyspark.sql.streaming.datasource import SupportsTriggerAvailableNow
from pyspark.sql.types import StructType

from pinterest_pipeline.kinesis import kinesis_client, shard_ids
from pinterest_pipeline.streaming import KINESIS_FORMAT
from pinterest_pipeline.streaming.kinesis_prefetch import (
    DEFAULT_BUFFER_RECORDS,
    DEFAULT_MIN_FETCH_PERIOD,
    ShardPrefetcher,
)
from pinterest_pipeline.streaming.kinesis_shards import (
    AT_TIMESTAMP,
    MAX_FETCH,
    TRIM_HORIZON,
    is_sequence_number,
    last_sequence_number,
    shard_records,
    up_to,
)

SCHEMA = ("partitionKey string, data binary, stream string, shardId string, sequenceNumber string, "
          "approximateArrivalTimestamp timestamp")
#: A duration option: a number followed by ``ms`` or ``s`` (as ``minFetchPeriod`` on Databricks).
DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s)")
INITIAL_POSITIONS = {"trim_horizon": "trim_horizon", "earliest": "trim_horizon", "latest": "latest"}
#: ``{stream: {shardId: position}}``.
Offset = dict[str, dict[str, str]]
T = TypeVar("T")
R = TypeVar("R")


class ShardEndedEarly(RuntimeError):
    """A shard gave no record up to the sequence number a micro-batch was planned with."""


@lru_cache(maxsize=8)
def cached_client(endpoint_url: str | None, region: str) -> Any:
    """One boto3 client per endpoint and region per process (driver runner or Python worker)."""
    return kinesis_client(endpoint_url, region)


def in_parallel(function: Callable[[T], R], items: list[T]) -> list[R]:
    """``function`` over ``items``, one thread each (Kinesis calls wait on the network, not the CPU)."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(len(items), 32)) as pool:
        return list(pool.map(function, items))


@dataclass(frozen=True)
class ShardRead:
    """One shard's part of a micro-batch: the records after ``start``, at most ``limit``, none beyond ``ceiling``."""

    stream: str
    shard: str
    start: str
    limit: int | None = None
    ceiling: int | None = None


@dataclass(frozen=True)
class ReaderOptions:
    """Validated options of one ``readStream.format("kinesis")``."""

    streams: tuple[str, ...]
    region: str
    initial_position: str
    endpoint_url: str | None
    max_records_per_batch: int | None
    page_size: int
    min_fetch_period: float = DEFAULT_MIN_FETCH_PERIOD
    buffer_records: int = DEFAULT_BUFFER_RECORDS

    @classmethod
    def parse(cls, options: Any) -> "ReaderOptions":
        """From the (case-insensitive) options map; a clear ``ValueError`` for anything unusable."""
        streams = tuple(name.strip() for name in str(options.get("streamName") or "").split(",") if name.strip())
        if not streams:
            raise ValueError("the kinesis source needs the option streamName")
        position = str(options.get("initialPosition", "latest")).lower()
        if position not in INITIAL_POSITIONS:
            raise ValueError(f"initialPosition must be one of {sorted(INITIAL_POSITIONS)}, not {position!r}")
        return cls(
            streams=tuple(dict.fromkeys(streams)),
            region=options.get("region") or "us-east-1",
            initial_position=INITIAL_POSITIONS[position],
            endpoint_url=options.get("endpointUrl") or None,
            max_records_per_batch=_positive_int(options, "maxRecordsPerBatch"),
            page_size=min(_positive_int(options, "maxRecordsPerFetch") or MAX_FETCH, MAX_FETCH),
            min_fetch_period=_seconds(options, "minFetchPeriod", DEFAULT_MIN_FETCH_PERIOD),
            buffer_records=_positive_int(options, "maxBufferedRecordsPerShard") or DEFAULT_BUFFER_RECORDS,
        )


def _positive_int(options: Any, name: str) -> int | None:
    value = options.get(name)
    if value is None:
        return None
    if not str(value).isdigit() or int(value) < 1:
        raise ValueError(f"option {name} must be a positive integer, not {value!r}")
    return int(value)


def _seconds(options: Any, name: str, default: float) -> float:
    value = options.get(name)
    if value is None:
        return default
    match = DURATION.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"option {name} must be a duration such as 400ms or 1s, not {value!r}")
    number, unit = match.groups()
    return float(number) / (1000 if unit == "ms" else 1)


def record_row(record: dict[str, Any], stream: str, shard: str) -> tuple:
    """One Kinesis record as a row of :data:`SCHEMA`."""
    return (record["PartitionKey"], record["Data"], stream, shard, record["SequenceNumber"],
            record["ApproximateArrivalTimestamp"])


class KinesisStreamReader(SimpleDataSourceStreamReader, SupportsTriggerAvailableNow):
    """Plans each micro-batch on the driver from the records its shards' pollers read ahead (see the module)."""

    def __init__(self, options: ReaderOptions) -> None:
        self.options = options
        self.available_now = False
        self.target: Offset | None = None
        self.initial: Offset | None = None
        self.prefetcher: ShardPrefetcher | None = None

    def client(self) -> Any:
        return cached_client(self.options.endpoint_url, self.options.region)

    def pollers(self) -> ShardPrefetcher:
        """The background readers of this reader's shards (made on first use: only the driver's reader polls)."""
        if self.prefetcher is None:
            self.prefetcher = ShardPrefetcher(self.client(), min_fetch_period=self.options.min_fetch_period,
                                              capacity=self.options.buffer_records, page_size=self.options.page_size)
        return self.prefetcher

    def stop(self) -> None:
        """End the background readers' threads."""
        if self.prefetcher is not None:
            self.prefetcher.stop()

    def initialOffset(self) -> Offset:
        """Every shard at TRIM_HORIZON, or at the time of the first call (``latest``); the same on each call."""
        if self.initial is None:
            start = TRIM_HORIZON
            if self.options.initial_position == "latest":
                start = f"{AT_TIMESTAMP}{time.time():.3f}"
            shards = in_parallel(lambda stream: shard_ids(self.client(), stream), list(self.options.streams))
            self.initial = {stream: dict.fromkeys(found, start) for stream, found in zip(self.options.streams, shards)}
        return self.initial

    def prepareForTriggerAvailableNow(self) -> None:
        """The first ``read`` then fixes the target: what the shards hold at that moment."""
        self.available_now = True

    def shard_reads(self, start: Offset) -> list[ShardRead]:
        """Every shard of every stream (including shards new since ``start``) with its limits for one micro-batch."""
        listed = in_parallel(lambda stream: shard_ids(self.client(), stream), list(self.options.streams))
        positions = {(stream, shard): start.get(stream, {}).get(shard, TRIM_HORIZON)
                     for stream, shards in zip(self.options.streams, listed)
                     for shard in dict.fromkeys([*start.get(stream, {}), *shards])}
        limit = self.options.max_records_per_batch
        per_shard = max(1, math.ceil(limit / max(1, len(positions)))) if limit else None
        reads = []
        for (stream, shard), position in positions.items():
            ceiling = None
            if self.target is not None:
                cap = self.target.get(stream, {}).get(shard, position)
                if cap == position or not is_sequence_number(cap):
                    continue  # nothing for this shard before the available-now target
                ceiling = int(cap)
            reads.append(ShardRead(stream, shard, position, per_shard, ceiling))
        return reads

    def fetch(self, read: ShardRead) -> list[dict[str, Any]]:
        """The records of one :class:`ShardRead`."""
        records = shard_records(self.client(), read.stream, read.shard, read.start, self.options.page_size,
                                read.limit)
        return list(up_to(records, read.ceiling))

    def records_after(self, reads: list[ShardRead]) -> list[list[dict[str, Any]]]:
        """Each read's records: what its poller already holds, or read now (then polled ahead from its end on).

        Read now: a shard without a poller continuing from its start (first read, new shard, replay), or one still
        short of its available-now target whose poller holds nothing yet (so the query cannot end early).
        """
        pollers = self.pollers()
        held = [pollers.take(r.stream, r.shard, r.start, r.limit, r.ceiling) for r in reads]
        missing = [r for r, records in zip(reads, held) if records is None or (not records and r.ceiling is not None)]
        fetched = dict(zip(missing, in_parallel(self.fetch, missing)))
        for shard_read, records in fetched.items():
            pollers.follow(shard_read.stream, shard_read.shard,
                           records[-1]["SequenceNumber"] if records else shard_read.start)
        return [fetched[r] if r in fetched else records for r, records in zip(reads, held)]

    def read(self, start: Offset) -> tuple[Iterator[tuple], Offset]:
        """The next micro-batch's rows and its end offset: per shard, the records after ``start``."""
        self.pollers().raise_failure()
        if self.available_now and self.target is None:
            everything = [ShardRead(r.stream, r.shard, r.start) for r in self.shard_reads(start)]
            lasts = in_parallel(lambda r: last_sequence_number(self.fetch(r)), everything)
            self.target = {}
            for shard_read, last in zip(everything, lasts):
                self.target.setdefault(shard_read.stream, {})[shard_read.shard] = last or shard_read.start
        reads = self.shard_reads(start)
        end: Offset = {stream: dict(shards) for stream, shards in start.items()}
        rows: list[tuple] = []
        for shard_read, records in zip(reads, self.records_after(reads)):
            end.setdefault(shard_read.stream, {})[shard_read.shard] = (
                records[-1]["SequenceNumber"] if records else shard_read.start)
            rows += [record_row(record, shard_read.stream, shard_read.shard) for record in records]
        return iter(rows), end

    def readBetweenOffsets(self, start: Offset, end: Offset) -> Iterator[tuple]:
        """A micro-batch again (after a restart): per shard, the records after ``start`` up to ``end``."""
        for stream, shards in end.items():
            for shard, last in shards.items():
                first = start.get(stream, {}).get(shard, TRIM_HORIZON)
                if not is_sequence_number(last) or last == first:
                    continue
                records = list(up_to(shard_records(self.client(), stream, shard, first, self.options.page_size),
                                     int(last)))
                if not records or records[-1]["SequenceNumber"] != last:
                    raise ShardEndedEarly(f"shard {shard} of {stream} ended before sequence number {last} "
                                          "(records expired or shard deleted?)")
                yield from (record_row(record, stream, shard) for record in records)


class KinesisDataSource(DataSource):
    """The ``kinesis`` streaming format (see the module docstring for options)."""

    @classmethod
    def name(cls) -> str:
        return KINESIS_FORMAT

    def schema(self) -> str:
        return SCHEMA

    def simpleStreamReader(self, schema: StructType) -> KinesisStreamReader:
        return KinesisStreamReader(ReaderOptions.parse(self.options))
