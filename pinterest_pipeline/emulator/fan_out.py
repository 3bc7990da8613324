"""Sending over N connections at once (``--concurrency N``), keeping the order of each row's records.

Each of N sender threads owns a transport (one keep-alive HTTP session: one connection). Every record goes to
the sender chosen by its row index, so all records of one source row (any table, any repeat of the row) travel
through one connection in the order they were handed over: per-key order, as a Kafka producer keeps per
partition. Records of different rows may arrive in any order (rows are independent random samples; the
pipeline keeps one row per ``ind`` whatever the order). A request holds the records of one sender only, so
with N > 1 a batch of ``--batch-size`` rows is spread over up to N smaller requests.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Mapping, Sequence

from pinterest_pipeline.emulator.delivery import DeliveryStats
from pinterest_pipeline.emulator.transports import Transport

#: Work items each sender may have waiting: enough to keep it busy, little enough to pace the producer.
QUEUE_DEPTH = 8
_Work = tuple[str, list[Mapping[str, Any]]] | None


def row_key(row: Mapping[str, Any]) -> int:
    """The source row index of a record: ``index`` in ``pinterest_data``, ``ind`` in the other tables."""
    return int(row["index"] if "index" in row else row["ind"])


class FanOut:
    """A :class:`~pinterest_pipeline.emulator.transports.Transport` over several, sending concurrently.

    :meth:`send` returns once the records are queued; :meth:`close` waits until every queued record is
    delivered (or counted as failed). :attr:`stats` adds up the senders' counts.
    """

    def __init__(self, transports: Sequence[Transport]) -> None:
        if not transports:
            raise ValueError("at least one transport is needed")
        self.transports = list(transports)
        self._queues: list[queue.Queue[_Work]] = [queue.Queue(QUEUE_DEPTH) for _ in self.transports]
        self._crash: BaseException | None = None
        self._threads = [threading.Thread(target=self._deliver, args=(t, q), name=f"emulator-sender-{n}", daemon=True)
                         for n, (t, q) in enumerate(zip(self.transports, self._queues))]
        for thread in self._threads:
            thread.start()

    def __repr__(self) -> str:
        return f"FanOut({len(self.transports)} senders)"

    @property
    def stats(self) -> DeliveryStats:
        """The senders' counts added up (a snapshot)."""
        total = DeliveryStats()
        for transport in self.transports:
            stats = transport.stats
            total.sent += stats.sent
            total.retried += stats.retried
            for reason, count in list(stats.errors.items()):
                total.record_error(reason, count)
        return total

    def send(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue ``rows`` of table ``kind`` on the senders their row indexes choose (in order, per sender)."""
        shares: dict[int, list[Mapping[str, Any]]] = {}
        for row in rows:
            shares.setdefault(row_key(row) % len(self._queues), []).append(row)
        for sender, share in shares.items():
            self._raise_if_crashed()
            self._queues[sender].put((kind, share))

    def close(self) -> None:
        """Wait for every queued record, then release the senders' connections."""
        for work in self._queues:
            work.put(None)
        for thread in self._threads:
            thread.join()
        for transport in self.transports:
            transport.close()
        self._raise_if_crashed()

    def _raise_if_crashed(self) -> None:
        if self._crash is not None:
            raise RuntimeError("an emulator sender thread failed") from self._crash

    def _deliver(self, transport: Transport, work: "queue.Queue[_Work]") -> None:
        while (item := work.get()) is not None:
            if self._crash is None:
                try:
                    transport.send(*item)
                except BaseException as error:  # a bug, not a delivery failure (those are counted in stats)
                    self._crash = error
