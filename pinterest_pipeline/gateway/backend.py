"""What the gateway needs from whatever stores the records: the lake writer, or a real Kafka."""
from __future__ import annotations

from typing import Any, Protocol, Sequence


class RecordBackend(Protocol):
    """Stores the records of the produce API.

    ``produce`` stores every record and returns ``(partition, offset)`` for each, in order, or raises:
    ``ValueError`` for records it cannot take (the client's fault, nothing stored), ``LookupError`` for a topic
    that does not exist, anything else for its own failure. It may be called from several threads at once.
    """

    def produce(
        self, topic: str, values: list[Any], partitions: Sequence[int | None] | None = None,
        keys: Sequence[Any] | None = None,
    ) -> list[tuple[int, int]]:
        """Store ``values`` in ``topic``; ``partitions`` optionally names one partition (or None) per record,
        ``keys`` one key (any JSON value, or None) per record."""
        ...

    def topics(self) -> list[str]:
        """Names of the topics one can produce to."""
        ...

    def partition_count(self, topic: str) -> int:
        """Number of partitions of an existing topic."""
        ...

    def problems(self) -> dict[str, str]:
        """What keeps it from storing records now (part → reason); empty when healthy."""
        ...

    def close(self) -> None:
        """Finish pending work and release resources (called once, at shutdown)."""
        ...
