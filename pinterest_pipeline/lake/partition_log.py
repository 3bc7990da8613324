"""One topic-partition of the lake writer: its offsets, its journal, and the objects cut from it."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from pinterest_pipeline.lake.layout import object_key, parse_object_name, partition_folder
from pinterest_pipeline.lake.store import ObjectStore
from pinterest_pipeline.lake.wal import Journal, read_journals

Undo = Callable[[], None]
#: Seconds on a clock that never goes back (``time.monotonic`` unless a test injects another).
Clock = Callable[[], float]
logger = logging.getLogger(__name__)

#: A journal this large is replaced by one holding only the pending records.
JOURNAL_LIMIT_BYTES = 1024 * 1024


class PartitionLog:
    """Assigns offsets, journals records durably, and writes each ``flush_size`` of them as one lake object.

    Objects are cut in offset order and named by their first offset. A new log resumes from what a previous
    run left: the objects in the lake (the last one tells where they end) and the journal (the records after
    that are pending), so offsets continue and nothing acknowledged is lost or written twice.
    """

    def __init__(self, topic: str, partition: int, store: ObjectStore, folder: Path, flush_size: int,
                 clock: Clock = time.monotonic) -> None:
        self.topic, self.partition, self.store = topic, partition, store
        self.folder, self.flush_size, self.clock = folder, flush_size, clock
        #: Set when records that were not acknowledged could not be taken back out of the journal.
        self.broken: OSError | None = None
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
        """Journal newline-terminated records durably; their first offset, and how to take them back.

        On failure nothing of ``lines`` is kept. The undo removes them again, for a request whose records for
        another partition could not be journaled; it must be called before :meth:`write_objects`.
        """
        if self.broken is not None:
            raise OSError(f"the journal of {self.topic}[{self.partition}] needs a restart") from self.broken
        first, journal = self.next_offset, self.journal
        if journal is None:
            self.journal = Journal.create(self.folder, self.pending_start, self.pending + lines)
        else:
            size = journal.size
            try:
                journal.append(lines)
            except BaseException:
                self._take_back(lambda: journal.truncate(size))
                raise
        self.pending.extend(lines)
        self.arrivals.extend([self.clock()] * len(lines))
        self.next_offset += len(lines)

        def undo() -> None:
            del self.pending[len(self.pending) - len(lines):]
            del self.arrivals[len(self.arrivals) - len(lines):]
            self.next_offset = first
            if journal is None:
                self._take_back(self.journal.remove)
                self.journal = None
            else:
                self._take_back(lambda: journal.truncate(size))

        return first, undo

    def _take_back(self, action: Undo) -> None:
        try:
            action()
        except OSError as error:
            # The file and the memory disagree now: refuse appends until a restart re-reads the file.
            self.broken = error
            logger.error("could not take unacknowledged records out of %s", self.folder, exc_info=True)

    def write_objects(self, rotate_interval_s: float | None = None, flush_partial: bool = False) -> int:
        """Write the objects that are ready, oldest first; the number written.

        Ready: ``flush_size`` records, or fewer whose first arrived ``rotate_interval_s`` ago, or any when
        ``flush_partial``. A failed write leaves the records pending (the caller retries later).
        """
        written, now = 0, self.clock()
        while self.pending:
            due = rotate_interval_s is not None and now - self.arrivals[0] >= rotate_interval_s
            if len(self.pending) < self.flush_size and not (due or flush_partial):
                break
            count = min(self.flush_size, len(self.pending))
            key = object_key(self.topic, self.partition, self.pending_start)
            self.store.put(key, b"".join(self.pending[:count]))
            del self.pending[:count], self.arrivals[:count]
            self.pending_start += count
            written += 1
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

    def close(self) -> None:
        """Remove the journal when nothing is pending (a clean stop leaves no state behind)."""
        if not self.pending and self.journal is not None:
            self.journal.remove()
            self.journal = None
