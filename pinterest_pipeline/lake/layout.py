"""The Confluent S3 sink layout (JsonFormat, DefaultPartitioner): object names and lines (docs/data-contract.md §2)."""
from __future__ import annotations

import re
from typing import Any, NamedTuple

from pinterest_pipeline.contract import encode_json

_OBJECT_NAME = re.compile(r"^(?P<topic>.+)\+(?P<partition>\d+)\+(?P<offset>\d{10,})\.json$")


class ObjectName(NamedTuple):
    """Topic, partition and first offset of one lake object."""

    topic: str
    partition: int
    start_offset: int


def lake_line(value: Any) -> bytes:
    """One line of a lake object: the record value as compact JSON, newline-terminated (``ValueError`` if not JSON)."""
    return encode_json(value) + b"\n"


def object_key(topic: str, partition: int, start_offset: int) -> str:
    """``topics/<topic>/partition=<p>/<topic>+<p>+<startOffset:010d>.json``, relative to the lake root."""
    return f"{topic_prefix(topic)}partition={partition}/{topic}+{partition}+{start_offset:010d}.json"


def topic_prefix(topic: str) -> str:
    """The folder of one topic, relative to the lake root (ends with ``/``)."""
    return f"topics/{topic}/"


def partition_folder(topic: str, partition: int) -> str:
    """The folder of one topic-partition, relative to the lake root (ends with ``/``)."""
    return f"{topic_prefix(topic)}partition={partition}/"


def parse_object_name(name: str) -> ObjectName:
    """Inverse of :func:`object_key` for the file name part; raises ``ValueError`` on other names."""
    match = _OBJECT_NAME.match(name.rsplit("/", 1)[-1])
    if not match:
        raise ValueError(f"not a sink object name: {name!r}")
    return ObjectName(match["topic"], int(match["partition"]), int(match["offset"]))
