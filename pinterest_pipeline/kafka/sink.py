"""Kafka → lake: the Confluent S3 sink connector's job, for a local folder or ``s3://`` (fsspec).

Consumes the three topics of a prefix and writes objects named ``topics/<topic>/partition=<p>/<topic>+<p>+
<startOffset>.json`` (the values alone, one compact JSON line each, as :mod:`pinterest_pipeline.lake.writer`
writes them). Exactly once, as the connector: offsets are committed only after an object is durable, and each
object is named by its first offset, so after a crash the replay from the committed offset rewrites the one
object that was not committed yet under the same name (byte-identical when its boundaries are the same).

- ``flush_size``: records per object (the connector's ``flush.size``);
- ``rotate_interval_ms``: also close an object when a record's timestamp is that much later than the
  object's first one (``rotate.interval.ms`` with record timestamps: deterministic on replay);
- ``rotate_schedule_interval_ms``: also close an object once it has been open that long by the wall clock
  (``rotate.schedule.interval.ms``: writes partial objects when the flow stops; boundaries depend on timing);
- ``until_caught_up``: write partial objects and stop once every assigned partition is read to its end.

A value that is not JSON (or a null value) goes to a dead-letter object ``errors/<topic>/partition=<p>/
<topic>+<p>+<offset>.json`` and is counted. On a rebalance, partitions taken away lose their uncommitted
records, which their next owner reads again (partitions are assigned ``cooperative-sticky``: a rebalance moves
only the partitions that change owner; a commit a rebalance refused is retried while its partition stays).
SIGTERM / SIGINT stop the loop gracefully: partial objects are not written (their records are read again on
the next run), nothing is committed past a durable object.
"""
from __future__ import annotations

import base64
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Mapping

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from pinterest_pipeline.contract import decode_json
from pinterest_pipeline.kafka.client_config import redacted
from pinterest_pipeline.kafka.sink_metrics import SinkMetrics
from pinterest_pipeline.lake.layout import lake_line, object_key
from pinterest_pipeline.lake.store import ObjectStore, open_store

logger = logging.getLogger("pinterest_pipeline.kafka.sink")

#: Consumer defaults; ``KAFKA_*`` variables or the properties file override them.
CONSUMER_DEFAULTS: dict[str, str] = {
    "session.timeout.ms": "10000",
    #: A rebalance moves only the partitions that change owner: the others keep their pending records.
    "partition.assignment.strategy": "cooperative-sticky",
    "socket.connection.setup.timeout.ms": "5000",
    "reconnect.backoff.max.ms": "1000",
}
#: Settings the sink's guarantees rest on: not overridable.
CONSUMER_FIXED: dict[str, str] = {
    "enable.auto.commit": "false",
    "auto.offset.reset": "earliest",
    "enable.partition.eof": "true",
}
#: Commit errors meaning the partition now belongs to another member.
_LOST_OWNERSHIP = frozenset({KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION,
                             KafkaError.UNKNOWN_MEMBER_ID, KafkaError.FENCED_INSTANCE_ID,
                             KafkaError._ASSIGNMENT_LOST})

Partition = tuple[str, int]


def dead_letter_key(topic: str, partition: int, offset: int) -> str:
    """``errors/<topic>/partition=<p>/<topic>+<p>+<offset>.json``: one rejected record, beside ``topics/``."""
    return "errors/" + object_key(topic, partition, offset).removeprefix("topics/")


def value_line(value: bytes | None) -> bytes:
    """The lake line of a record value; ``ValueError`` for a null value or one that is not JSON."""
    if value is None:
        raise ValueError("null value (tombstone)")
    return lake_line(decode_json(value))


def dead_letter(message: Message, reason: str) -> bytes:
    """The dead-letter object of one record: where it came from, why, and its bytes (base64)."""
    value = message.value()
    document = {
        "topic": message.topic(), "partition": message.partition(), "offset": message.offset(),
        "timestamp": message.timestamp()[1], "error": reason,
        "value_base64": None if value is None else base64.b64encode(value).decode(),
    }
    return lake_line(document)


