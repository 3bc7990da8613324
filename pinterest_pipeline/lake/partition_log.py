"""One topic-partition of the lake writer: its offsets, its journal, and the objects cut from it."""
from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pinterest_pipeline.lake.group_commit import GroupCommit
from pinterest_pipeline.lake.layout import object_key, parse_object_name, partition_folder
from pinterest_pipeline.lake.store import ObjectStore
from pinterest_pipeline.lake.wal import Journal, read_journals

Undo = Callable[[], None]
#: Told the seconds and the record count of each journal fsync (e.g. to a metrics histogram).
JournalObserver = Callable[[float, int], None]
#: Seconds on a clock that never goes back (``time.monotonic`` unless a test injects another).
Clock = Callable[[], float]
logger = logging.getLogger(__name__)


def describe(error: BaseException) -> str:
    """An error in one line: its type and message."""
    return f"{type(error).__name__}: {error}"

#: A journal this large is replaced by one holding only the pending records.
JOURNAL_LIMIT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SyncRound:
    """One group commit: the journal, its size before, and the lines it appends (offsets up to ``end``)."""

    journal: Journal
    size: int
    lines: list[bytes]
    end: int


class PartitionLog:
    """Assigns offsets, journals records durably, and writes each ``flush_size`` of them as one lake object.

    Objects are cut in offset order and named by their first offset. A new log resumes from what a previous
    run left: the objects in the lake (the last one tells where they end) and the journal (the records after
    that are pending), so offsets continue and nothing acknowledged is lost or written twice.

    Appends share journal writes and fsyncs (:class:`~pinterest_pipeline.lake.group_commit.GroupCommit`):
    :meth:`append` assigns offsets and queues the lines in memory (no system call under the state lock);
    :meth:`wait_durable` returns once a round has written and fsync'd them. Objects hold durable records only.

    A storage error never needs a restart: an append that failed is taken back, and if even that fails the
    repair is retried before the next append (which fails until it succeeds); :meth:`problem` says why the
    partition cannot write, probing the storage again first.
    """

    def __init__(self, topic: str, partition: int, store: ObjectStore, folder: Path, flush_size: int,
                 state_lock: threading.RLock | None = None, on_journal_write: JournalObserver | None = None,
                 clock: Clock = time.monotonic) -> None:
        self.topic, self.partition, self.store = topic, partition, store
        self.folder, self.flush_size, self.clock = folder, flush_size, clock
        self.on_journal_write = on_journal_write
        #: Guards offsets, pending records and the journal: held by appends, and by object writes between puts.
        self.state_lock = state_lock if state_lock is not None else threading.RLock()
        #: Held by the one thread writing this partition's objects (in offset order); never acquire it while
        #: holding :attr:`state_lock`.
        self.writing = threading.Lock()
        #: Notified each time an object is written (waiters hold :attr:`state_lock`).
        self.drained = threading.Condition(self.state_lock)
        #: Taking back unacknowledged records that failed (storage refused); retried before the next append.
        self._unsettled: Undo | None = None
        #: Why the last journal append / object write failed; cleared by the next success.
        self.journal_failure: str | None = None
        self.object_failure: str | None = None
        removed = store.remove_incomplete(partition_folder(topic, partition), f"{topic}+{partition}+")
        if removed:
            logger.info("removed %d incomplete object(s) a killed writer left in %s[%d]", removed, topic, partition)
        journals = read_journals(folder)
        logged = {journal.start + i: line for journal, lines in journals for i, line in enumerate(lines)}
        lake_end = self._lake_end()
        logged_end = max(logged, default=-1) + 1
        #: First offset of the next object; the records from there on, and when each arrived.
        self.pending_start = max(lake_end, min(logged, default=lake_end))
        try:
            self.pending = [logged[offset] for offset in range(self.pending_start, logged_end)]
        except KeyError as missing:
            raise RuntimeError(f"the journal of {topic}[{partition}] in {folder} lacks offset {missing}") from None
        self.arrivals = [clock()] * len(self.pending)
        self.next_offset = max(lake_end, logged_end)
        # Start again from one journal holding exactly the pending records.
        self.journal = Journal.create(folder, self.pending_start, self.pending) if self.pending else None
        for journal, _ in journals:
            if self.journal is None or journal.path != self.journal.path:
                journal.remove()
        self.commit = GroupCommit(self.state_lock, self.next_offset)
        #: Lines appended (offsets assigned) that no round has taken to the journal yet, in offset order.
        self._unwritten: list[bytes] = []

    def __repr__(self) -> str:
        return f"PartitionLog({self.topic!r}, {self.partition}, next_offset={self.next_offset})"

    def _lake_end(self) -> int:
        """The offset after the last record of the last object (0 for an empty partition)."""
        starts = []
        for name in self.store.list_names(partition_folder(self.topic, self.partition)):
            try:
                parsed = parse_object_name(name)
            except ValueError:
                continue
            if parsed.topic == self.topic and parsed.partition == self.partition:
                starts.append(parsed.start_offset)
        if not starts:
            return 0
        last = max(starts)
        return last + self.store.get(object_key(self.topic, self.partition, last)).count(b"\n")

    def append(self, lines: list[bytes]) -> tuple[int, Undo]:
        """Give newline-terminated records their offsets, to be journaled by :meth:`wait_durable`; their first
        offset, and how to take them back.

        On failure nothing of ``lines`` is kept. The undo removes them again, for a request whose records for
        another partition could not be taken; it must be called before the state lock is released.
        """
        self._settle()
        first, created = self.next_offset, self.journal is None
        if created:  # nothing pending: a new, empty journal starts at these records
            try:
                self.journal = Journal.create(self.folder, first, [])
            except OSError as error:
                self.journal_failure = describe(error)
                raise
        self._unwritten.extend(lines)
        self.pending.extend(lines)
        self.arrivals.extend([self.clock()] * len(lines))
        self.next_offset += len(lines)

        def undo() -> None:
            for queue in (self._unwritten, self.pending, self.arrivals):
                del queue[len(queue) - len(lines):]
            self.next_offset = first
            if created:
                self._take_back(self.journal.remove)
                self.journal = None

        return first, undo

    def wait_durable(self, end: int, generation: int) -> None:
        """Return once the records before offset ``end``, appended in ``generation`` of :attr:`commit`, are
        journaled and fsync'd: when no other thread is at it, this one appends every line queued so far (its
        own and other requests') and fsyncs, outside the state lock. ``OSError`` (records taken back) when the
        round that held them failed. Call it without holding :attr:`state_lock`."""
        while True:
            with self.state_lock:
                if not self.commit.must_lead(end, generation):
                    return
                assert self.journal is not None, "records wait for the journal but there is none"
                sync_round = SyncRound(self.journal, self.journal.size, self._unwritten, self.next_offset)
                self._unwritten = []
            error: BaseException | None = None
            started = time.perf_counter()
            try:
                sync_round.journal.append(sync_round.lines)
            except BaseException as raised:  # the round must close whatever happens, or its waiters hang
                error = raised
            with self.state_lock:
                self._close_round(sync_round, error, time.perf_counter() - started)
            if error is not None and not isinstance(error, OSError):
                raise error

    def _close_round(self, sync_round: SyncRound, error: BaseException | None, seconds: float) -> None:
        """Mark what the round made durable; after a failure, take back every record not durable."""
        durable_before = self.commit.durable_end
        if error is None or durable_before >= sync_round.end:  # else a renewed journal holds them already
            self.journal_failure = None
            if self.on_journal_write is not None and sync_round.end > durable_before:
                self.on_journal_write(seconds, sync_round.end - durable_before)
            self.commit.synced(sync_round.end)
            return
        taken_back = self.next_offset - durable_before
        for queue in (self.pending, self.arrivals):
            del queue[len(queue) - taken_back:]
        self._unwritten = []
        self.next_offset = durable_before
        self._take_back(lambda: sync_round.journal.truncate(sync_round.size))
        self.journal_failure = describe(error)
        logger.error("the journal of %s[%d] could not be written; %d unacknowledged record(s) taken back: %s",
                     self.topic, self.partition, taken_back, self.journal_failure)
        self.commit.failed(self.journal_failure)

    def _take_back(self, action: Undo) -> None:
        try:
            action()
        except OSError as error:
            # The file holds records the memory does not: repair it before anything else is appended.
            self._unsettled = action
            logger.error("could not take unacknowledged records out of %s yet: %s", self.folder, describe(error))

    def _settle(self) -> None:
        """Finish a take-back that failed earlier; ``OSError`` while storage still refuses it."""
        if self._unsettled is None:
            return
        try:
            self._unsettled()
        except OSError as error:
            raise OSError(f"the journal of {self.topic}[{self.partition}] cannot be repaired yet: "
                          f"{describe(error)}") from error
        self._unsettled = None
        logger.info("repaired the journal of %s[%d]", self.topic, self.partition)

    def problem(self) -> str | None:
        """Why this partition cannot write now, after trying its storage again; None when it can."""
        try:
            self._settle()
            if self.journal_failure is not None:
                self._probe_journal_folder()
                self.journal_failure = None
        except OSError as error:
            return f"journal: {describe(error)}"
        return None if self.object_failure is None else f"lake object: {self.object_failure}"

    def _probe_journal_folder(self) -> None:
        """Raise ``OSError`` unless the journal (or, without one, its folder) can be written."""
        if self.journal is not None:
            with open(self.journal.path, "ab"):
                return
        os.makedirs(self.folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=self.folder):
            return

    def _next_object(self, rotate_interval_s: float | None, flush_partial: bool, now: float,
                     up_to: int | None = None) -> tuple[str, bytes, int] | None:
        """Key, bytes and record count of the oldest object ready to be written, if any (under the state lock).

        Ready: ``flush_size`` durable records, or fewer whose first arrived ``rotate_interval_s`` ago, or any
        when ``flush_partial``; and starting before offset ``up_to`` when given. Records not yet fsync'd never go
        into an object (a failed fsync takes them back).
        """
        durable = self.commit.durable_end - self.pending_start
        if durable <= 0 or (up_to is not None and self.pending_start >= up_to):
            return None
        due = rotate_interval_s is not None and now - self.arrivals[0] >= rotate_interval_s
        if durable < self.flush_size and not (due or flush_partial):
            return None
        count = min(self.flush_size, durable)
        return object_key(self.topic, self.partition, self.pending_start), b"".join(self.pending[:count]), count

    def has_ready_object(self, rotate_interval_s: float | None = None) -> bool:
        """Whether an object is ready to be written."""
        with self.state_lock:
            return self._next_object(rotate_interval_s, False, self.clock()) is not None

    def ahead_of(self, offset: int) -> int:
        """Records before ``offset`` not yet in an object."""
        with self.state_lock:
            return max(0, offset - self.pending_start)

    def wait_for_backlog(self, limit: int, timeout_s: float) -> bool:
        """Wait until at most ``limit`` records of full objects wait to be written (False on timeout)."""

        def small_enough() -> bool:
            return len(self.pending) - len(self.pending) % self.flush_size <= limit

        with self.drained:
            return self.drained.wait_for(small_enough, timeout_s)

    def write_objects(self, rotate_interval_s: float | None = None, flush_partial: bool = False,
                      up_to: int | None = None) -> int:
        """Write the objects that are ready (and start before offset ``up_to``), oldest first; the number
        written. Call it holding :attr:`writing`: the state lock is taken only between puts, so appends go on
        while objects are written.

        A failed write leaves the records pending (the caller retries later).
        """
        written, now = 0, self.clock()
        while True:
            with self.state_lock:
                ready = self._next_object(rotate_interval_s, flush_partial, now, up_to)
            if ready is None:
                break
            key, data, count = ready
            try:
                self.store.put(key, data)
            except Exception as error:
                self.object_failure = describe(error)
                raise
            self.object_failure = None
            with self.state_lock:
                del self.pending[:count], self.arrivals[:count]
                self.pending_start += count
                self.drained.notify_all()
            written += 1
        with self.state_lock:
            if self.journal is not None and self.journal.size >= JOURNAL_LIMIT_BYTES:
                self._renew_journal()
        return written

    def _renew_journal(self) -> None:
        """Drop the records already in objects from the journal (only those pending remain)."""
        old = self.journal
        if old is None or old.start == self.pending_start:
            return
        self.journal = Journal.create(self.folder, self.pending_start, self.pending) if self.pending else None
        old.remove()
        # The new journal is fsync'd whole, records no round has taken yet included.
        self._unwritten = []
        self.commit.made_durable(self.next_offset)

    def close(self) -> None:
        """Remove the journal when nothing is pending (a clean stop leaves no state behind)."""
        if not self.pending and self.journal is not None:
            self.journal.remove()
            self.journal = None
