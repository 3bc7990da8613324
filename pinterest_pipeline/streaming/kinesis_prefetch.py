"""Reading Kinesis shards ahead, in the background, so that planning a micro-batch does not wait for Kinesis.

One daemon thread per shard keeps the shard's iterator (``NextShardIterator``) from call to call, waits at
least ``min_fetch_period`` seconds from the end of one GetRecords call to the start of the next, and appends
the records to the shard's buffer. The buffer is bounded: holding ``capacity`` records, the thread waits until
the reader moves past some of them, so nothing is dropped. An expired iterator is asked for again after the
last buffered record; a closed shard (no ``NextShardIterator``) ends its thread once its last records are
buffered. Any other failure ends the thread and is raised, as :class:`PollerFailed`, by the reader's next call.
Never imports Spark.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from pinterest_pipeline.streaming.kinesis_shards import is_sequence_number, shard_iterator, up_to

#: Seconds between two GetRecords calls on one shard (AWS allows 5 per second; Databricks' default).
DEFAULT_MIN_FETCH_PERIOD = 0.4
#: Records read ahead per shard before its poller waits.
DEFAULT_BUFFER_RECORDS = 20_000


class PollerFailed(RuntimeError):
    """A shard's background reads failed; raised by the next read so that the query fails."""


class ShardPoller:
    """One shard read ahead by a daemon thread: a buffer of the records that follow position ``after``."""

    def __init__(self, client: Any, stream: str, shard: str, after: str, *, min_fetch_period: float,
                 capacity: int, page_size: int) -> None:
        self.client, self.stream, self.shard = client, stream, shard
        self.min_fetch_period, self.capacity, self.page_size = min_fetch_period, capacity, page_size
        self.after = after
        self.records: deque[dict[str, Any]] = deque()
        self.error: Exception | None = None
        self.stopping = threading.Event()
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._run, name=f"kinesis-prefetch-{stream}-{shard}", daemon=True)
        self.thread.start()

    def take(self, position: str, limit: int | None, ceiling: int | None) -> list[dict[str, Any]] | None:
        """The buffered records after ``position`` (at most ``limit``, none beyond ``ceiling``), without waiting.

        None when the buffer does not continue from ``position``. Records up to ``position`` leave the buffer.
        """
        with self.changed:
            self.raise_failure()
            if not self._move_to(position):
                return None
            return list(islice(up_to(self.records, ceiling), limit))

    def raise_failure(self) -> None:
        """Raise :class:`PollerFailed` if this shard's background reads failed."""
        if self.error is not None:
            raise PollerFailed(f"reading shard {self.shard} of Kinesis stream {self.stream} in the background "
                               f"failed: {self.error}") from self.error

    def stop(self) -> None:
        """Ask the thread to end (it ends after a GetRecords call in flight)."""
        with self.changed:
            self.stopping.set()
            self.changed.notify_all()

    def _move_to(self, position: str) -> bool:
        """Drop the records up to ``position``; False if ``position`` is neither the start nor a buffered record."""
        if position == self.after:
            return True
        if not is_sequence_number(position) or all(r["SequenceNumber"] != position for r in self.records):
            return False
        while self.records.popleft()["SequenceNumber"] != position:
            pass
        self.after = position
        self.changed.notify_all()
        return True

    def _run(self) -> None:
        try:
            self._poll()
        except Exception as error:  # handed to the reader, which raises it into the query
            with self.changed:
                self.error = error

    def _room(self) -> int:
        """Records the buffer can take, once it has room; 0 when stopping."""
        with self.changed:
            while len(self.records) >= self.capacity and not self.stopping.is_set():
                self.changed.wait()
            return 0 if self.stopping.is_set() else self.capacity - len(self.records)

    def _poll(self) -> None:
        tail, iterator, next_call = self.after, None, 0.0
        while True:
            room = self._room()
            if not room or self.stopping.wait(max(0.0, next_call - time.monotonic())):
                return
            if iterator is None:
                iterator = shard_iterator(self.client, self.stream, self.shard, tail)
            try:
                answer = self.client.get_records(ShardIterator=iterator, Limit=min(self.page_size, room))
            except ClientError as error:
                if error.response["Error"]["Code"] != "ExpiredIteratorException":
                    raise
                iterator = None
                continue
            finally:
                next_call = time.monotonic() + self.min_fetch_period
            records, iterator = answer["Records"], answer.get("NextShardIterator")
            with self.changed:
                self.records.extend(records)
                self.changed.notify_all()
            if records:
                tail = records[-1]["SequenceNumber"]
            if iterator is None:  # closed shard, everything buffered
                return


class ShardPrefetcher:
    """The pollers of every shard a reader reads, each (re)started where a synchronous read left off."""

    def __init__(self, client: Any, *, min_fetch_period: float, capacity: int, page_size: int) -> None:
        self.client = client
        self.settings = {"min_fetch_period": min_fetch_period, "capacity": capacity, "page_size": page_size}
        self.pollers: dict[tuple[str, str], ShardPoller] = {}
        self.replaced: list[ShardPoller] = []

    def take(self, stream: str, shard: str, position: str, limit: int | None,
             ceiling: int | None) -> list[dict[str, Any]] | None:
        """See :meth:`ShardPoller.take`; None also when the shard has no poller yet."""
        poller = self.pollers.get((stream, shard))
        return None if poller is None else poller.take(position, limit, ceiling)

    def follow(self, stream: str, shard: str, after: str) -> None:
        """Read ``shard`` ahead from ``after`` on, in place of whatever read it ahead before."""
        previous = self.pollers.get((stream, shard))
        if previous is not None:
            previous.stop()
            self.replaced = [poller for poller in self.replaced if poller.thread.is_alive()] + [previous]
        self.pollers[(stream, shard)] = ShardPoller(self.client, stream, shard, after, **self.settings)

    def raise_failure(self) -> None:
        """Raise :class:`PollerFailed` for the first shard whose background reads failed."""
        for poller in self.pollers.values():
            with poller.changed:
                poller.raise_failure()

    def stop(self) -> None:
        """End every poller's thread (replaced ones included) and wait for them."""
        everyone = [*self.pollers.values(), *self.replaced]
        for poller in everyone:
            poller.stop()
        for poller in everyone:
            poller.thread.join()