@dataclass(frozen=True)
class SinkOptions:
    """What to read, where to write, when to close an object."""

    lake_root: str
    topics: tuple[str, ...] = ()
    topics_regex: str | None = None
    group_id: str = "connect-pinterest-s3-sink"
    flush_size: int = 1
    rotate_interval_ms: int | None = None
    rotate_schedule_interval_ms: int | None = None
    until_caught_up: bool = False
    s3_endpoint_url: str | None = None

    def subscription(self) -> list[str]:
        """Topic names, or one regular expression (librdkafka wants a leading ``^``)."""
        if self.topics_regex:
            return [self.topics_regex if self.topics_regex.startswith("^") else f"^{self.topics_regex}"]
        if not self.topics:
            raise ValueError("no topics to consume")
        return list(self.topics)


@dataclass
class SinkStats:
    """What a run wrote."""

    records: int = 0
    objects: int = 0
    dead_letters: Counter = field(default_factory=Counter)

    def line(self) -> str:
        return (f"sink: records={self.records} objects={self.objects} "
                f"dead_letters={sum(self.dead_letters.values())} {dict(self.dead_letters) or ''}").rstrip()


@dataclass
class _Pending:
    """Records of one partition read but not yet in an object."""

    start_offset: int
    first_timestamp_ms: int
    opened_at: float
    next_offset: int = 0
    lines: list[bytes] = field(default_factory=list)


