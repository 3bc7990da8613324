"""The lake writer: records per topic-partition become objects in the Confluent S3 sink layout.

Like the sink with ``flush.size`` and ``rotate.interval.ms``: each object holds ``flush_size`` records (the
values alone, one compact JSON line each) and is named by its first offset. A record is durable when
:meth:`LakeWriter.append` returns: it is in an fsync'd journal (the write-ahead log), and a restarted writer
finishes what a crash interrupted (same offsets, same object names: no loss, no duplicate). Concurrent appends
share fsyncs (group commit, :mod:`pinterest_pipeline.lake.group_commit`).
"""
from __future__ import annotations

import fcntl
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from pinterest_pipeline.contract import MAX_RECORDS_PER_REQUEST
from pinterest_pipeline.lake.layout import lake_line
from pinterest_pipeline.lake.partition_log import Clock, JournalObserver, PartitionLog, Undo
from pinterest_pipeline.lake.store import ObjectStore, is_url, make_dirs, open_store

logger = logging.getLogger(__name__)

#: Kafka's legal topic names.
_TOPIC_NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,249}$")
#: State folder of writers whose lake is remote, under the working directory.
REMOTE_STATE_ROOT = Path("data/gateway_state")
LOCK_FILE = "writer.lock"
#: Records of full objects a partition may have waiting for the background writer before requests wait.
BACKLOG_HIGH_WATER = 4 * MAX_RECORDS_PER_REQUEST
#: Longest wait for the backlog to shrink (writes failing): the records are durable, the request is answered.
BACKPRESSURE_TIMEOUT_S = 30.0


def default_state_dir(root: str | Path) -> Path:
    """Where the journals go by default, outside ``topics/`` where readers look.

    ``<root>/_gateway_state`` for a local lake, ``data/gateway_state/<bucket>/<prefix>`` for a remote one.
    """
    root = str(root)
    if is_url(root):
        parts = urlsplit(root)
        return REMOTE_STATE_ROOT / parts.netloc / parts.path.strip("/")
    return Path(root.removeprefix("file://")) / "_gateway_state"


def check_topic(topic: str) -> str:
    """``topic`` if Kafka would accept it as a name (it becomes a folder name), else ``ValueError``."""
    if not _TOPIC_NAME.match(topic):
        raise ValueError(f"invalid topic name: {topic!r}")
    return topic


def _lock_state_dir(folder: Path) -> IO[str]:
    """An exclusive lock on the state folder, held while the writer lives (released by the OS on a crash)."""
    file = open(folder / LOCK_FILE, "a")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        raise RuntimeError(f"another lake writer is using the state folder {folder}") from None
    return file


@dataclass
class _Topic:
    """The partitions of one topic, whose appends share one lock (a request is journaled whole or not at all)."""

    logs: dict[int, PartitionLog]
    lock: threading.RLock
    requests: int = 0  # round robin over partitions, one step per request


