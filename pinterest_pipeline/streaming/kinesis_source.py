"""``spark.readStream.format("kinesis")`` outside Databricks: a PySpark Python Data Source over boto3.

Output columns are those of Databricks' built-in Kinesis source: ``partitionKey``, ``data`` (binary),
``stream``, ``shardId``, ``sequenceNumber``, ``approximateArrivalTimestamp``.

Options: ``streamName`` (required), ``region`` (default ``us-east-1``), ``initialPosition``
(``trim_horizon``/``earliest`` or ``latest``, the default as on Databricks), ``endpointUrl`` (e.g. a
local moto server; absent = AWS), ``maxRecordsPerBatch`` (records per micro-batch, split evenly over
the shards; absent = everything available), ``maxRecordsPerFetch`` (GetRecords page size, default 10,000).

Offsets are ``{shardId: position}`` where a position is the sequence number of the last record read
from the shard, or — before anything was read — ``TRIM_HORIZON`` or ``AT_TIMESTAMP:<epoch seconds>``
(``latest`` = records arriving after the query first started). A micro-batch is, per shard, the records
after the start position up to and including the end sequence number; the driver finds that end by
paging GetRecords, the executors read the same range again. Kinesis records never change, so a restart
from Spark's checkpoint reads exactly the records not yet committed: nothing lost, nothing twice.
Shards that appear later (resharding) are read from their beginning.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadLimit, ReadMaxRows, SupportsTriggerAvailableNow
from pyspark.sql.types import StructType

from pinterest_pipeline.kinesis import kinesis_client, shard_ids
from pinterest_pipeline.streaming import KINESIS_FORMAT

SCHEMA = ("partitionKey string, data binary, stream string, shardId string, sequenceNumber string, "
          "approximateArrivalTimestamp timestamp")
TRIM_HORIZON = "TRIM_HORIZON"
AT_TIMESTAMP = "AT_TIMESTAMP:"
#: GetRecords returns at most this many records per call.
MAX_FETCH = 10_000
INITIAL_POSITIONS = {"trim_horizon": "trim_horizon", "earliest": "trim_horizon", "latest": "latest"}


class ShardEndedEarly(RuntimeError):
    """A shard gave no record up to the sequence number a micro-batch was planned with."""


@lru_cache(maxsize=8)
def cached_client(endpoint_url: str | None, region: str) -> Any:
    """One boto3 client per endpoint and region per process (driver runner or Python worker)."""
    return kinesis_client(endpoint_url, region)


def is_sequence_number(position: str) -> bool:
    """True for a position that is a record's sequence number (not a start marker)."""
    return position.isdigit()