class LakeSink:
    """One consumer of the group, writing objects to ``settings.lake_root``."""

    def __init__(self, settings: SinkOptions, consumer_config: Mapping[str, str],
                 store: ObjectStore | None = None, metrics: SinkMetrics | None = None) -> None:
        if settings.flush_size < 1:
            raise ValueError("flush_size must be at least 1")
        if any(ms is not None and ms < 1 for ms in (settings.rotate_interval_ms, settings.rotate_schedule_interval_ms)):
            raise ValueError("rotate intervals must be at least 1 ms")
        self.settings = settings
        self.store = store or open_store(settings.lake_root, settings.s3_endpoint_url)
        self.config = {**CONSUMER_DEFAULTS, **consumer_config, **CONSUMER_FIXED, "group.id": settings.group_id}
        self.stats = SinkStats()
        self.metrics = metrics if metrics is not None else SinkMetrics()
        self._lag_noted_at = 0.0
        self._stopping = False
        self._assigned: set[Partition] = set()
        self._at_end: set[Partition] = set()
        self._positions: dict[Partition, int] = {}
        self._pending: dict[Partition, _Pending] = {}
        #: Commits refused during a rebalance, retried while their partition stays here (cooperative rebalances
        #: keep most partitions where they are).
        self._refused: dict[Partition, int] = {}
        try:
            self._consumer = Consumer({**self.config, "logger": logger})
        except KafkaException as error:
            raise ValueError(f"invalid Kafka client option (check KAFKA_* variables): {error}") from None

    def stop(self) -> None:
        """Ask the loop to end after the current record (safe from a signal handler)."""
        self._stopping = True

    def run(self) -> SinkStats:
        """Consume until :meth:`stop` (or, with ``until_caught_up``, until every partition is read to its end).

        Call once: the consumer is closed (it leaves the group) when the run ends.
        """
        logger.info("sink from %s to %s", redacted(self.config), self.store)
        try:
            self._consumer.subscribe(self.settings.subscription(), on_assign=self._on_assign,
                                     on_revoke=self._on_revoke, on_lost=self._on_revoke)
            while not self._stopping:
                message = self._consumer.poll(0.2)
                if message is not None:
                    self._handle(message)
                self._rotate_on_schedule()
                self._retry_refused_commits()
                self._note_lag()
                if self.settings.until_caught_up and self._assigned and self._assigned <= self._at_end:
                    for partition in list(self._pending):
                        self._flush(partition)
                    if not self._refused:
                        break
            if self._pending:
                logger.info("stopping: %d uncommitted record(s) will be read again on the next run",
                            sum(len(p.lines) for p in self._pending.values()))
        finally:
            self._consumer.close()
        return self.stats

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        logger.info("assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions) or "nothing")
        self._assigned |= {(tp.topic, tp.partition) for tp in partitions}

    def _note_lag(self, every_s: float = 1.0) -> None:
        """Set the lag gauge of each assigned partition from the cached high watermarks (no broker call)."""
        now = time.monotonic()
        if now - self._lag_noted_at < every_s:
            return
        self._lag_noted_at = now
        for topic, partition in list(self._assigned):
            _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            position = self._positions.get((topic, partition))
            if high >= 0 and position is not None:
                self.metrics.set_lag(topic, partition, max(0, high - position))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Forget what was read from partitions taken away: their next owner reads it again from the commit."""
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self.metrics.forget_partition(tp.topic, tp.partition)
            dropped = self._pending.pop(key, None)
            if dropped:
                logger.info("revoked %s[%d]: %d uncommitted record(s) left to the next owner",
                            tp.topic, tp.partition, len(dropped.lines))
            self._assigned.discard(key)
            self._at_end.discard(key)
            self._positions.pop(key, None)
            self._refused.pop(key, None)

    def _handle(self, message: Message) -> None:
        key = (message.topic(), message.partition())
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                if key not in self._at_end:
                    logger.info("%s[%d] read to its end (offset %d)", key[0], key[1], message.offset())
                self._at_end.add(key)
                self.metrics.set_lag(*key, 0)
                return
            if error.fatal():
                raise KafkaException(error)
            logger.warning("consumer: %s", error)
            return
        offset = message.offset()
        if key not in self._assigned or offset < self._positions.get(key, -1):
            return  # not ours any more, or delivered twice
        self._at_end.discard(key)
        self._positions[key] = offset + 1
        try:
            line = value_line(message.value())
        except ValueError as reason:
            self._reject(message, str(reason))
            return
        timestamp = message.timestamp()[1]
        pending = self._pending.get(key)
        if pending and self._rotates_before(pending, timestamp):
            self._flush(key)
            pending = None
        if pending is None:
            pending = self._pending[key] = _Pending(offset, timestamp, time.monotonic())
        pending.lines.append(line)
        pending.next_offset = offset + 1
        if len(pending.lines) >= self.settings.flush_size:
            self._flush(key)

    def _rotates_before(self, pending: _Pending, timestamp_ms: int) -> bool:
        """True when a record this late closes the pending object first (``rotate.interval.ms``)."""
        interval, first = self.settings.rotate_interval_ms, pending.first_timestamp_ms
        return bool(interval) and first >= 0 and timestamp_ms - first >= interval

    def _reject(self, message: Message, reason: str) -> None:
        """Write the dead-letter object at once; commit past it when nothing is pending before it."""
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        self.store.put(dead_letter_key(topic, partition, offset), dead_letter(message, reason))
        self.stats.dead_letters[topic] += 1
        self.metrics.dead_letter(topic)
        logger.warning("dead letter %s[%d]@%d: %s", topic, partition, offset, reason)
        pending = self._pending.get((topic, partition))
        if pending is not None:
            pending.next_offset = offset + 1
        else:
            self._commit((topic, partition), offset + 1)

    def _rotate_on_schedule(self) -> None:
        interval = self.settings.rotate_schedule_interval_ms
        if not interval:
            return
        now = time.monotonic()
        for key, pending in list(self._pending.items()):
            if (now - pending.opened_at) * 1000 >= interval:
                self._flush(key)

    def _flush(self, key: Partition) -> None:
        """Write the pending records of ``key`` as one object, then commit past them."""
        pending = self._pending.pop(key)
        topic, partition = key
        self.store.put(object_key(topic, partition, pending.start_offset), b"".join(pending.lines))
        self.stats.records += len(pending.lines)
        self.stats.objects += 1
        self.metrics.object_written(topic, len(pending.lines))
        self._commit(key, pending.next_offset)

    def _commit(self, key: Partition, next_offset: int) -> None:
        """Commit synchronously; when a rebalance refuses it, retry it while the partition stays here.

        Refused means the group's generation changed: if the partition moved, the revocation drops the retry
        and its next owner reads again from the last commit, rewriting the same objects under the same names.
        """
        topic, partition = key
        try:
            answers = self._consumer.commit(offsets=[TopicPartition(topic, partition, next_offset)],
                                            asynchronous=False)
            errors = [tp.error for tp in answers or [] if tp.error is not None]
        except KafkaException as exception:
            errors = [exception.args[0]]
        if not errors:
            self._refused.pop(key, None)
            return
        if errors[0].code() not in _LOST_OWNERSHIP:
            raise KafkaException(errors[0])
        if self._refused.get(key) != next_offset:
            logger.warning("commit of %s[%d]@%d refused (%s): retried while the partition stays here", topic,
                           partition, next_offset, errors[0])
        self._refused[key] = next_offset

    def _retry_refused_commits(self) -> None:
        for key, next_offset in list(self._refused.items()):
            self._commit(key, next_offset)
