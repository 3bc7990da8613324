"""The lake writer: records per topic-partition become objects in the Confluent S3 sink layout.

Like the sink with ``flush.size`` and ``rotate.interval.ms``: each object holds ``flush_size`` records (the
values alone, one compact JSON line each) and is named by its first offset. A record is durable when
:meth:`LakeWriter.append` returns: it is in an fsync'd journal (the write-ahead log), and a restarted writer
finishes what a crash interrupted (same offsets, same object names: no loss, no duplicate).
"""
from __future__ import annotations

import fcntl
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from pinterest_pipeline.lake.layout import lake_line
from pinterest_pipeline.lake.partition_log import Clock, PartitionLog, Undo
from pinterest_pipeline.lake.store import ObjectStore, is_url, make_dirs, open_store

logger = logging.getLogger(__name__)

#: Kafka's legal topic names.
_TOPIC_NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,249}$")
#: State folder of writers whose lake is remote, under the working directory.
REMOTE_STATE_ROOT = Path("data/gateway_state")
LOCK_FILE = "writer.lock"


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
    """The partitions of one topic, behind one lock."""

    logs: dict[int, PartitionLog]
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0  # round robin over partitions, one step per request


class LakeWriter:
    """Append records to the lake at ``root`` (a folder or ``s3://bucket/prefix``); thread-safe.

    - ``flush_size``: records per object (1 = one object per record, as the original pipeline);
    - ``partitions``: partitions per topic; a request without explicit partitions goes to the next one in turn;
    - ``rotate_interval_s``: also write a partial object once its first record is that old (checked on each
      append and by a background timer);
    - ``flush_on_close``: on :meth:`close`, write partial objects too (else they wait in the journal for the
      next run);
    - ``state_dir``: the journals (default :func:`default_state_dir`); one writer per state folder;
    - ``endpoint_url`` / ``storage_options``: fsspec options of a remote root (e.g. a local S3 endpoint);
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
        clock: Clock = time.monotonic,
    ) -> None:
        if flush_size < 1 or partitions < 1:
            raise ValueError("flush_size and partitions must be at least 1")
        if rotate_interval_s is not None and rotate_interval_s <= 0:
            raise ValueError("rotate_interval_s must be positive")
        self.root = str(root)
        self.flush_size, self.partitions = flush_size, partitions
        self.rotate_interval_s, self.flush_on_close = rotate_interval_s, flush_on_close
        self.clock = clock
        self.store: ObjectStore = open_store(root, endpoint_url, storage_options)
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir(root)
        make_dirs(self.state_dir)
        self._state_lock = _lock_state_dir(self.state_dir)
        self._topics: dict[str, _Topic] = {}
        self._registry = threading.Lock()
        self._closed = threading.Event()
        self._timer: threading.Thread | None = None
        try:
            for topic in sorted({check_topic(t) for t in topics} | self._topics_with_state()):
                self._topic(topic)
        except BaseException:
            self._state_lock.close()
            raise
        if rotate_interval_s is not None:
            self._timer = threading.Thread(target=self._rotate_periodically, name="lake-rotate", daemon=True)
            self._timer.start()

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
                logs = {
                    partition: PartitionLog(topic, partition, self.store, folder / f"partition={partition}",
                                            self.flush_size, self.clock)
                    for partition in sorted(set(range(self.partitions)) | found)
                }
                state = self._topics[topic] = _Topic(logs)
                for log in logs.values():
                    self._write_objects(log)
        return state

    def append(
        self, topic: str, values: Sequence[Any], partitions: Sequence[int | None] | None = None
    ) -> list[tuple[int, int]]:
        """Store ``values`` durably; ``(partition, offset)`` of each, in order.

        ``partitions`` optionally names a partition per record (``None`` = the writer chooses). Raises
        ``ValueError`` (nothing stored) for a value that is not JSON or an unknown partition, ``OSError`` when
        the journal cannot be written (nothing stored either).
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
            return self._append_locked(state, lines, chosen)

    def _append_locked(self, state: _Topic, lines: list[bytes], chosen: list[int]) -> list[tuple[int, int]]:
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
        for partition in by_partition:
            self._write_objects(state.logs[partition])
        return offsets

    def _write_objects(self, log: PartitionLog, flush_partial: bool = False) -> None:
        """Write the ready objects of one partition; on failure the records wait in the journal for a retry."""
        try:
            log.write_objects(self.rotate_interval_s, flush_partial)
        except Exception:
            logger.warning("could not write a lake object of %s[%d]; %d records wait in the journal",
                           log.topic, log.partition, len(log.pending), exc_info=True)

    def _for_each_log(self, action: Callable[[PartitionLog], None]) -> None:
        with self._registry:
            states = list(self._topics.values())
        for state in states:
            with state.lock:
                for log in state.logs.values():
                    action(log)

    def write_due_objects(self, flush_partial: bool = False) -> None:
        """Write every object that is ready (full, due for rotation, or any when ``flush_partial``)."""
        self._for_each_log(lambda log: self._write_objects(log, flush_partial))

    def pending(self, topic: str) -> int:
        """Records of ``topic`` acknowledged but not yet in an object."""
        state = self._topic(topic)
        with state.lock:
            return sum(len(log.pending) for log in state.logs.values())

    def _rotate_periodically(self) -> None:
        assert self.rotate_interval_s is not None
        period = min(max(self.rotate_interval_s / 4, 0.05), 1.0)
        while not self._closed.wait(period):
            self.write_due_objects()

    def _finish(self, log: PartitionLog) -> None:
        self._write_objects(log, flush_partial=self.flush_on_close)
        try:
            log.close()
        except OSError:
            logger.warning("could not remove the journal of %s[%d]", log.topic, log.partition, exc_info=True)

    def close(self) -> None:
        """Stop the timer, write what is ready (partial objects too if ``flush_on_close``), release the state."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._timer is not None:
            self._timer.join()
        self._for_each_log(self._finish)
        self._state_lock.close()
