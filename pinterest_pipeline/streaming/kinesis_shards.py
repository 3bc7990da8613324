"""Positions in a Kinesis shard and synchronous reads from one: what the ``kinesis`` data source and its
background prefetcher share. Never imports Spark.

A position is the sequence number of the last record read from a shard, or — before anything was read —
``TRIM_HORIZON`` or ``AT_TIMESTAMP:<epoch seconds>``.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

TRIM_HORIZON = "TRIM_HORIZON"
AT_TIMESTAMP = "AT_TIMESTAMP:"
#: GetRecords returns at most this many records per call.
MAX_FETCH = 10_000


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


def shard_iterator(client: Any, stream: str, shard: str, position: str) -> str:
    """A new shard iterator reading the records of ``shard`` after ``position``."""
    return client.get_shard_iterator(StreamName=stream, ShardId=shard, **iterator_request(position))["ShardIterator"]


def shard_records(client: Any, stream: str, shard: str, position: str, page_size: int = MAX_FETCH,
                  limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The records of ``shard`` after ``position``, oldest first, until caught up (or ``limit``).

    Caught up = a page shorter than asked for while the shard reports being 0 ms behind its latest record.
    """
    iterator = shard_iterator(client, stream, shard, position)
    taken = 0
    while iterator and (limit is None or taken < limit):
        wanted = page_size if limit is None else min(page_size, limit - taken)
        answer = client.get_records(ShardIterator=iterator, Limit=wanted)
        records = answer["Records"]
        yield from records
        taken += len(records)
        if len(records) < wanted and answer.get("MillisBehindLatest", 0) == 0:
            return
        iterator = answer.get("NextShardIterator")


def up_to(records: Iterable[dict[str, Any]], stop_at: int | None) -> Iterator[dict[str, Any]]:
    """``records`` until the first one whose sequence number is beyond ``stop_at`` (None: all of them)."""
    for record in records:
        if stop_at is not None and int(record["SequenceNumber"]) > stop_at:
            return
        yield record


def last_sequence_number(records: Iterable[dict[str, Any]], stop_at: int | None = None) -> str | None:
    """Sequence number of the last of ``records`` (not beyond ``stop_at``), None if there is none."""
    last = None
    for record in up_to(records, stop_at):
        last = record["SequenceNumber"]
    return last
