"""Group commit of one journal: concurrent appends share one write and one fsync, as databases and Kafka's
log do.

An append takes its offsets and queues its lines (under the partition's state lock), then waits until the
journal is durable past its last offset. The first waiter to find no round under way leads one: outside the
lock it writes and fsyncs every line queued before it started, while later appends queue for the next round.
When a round fails, the records past the durable end are taken back and every waiter of that *generation*
fails; a waiter that wakes late compares its own generation, so it never mistakes records appended after the
failure (at the same offsets) for its own.
"""
from __future__ import annotations

import threading


class GroupCommit:
    """How far one journal is durable, who is fsyncing it, and which failures ended which generation.

    Every method is called holding the lock given to the constructor (the partition's state lock).
    """

    def __init__(self, lock: threading.RLock, durable_end: int) -> None:
        #: Offsets before this one are written to the journal and fsync'd.
        self.durable_end = durable_end
        #: Bumped by each failed round: the records appended in the generation that failed are gone.
        self.generation = 0
        self._changed = threading.Condition(lock)
        self._leading = False
        #: Generation → (its durable end when its round failed, why it failed).
        self._failed: dict[int, tuple[int, str]] = {}

    def __repr__(self) -> str:
        return f"GroupCommit(durable_end={self.durable_end}, generation={self.generation})"

    def must_lead(self, end: int, generation: int) -> bool:
        """Whether the caller, whose records end before offset ``end`` and were appended in ``generation``, must
        write and fsync now (it then leads a round, closed by :meth:`synced` or :meth:`failed`); False once they
        are durable. Waits while another thread leads; ``OSError`` when the round meant for them failed."""
        while True:
            if generation != self.generation:
                kept, reason = self._failed[generation]
                if end <= kept:
                    return False
                raise OSError(f"the journal write failed, records not stored: {reason}")
            if self.durable_end >= end:
                return False
            if not self._leading:
                self._leading = True
                return True
            self._changed.wait()

    def synced(self, end: int) -> None:
        """The round made offsets before ``end`` durable."""
        self._leading = False
        self.made_durable(end)

    def failed(self, reason: str) -> None:
        """The round failed and the records past :attr:`durable_end` were taken back."""
        self._leading = False
        self._failed[self.generation] = (self.durable_end, reason)
        self.generation += 1
        self._changed.notify_all()

    def made_durable(self, end: int) -> None:
        """Offsets before ``end`` became durable (by a round, or by a journal written whole and fsync'd)."""
        self.durable_end = max(self.durable_end, end)
        self._changed.notify_all()