class LakeWriter:
    """Append records to the lake at ``root`` (a folder or ``s3://bucket/prefix``); thread-safe.

    A request's objects are written before :meth:`append` returns when no other thread is writing that
    partition; otherwise a background thread writes them right after (the records are durable either way, in
    the journal), so that a one-record request never waits behind a 500-record one.

    - ``flush_size``: records per object (1 = one object per record, as the original pipeline);
    - ``partitions``: partitions per topic; a request without explicit partitions goes to the next one in turn;
    - ``rotate_interval_s``: also write a partial object once its first record is that old (checked on each
      append and by the background writer);
    - ``flush_on_close``: on :meth:`close`, write partial objects too (else they wait in the journal for the
      next run);
    - ``state_dir``: the journals (default :func:`default_state_dir`); one writer per state folder;
    - ``endpoint_url`` / ``storage_options``: fsspec options of a remote root (e.g. a local S3 endpoint);
    - ``on_journal_write``: told the duration and record count of each journal fsync (one may cover the records
      of many concurrent requests);
    - ``clock``: what rotation measures record ages with (tests inject one to make an object due at will).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        flush_size: int = 1,
        partitions: int = 1,
        rotate_interval_s: float | None = None,
        flush_on_close: bool = False,
        state_dir: str | Path | None = None,
        endpoint_url: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        topics: Iterable[str] = (),
        on_journal_write: JournalObserver | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        if flush_size < 1 or partitions < 1:
            raise ValueError("flush_size and partitions must be at least 1")
        if rotate_interval_s is not None and rotate_interval_s <= 0:
            raise ValueError("rotate_interval_s must be positive")
        self.root = str(root)
        self.flush_size, self.partitions = flush_size, partitions
        self.on_journal_write, self.clock = on_journal_write, clock
        self.rotate_interval_s, self.flush_on_close = rotate_interval_s, flush_on_close
        self.store: ObjectStore = open_store(root, endpoint_url, storage_options)
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir(root)
        make_dirs(self.state_dir)
        self._state_lock = _lock_state_dir(self.state_dir)
        self._topics: dict[str, _Topic] = {}
        self._registry = threading.Lock()
        self._closed = threading.Event()
        #: Set by a request that found its partition's objects being written by another thread.
        self._wake = threading.Event()
        try:
            for topic in sorted({check_topic(t) for t in topics} | self._topics_with_state()):
                self._topic(topic)
        except BaseException:
            self._state_lock.close()
            raise
        self._background = threading.Thread(target=self._write_in_background, name="lake-objects", daemon=True)
        self._background.start()

    def __repr__(self) -> str:
        return f"LakeWriter({self.root!r}, flush_size={self.flush_size}, partitions={self.partitions})"

    def __enter__(self) -> "LakeWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _topics_with_state(self) -> set[str]:
        return {p.name for p in self.state_dir.iterdir() if p.is_dir() and _TOPIC_NAME.match(p.name)}

    def _topic(self, topic: str) -> _Topic:
        """The partitions of ``topic``, recovered from the lake and the journals on first use."""
        with self._registry:
            state = self._topics.get(topic)
            if state is None:
                folder = self.state_dir / check_topic(topic)
                found = {int(p.name.removeprefix("partition=")) for p in folder.glob("partition=*") if p.is_dir()}
                lock = threading.RLock()
                logs = {
                    partition: PartitionLog(topic, partition, self.store, folder / f"partition={partition}",
                                            self.flush_size, lock, self.on_journal_write, self.clock)
                    for partition in sorted(set(range(self.partitions)) | found)
                }
                state = self._topics[topic] = _Topic(logs, lock)
                for log in logs.values():
                    self._write_objects(log)
        return state

    def append(
        self, topic: str, values: Sequence[Any], partitions: Sequence[int | None] | None = None
    ) -> list[tuple[int, int]]:
        """Store ``values`` durably; ``(partition, offset)`` of each, in order.

        ``partitions`` optionally names a partition per record (``None`` = the writer chooses). Raises
        ``ValueError`` (nothing stored) for a value that is not JSON or an unknown partition, ``OSError`` when
        the journal cannot be written or fsync'd (the records of that partition are taken back).
        """
        if self._closed.is_set():
            raise RuntimeError("the lake writer is closed")
        lines = [lake_line(value) for value in values]
        chosen = list(partitions) if partitions is not None else [None] * len(lines)
        if len(chosen) != len(lines):
            raise ValueError("one partition (or None) per record expected")
        if any(p is not None and not 0 <= p < self.partitions for p in chosen):
            raise ValueError(f"partitions of {topic!r} are 0..{self.partitions - 1}")
        state = self._topic(topic)
        with state.lock:
            if None in chosen:
                default = state.requests % self.partitions
                state.requests += 1
                chosen = [default if p is None else p for p in chosen]
            offsets = self._journal_locked(state, lines, chosen)
            spans: dict[int, tuple[int, int, int]] = {}  # partition → first offset, end, journal generation
            for partition in sorted(set(chosen)):
                own = [offset for p, offset in offsets if p == partition]
                spans[partition] = (min(own), max(own) + 1, state.logs[partition].commit.generation)
        self._wait_durable(state, spans)
        for partition, (first, end, _) in spans.items():
            self._write_or_hand_over(state.logs[partition], first, end)
        return offsets

    @staticmethod
    def _wait_durable(state: _Topic, spans: dict[int, tuple[int, int, int]]) -> None:
        """Wait until each partition's journal is fsync'd past the request's records (one write and fsync shared
        with the requests queued meanwhile); ``OSError`` when one of those rounds failed. Every partition is
        waited for even then, so none keeps records queued; records of another partition that were made durable
        stay (the client sends the request again: at least once)."""
        failure: OSError | None = None
        for partition, (_, end, generation) in spans.items():
            try:
                state.logs[partition].wait_durable(end, generation)
            except OSError as error:
                failure = failure or error
        if failure is not None:
            raise failure

    def _journal_locked(self, state: _Topic, lines: list[bytes], chosen: list[int]) -> list[tuple[int, int]]:
        """Queue each record for its partition's journal, all or none; ``(partition, offset)`` of each."""
        by_partition: dict[int, list[int]] = {}
        for index, partition in enumerate(chosen):
            by_partition.setdefault(partition, []).append(index)
        offsets: list[tuple[int, int]] = [(0, 0)] * len(lines)
        undos: list[Undo] = []
        try:
            for partition, indexes in by_partition.items():
                first, undo = state.logs[partition].append([lines[i] for i in indexes])
                undos.append(undo)
                for step, index in enumerate(indexes):
                    offsets[index] = (partition, first + step)
        except BaseException:
            for undo in reversed(undos):
                undo()
            raise
        return offsets

    def _write_or_hand_over(self, log: PartitionLog, first: int, end: int) -> None:
        """Write the objects of a request's records (offsets ``first``..``end - 1``) before answering when the
        partition is idle; when another thread is writing it, or older records wait, hand them to the
        background writer and answer at once (they are durable in the journal), so that a one-record request
        never waits behind a 500-record one: only a backlog above :data:`BACKLOG_HIGH_WATER` holds it back."""
        if log.ahead_of(first) < self.flush_size and log.writing.acquire(blocking=False):
            try:
                self._write_held(log, up_to=end)
            finally:
                log.writing.release()
            return
        self._wake.set()
        if not log.wait_for_backlog(BACKLOG_HIGH_WATER - (end - first), BACKPRESSURE_TIMEOUT_S):
            logger.warning("%s[%d]: lake objects are not being written; answering anyway (records journaled)",
                           log.topic, log.partition)

    def _write_objects(self, log: PartitionLog, flush_partial: bool = False) -> None:
        """Write the ready objects of one partition, waiting for another thread writing them to finish."""
        with log.writing:
            self._write_held(log, flush_partial)

    def _write_held(self, log: PartitionLog, flush_partial: bool = False, up_to: int | None = None) -> None:
        """Write ready objects (``log.writing`` held); when a write fails the records wait in the journal for a
        retry."""
        try:
            log.write_objects(self.rotate_interval_s, flush_partial, up_to)
        except Exception:
            logger.warning("could not write a lake object of %s[%d]; %d records wait in the journal",
                           log.topic, log.partition, len(log.pending), exc_info=True)

    def _for_each_log(self, action: Callable[[PartitionLog], None]) -> None:
        """``action`` on every partition, holding no lock (it takes those it needs: ``writing``, then state)."""
        with self._registry:
            states = list(self._topics.values())
        for state in states:
            for log in list(state.logs.values()):
                action(log)

    def write_due_objects(self, flush_partial: bool = False) -> None:
        """Write every object that is ready (full, due for rotation, or any when ``flush_partial``)."""
        def write(log: PartitionLog) -> None:
            if flush_partial or log.has_ready_object(self.rotate_interval_s):
                self._write_objects(log, flush_partial)

        self._for_each_log(write)

    def problems(self) -> dict[str, str]:
        """``"<topic>[<partition>]"`` → why it cannot write now, for each partition that cannot (objects due are
        retried and the journal's storage probed first, so a partition that recovered is not listed)."""
        found: dict[str, str] = {}

        def check(log: PartitionLog) -> None:
            self._write_objects(log)
            with log.state_lock:
                problem = log.problem()
            if problem is not None:
                found[f"{log.topic}[{log.partition}]"] = problem

        self._for_each_log(check)
        return found

    def pending(self, topic: str) -> int:
        """Records of ``topic`` acknowledged but not yet in an object."""
        state = self._topic(topic)
        with state.lock:
            return sum(len(log.pending) for log in state.logs.values())

    def _write_in_background(self) -> None:
        """Write what requests left to it, and partial objects due for rotation, until the writer closes."""
        period = None if self.rotate_interval_s is None else min(max(self.rotate_interval_s / 4, 0.05), 1.0)
        while True:
            self._wake.wait(period)
            self._wake.clear()
            if self._closed.is_set():
                return
            self.write_due_objects()

    def _finish(self, log: PartitionLog) -> None:
        self._write_objects(log, flush_partial=self.flush_on_close)
        try:
            with log.state_lock:
                log.close()
        except OSError:
            logger.warning("could not remove the journal of %s[%d]", log.topic, log.partition, exc_info=True)

    def close(self) -> None:
        """Stop the timer, write what is ready (partial objects too if ``flush_on_close``), release the state."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._wake.set()
        self._background.join()
        self._for_each_log(self._finish)
        self._state_lock.close()
