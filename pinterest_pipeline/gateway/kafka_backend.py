"""The gateway backend that produces to a real Kafka (local broker, MSK): the REST proxy's own job.

Every record is produced as compact JSON by an idempotent producer with ``acks=all``; ``produce`` waits for
the delivery reports and answers the partition and offset the broker assigned to each record. Where a record
goes, as behind the Confluent REST proxy (whose Java producer uses Kafka's default partitioner): the partition it
names; else, with a key (serialised as compact JSON, as the proxy's JSON embedded format does), murmur2 of the
key bytes modulo the partition count (librdkafka's ``murmur2_random`` partitioner, the Java client's hash); else
a sticky partition, switched every ``sticky.partitioning.linger.ms``, so keyless records spread over the topic.
Timeouts are short so that a request fails fast (5xx) when the broker is away, and the client retries.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from pinterest_pipeline.config import Settings
from pinterest_pipeline.contract import encode_json
from pinterest_pipeline.kafka.client_config import client_config, redacted

logger = logging.getLogger(__name__)

#: Producer defaults; any of them can be overridden by ``KAFKA_*`` variables or the properties file.
PRODUCER_DEFAULTS: dict[str, str] = {
    "enable.idempotence": "true",
    "acks": "all",
    "message.timeout.ms": "10000",
    "socket.connection.setup.timeout.ms": "5000",
    "reconnect.backoff.max.ms": "1000",
    "allow.auto.create.topics": "false",
    #: The Java client's partitioner: keyed records land where Kafka's own producers put them.
    "partitioner": "murmur2_random",
}
#: Longest wait for the topic list (the cached list serves while the broker is away).
METADATA_TIMEOUT_S = 3.0
#: Extra wait beyond ``message.timeout.ms`` for the delivery reports (they are due by then).
REPORT_GRACE_S = 5.0
_UNKNOWN_TOPIC_CODES = frozenset({KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC})


class UnknownTopic(LookupError):
    """The topic does not exist in the cluster (the REST proxy's 404 40401)."""


class KafkaUnavailable(RuntimeError):
    """The broker could not be reached or did not acknowledge the records in time (a 5xx for the client)."""


class _Deliveries:
    """Delivery reports of one request, filled by librdkafka callbacks on whichever thread polls."""

    def __init__(self, count: int) -> None:
        self.offsets: list[tuple[int, int] | None] = [None] * count
        self.errors: list[KafkaError] = []
        self.pending = count
        self._lock = threading.Lock()

    def callback(self, index: int) -> Callable[[KafkaError | None, Message], None]:
        def report(error: KafkaError | None, message: Message) -> None:
            with self._lock:
                if error is not None:
                    self.errors.append(error)
                else:
                    self.offsets[index] = (message.partition(), message.offset())
                self.pending -= 1

        return report


def one_per_record(items: Sequence[Any] | None, count: int, what: str) -> list[Any]:
    """``items`` as a list of ``count`` (all None when not given); ``ValueError`` for another length."""
    chosen = list(items) if items is not None else [None] * count
    if len(chosen) != count:
        raise ValueError(f"one {what} (or None) per record expected")
    return chosen


class KafkaBackend:
    """A :class:`~pinterest_pipeline.gateway.backend.RecordBackend` producing to Kafka; thread-safe."""

    def __init__(self, config: Mapping[str, str]) -> None:
        self.config = {**PRODUCER_DEFAULTS, **config}
        self._message_timeout_s = int(self.config["message.timeout.ms"]) / 1000
        self._lock = threading.Lock()
        self._fatal: KafkaError | None = None
        self._producer = self._new_producer()
        self._topics: dict[str, int] = {}
        logger.info("producing to Kafka with %s", redacted(self.config))

    def __repr__(self) -> str:
        return f"KafkaBackend({self.config['bootstrap.servers']!r})"

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> "KafkaBackend":
        """A backend for ``settings.kafka_bootstrap_servers`` plus the ``KAFKA_*`` options of the environment."""
        return cls(client_config(settings.kafka_bootstrap_servers, environ))

    def _new_producer(self) -> Producer:
        try:
            return Producer({**self.config, "error_cb": self._on_error, "logger": logger})
        except KafkaException as error:
            raise ValueError(f"invalid Kafka client option (check KAFKA_* variables): {error}") from None

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fatal = error
        logger.warning("Kafka client: %s", error)

    def _current_producer(self) -> Producer:
        """The producer; a new one after a fatal error (an idempotent producer cannot go on after one)."""
        with self._lock:
            if self._fatal is not None:
                logger.error("replacing the Kafka producer after a fatal error: %s", self._fatal)
                self._fatal = None
                self._producer.flush(0)
                self._producer = self._new_producer()
            return self._producer

    def _refresh_topics(self) -> dict[str, int]:
        """Partitions of each non-internal topic, asked afresh; the last answer while the broker is away."""
        try:
            metadata = self._current_producer().list_topics(timeout=METADATA_TIMEOUT_S)
        except KafkaException as error:
            if not self._topics:
                raise KafkaUnavailable(f"no metadata from {self.config['bootstrap.servers']}: {error}") from None
            logger.warning("topic list from cache: %s", error)
            return self._topics
        self._topics = {name: len(topic.partitions) for name, topic in metadata.topics.items()
                        if topic.error is None and not name.startswith("__")}
        return self._topics

    def topics(self) -> list[str]:
        """The cluster's topics, asked afresh (a topic created a moment ago is there)."""
        return sorted(self._refresh_topics())

    def partition_count(self, topic: str) -> int:
        """Partitions of ``topic`` (cached; asked again for a topic not seen yet)."""
        counts = self._topics if topic in self._topics else self._refresh_topics()
        if topic not in counts:
            raise UnknownTopic(topic)
        return counts[topic]

    def produce(
        self, topic: str, values: list[Any], partitions: Sequence[int | None] | None = None,
        keys: Sequence[Any] | None = None,
    ) -> list[tuple[int, int]]:
        """Produce ``values`` to ``topic``; ``(partition, offset)`` of each, once the broker acknowledged all.

        ``ValueError``: a value or key is not JSON (nothing produced); :class:`UnknownTopic`, also for a topic
        deleted since it was listed (its records time out, and the cluster no longer lists it);
        :class:`KafkaUnavailable` when a record was not acknowledged within ``message.timeout.ms`` (some others
        may have been).
        """
        payloads = [encode_json(value) for value in values]
        chosen = one_per_record(partitions, len(payloads), "partition")
        key_bytes = [None if key is None else encode_json(key) for key in one_per_record(keys, len(payloads), "key")]
        self.partition_count(topic)
        producer = self._current_producer()
        deliveries = _Deliveries(len(payloads))
        deadline = time.monotonic() + self._message_timeout_s + REPORT_GRACE_S
        for index, (payload, partition, key) in enumerate(zip(payloads, chosen, key_bytes)):
            extra: dict[str, Any] = {} if partition is None else {"partition": partition}
            if key is not None:
                extra["key"] = key
            self._enqueue(producer, topic, payload, deliveries.callback(index), extra, deadline)
        while deliveries.pending and time.monotonic() < deadline:
            producer.poll(0.05)
        try:
            return self._answer(topic, deliveries)
        except KafkaUnavailable:
            if topic not in self._refresh_topics():  # the broker answers, without the topic: it was deleted
                raise UnknownTopic(topic) from None
            raise

    @staticmethod
    def _enqueue(producer: Producer, topic: str, payload: bytes, report: Callable[[KafkaError | None, Message], None],
                 extra: dict[str, Any], deadline: float) -> None:
        while True:
            try:
                producer.produce(topic, payload, on_delivery=report, **extra)
                return
            except BufferError:  # the local queue is full: serve reports until there is room
                if time.monotonic() > deadline:
                    raise KafkaUnavailable("the producer queue stayed full") from None
                producer.poll(0.05)
            except KafkaException as error:
                if error.args[0].code() in _UNKNOWN_TOPIC_CODES:
                    raise UnknownTopic(topic) from None
                raise KafkaUnavailable(str(error)) from None

    @staticmethod
    def _answer(topic: str, deliveries: _Deliveries) -> list[tuple[int, int]]:
        if any(error.code() in _UNKNOWN_TOPIC_CODES for error in deliveries.errors):
            raise UnknownTopic(topic)
        if deliveries.errors:
            raise KafkaUnavailable(f"{len(deliveries.errors)} record(s) not delivered: {deliveries.errors[0].str()}")
        if deliveries.pending:
            raise KafkaUnavailable(f"{deliveries.pending} delivery report(s) still missing")
        return [offset for offset in deliveries.offsets if offset is not None]

    def problems(self) -> dict[str, str]:
        """``{"kafka": reason}`` when the cluster does not answer a metadata request, else empty."""
        try:
            self._current_producer().list_topics(timeout=METADATA_TIMEOUT_S)
        except KafkaException as error:
            return {"kafka": f"no metadata from {self.config['bootstrap.servers']}: {error}"}
        return {}

    def close(self) -> None:
        """Deliver what is queued (up to ``message.timeout.ms``)."""
        left = self._producer.flush(self._message_timeout_s)
        if left:
            logger.error("%d record(s) not delivered at shutdown", left)
