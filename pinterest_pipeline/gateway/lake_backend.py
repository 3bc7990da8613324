"""The gateway backend that writes the lake directly: the Confluent S3 sink's output, without a Kafka in between."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from pinterest_pipeline.config import Settings
from pinterest_pipeline.lake.partition_log import JournalObserver
from pinterest_pipeline.lake.writer import LakeWriter


class LakeBackend:
    """A :class:`~pinterest_pipeline.gateway.backend.RecordBackend` over a :class:`LakeWriter`, for fixed topics."""

    def __init__(self, writer: LakeWriter, topics: Iterable[str]) -> None:
        self.writer, self._topics = writer, tuple(topics)

    def __repr__(self) -> str:
        return f"LakeBackend({self.writer!r}, topics={list(self._topics)})"

    @classmethod
    def from_settings(cls, settings: Settings, on_journal_write: JournalObserver | None = None) -> "LakeBackend":
        """The lake writer the settings describe, serving ``settings.topic_names``."""
        rotate_ms = settings.rotate_interval_ms
        writer = LakeWriter(
            settings.lake_root,
            flush_size=settings.flush_size,
            partitions=settings.partitions,
            rotate_interval_s=rotate_ms / 1000 if rotate_ms else None,
            flush_on_close=settings.flush_on_close,
            state_dir=settings.state_dir,
            endpoint_url=settings.s3_endpoint_url,
            topics=settings.topic_names,
            on_journal_write=on_journal_write,
        )
        return cls(writer, settings.topic_names)

    def produce(
        self, topic: str, values: list[Any], partitions: Sequence[int | None] | None = None,
        keys: Sequence[Any] | None = None,
    ) -> list[tuple[int, int]]:
        """Append to the lake; keys place nothing here (the lake stores values alone, the writer picks the
        partition of a record that names none)."""
        return self.writer.append(topic, values, partitions)

    def topics(self) -> list[str]:
        return list(self._topics)

    def partition_count(self, topic: str) -> int:
        return self.writer.partitions

    def problems(self) -> dict[str, str]:
        return self.writer.problems()

    def close(self) -> None:
        self.writer.close()