def iterator_request(position: str) -> dict[str, Any]:
    """GetShardIterator arguments reading the records *after* ``position``."""
    if position == TRIM_HORIZON:
        return {"ShardIteratorType": "TRIM_HORIZON"}
    if position.startswith(AT_TIMESTAMP):
        return {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": float(position.removeprefix(AT_TIMESTAMP))}
    if is_sequence_number(position):
        return {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": position}
    raise ValueError(f"not a Kinesis shard position: {position!r}")


def shard_records(client: Any, stream: str, shard: str, position: str, page_size: int = MAX_FETCH,
                  limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The records of ``shard`` after ``position``, oldest first, until caught up (or ``limit``)."""
    request = iterator_request(position)
    iterator = client.get_shard_iterator(StreamName=stream, ShardId=shard, **request)["ShardIterator"]
    taken = 0
    while iterator and (limit is None or taken < limit):
        wanted = page_size if limit is None else min(page_size, limit - taken)
        answer = client.get_records(ShardIterator=iterator, Limit=wanted)
        records = answer["Records"]
        yield from records
        taken += len(records)
        if not records and answer.get("MillisBehindLatest", 0) == 0:
            return
        iterator = answer.get("NextShardIterator")


def last_sequence_number(records: Iterator[dict[str, Any]], stop_at: int | None = None) -> str | None:
    """Sequence number of the last of ``records`` (not beyond ``stop_at``), None if there is none."""
    last = None
    for record in records:
        if stop_at is not None and int(record["SequenceNumber"]) > stop_at:
            break
        last = record["SequenceNumber"]
    return last


@dataclass(frozen=True)
class ShardRange(InputPartition):
    """The records of one shard after ``start`` up to and including sequence number ``end``."""

    stream: str
    shard: str
    start: str
    end: str


@dataclass(frozen=True)
class ReaderOptions:
    """Validated options of one ``readStream.format("kinesis")``."""

    stream: str
    region: str
    initial_position: str
    endpoint_url: str | None
    max_records_per_batch: int | None
    page_size: int

    @classmethod
    def parse(cls, options: Any) -> "ReaderOptions":
        """From the (case-insensitive) options map; a clear ``ValueError`` for anything unusable."""
        stream = options.get("streamName")
        if not stream:
            raise ValueError("the kinesis source needs the option streamName")
        position = str(options.get("initialPosition", "latest")).lower()
        if position not in INITIAL_POSITIONS:
            raise ValueError(f"initialPosition must be one of {sorted(INITIAL_POSITIONS)}, not {position!r}")
        return cls(
            stream=stream,
            region=options.get("region") or "us-east-1",
            initial_position=INITIAL_POSITIONS[position],
            endpoint_url=options.get("endpointUrl") or None,
            max_records_per_batch=_positive_int(options, "maxRecordsPerBatch"),
            page_size=min(_positive_int(options, "maxRecordsPerFetch") or MAX_FETCH, MAX_FETCH),
        )


def _positive_int(options: Any, name: str) -> int | None:
    value = options.get(name)
    if value is None:
        return None
    if not str(value).isdigit() or int(value) < 1:
        raise ValueError(f"option {name} must be a positive integer, not {value!r}")
    return int(value)


class KinesisStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Plans micro-batches as per-shard sequence number ranges and reads them with GetRecords."""

    def __init__(self, options: ReaderOptions) -> None:
        self.options = options
        self.available_now = False
        self.target: dict[str, str] | None = None
        self.initial: dict[str, str] | None = None

    def client(self) -> Any:
        return cached_client(self.options.endpoint_url, self.options.region)

    def initialOffset(self) -> dict[str, str]:
        """Every shard at TRIM_HORIZON, or at the time of the first call (``latest``); the same on each call."""
        if self.initial is None:
            start = TRIM_HORIZON
            if self.options.initial_position == "latest":
                start = f"{AT_TIMESTAMP}{time.time():.3f}"
            self.initial = {shard: start for shard in shard_ids(self.client(), self.options.stream)}
        return self.initial

    def getDefaultReadLimit(self) -> ReadLimit:
        limit = self.options.max_records_per_batch
        return ReadMaxRows(limit) if limit else ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        """The first ``latestOffset`` call then fixes the target: what the shards hold at that moment."""
        self.available_now = True

    def latestOffset(self, start: dict[str, str], limit: ReadLimit) -> dict[str, str]:
        if self.available_now and self.target is None:
            self.target = self.scan(start, per_shard=None)
        per_shard = None
        if isinstance(limit, ReadMaxRows):
            per_shard = max(1, math.ceil(limit.max_rows / max(1, len(start))))
        return self.scan(start, per_shard, cap=self.target)

    def scan(self, start: dict[str, str], per_shard: int | None,
             cap: dict[str, str] | None = None) -> dict[str, str]:
        """End offset: for each shard, the last record after its start position within the limits."""
        shards = dict.fromkeys([*start, *shard_ids(self.client(), self.options.stream)])
        end = {}
        for shard in shards:
            position = start.get(shard, TRIM_HORIZON)
            ceiling = cap.get(shard, position) if cap is not None else None
            if ceiling is not None and (ceiling == position or not is_sequence_number(ceiling)):
                end[shard] = position
                continue
            records = shard_records(self.client(), self.options.stream, shard, position,
                                    self.options.page_size, per_shard)
            last = last_sequence_number(records, int(ceiling) if ceiling is not None else None)
            end[shard] = last or position
        return end

    def partitions(self, start: dict[str, str], end: dict[str, str]) -> list[ShardRange]:
        return [ShardRange(self.options.stream, shard, start.get(shard, TRIM_HORIZON), last)
                for shard, last in end.items() if is_sequence_number(last) and last != start.get(shard)]

    def read(self, partition: ShardRange) -> Iterator[tuple]:
        end = int(partition.end)
        for record in shard_records(self.client(), partition.stream, partition.shard, partition.start,
                                    self.options.page_size):
            sequence = int(record["SequenceNumber"])
            if sequence > end:
                return
            yield (record["PartitionKey"], record["Data"], partition.stream, partition.shard,
                   record["SequenceNumber"], record["ApproximateArrivalTimestamp"])
            if sequence == end:
                return
        raise ShardEndedEarly(f"shard {partition.shard} of {partition.stream} ended before sequence number "
                              f"{partition.end} (records expired or shard deleted?)")


class KinesisDataSource(DataSource):
    """The ``kinesis`` streaming format (see the module docstring for options)."""

    @classmethod
    def name(cls) -> str:
        return KINESIS_FORMAT

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema: StructType) -> KinesisStreamReader:
        return KinesisStreamReader(ReaderOptions.parse(self.options))

