"""Writing lake objects the way the Confluent S3 sink does, from generated source rows (tests and bench)."""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pinterest_pipeline.contract import KINDS, SOURCE_TABLE_BY_KIND, encode_json, topic_name
from pinterest_pipeline.lake.layout import object_key
from pinterest_pipeline.source.generator import generate_rows

#: Lines that are not a usable record (the bytes of a lake line), one per kind of damage: cut short, not JSON,
#: no key, a field of the wrong type, not UTF-8, a number that is not finite (not JSON, or beyond a double).
MALFORMED_LINES: dict[str, Sequence[bytes]] = {
    "pin": (b'{"index": 17, "unique_id": "abc", "title": "cut sho', b"this is not json at all", b'{"title": "no key"}',
            b'{"index": 18, "title": "caf\xe9 in Latin-1"}', b'{"index": 19, "downloaded": NaN}'),
    "geo": (b'{"ind": 3, "timestamp": "2019-01-0', b"<html>502 Bad Gateway</html>",
            b'{"ind": 5, "latitude": NaN, "longitude": 1.5}', b'{"ind": 6, "latitude": 1.5, "longitude": -Infinity}',
            b'{"ind": 7, "latitude": 1e999, "longitude": 1.5}', b'{"ind": 8, "country": "Cuba", "note": Infinity}'),
    "user": (b'{"ind": 4, "first_name": "Ann", "age": "old"}', b'["an", "array"]', b'{"ind": 9, "x": "\xff\xfe"}',
             b'{"ind": 10, "age": 1e999}', b'{"ind": 11, "first_name": "Ren\xe9'),
}


#: Edits of a source row between two sends of it, per kind, used in turn: after cleansing, some make the
#: repeat the smaller row (a NULL, an earlier value), others the larger one.
EDITS: dict[str, Sequence[dict[str, Any]]] = {
    "pin": ({"follower_count": "1.5M"}, {"title": "No Title Data Available"}, {"category": "art", "poster_name": ""},
            {"unique_id": "00000000-0000-4000-8000-000000000000"}, {"description": "Untitled", "tag_list": "new,tags"}),
    "geo": ({"country": "Aaland"}, {"timestamp": "2030-01-01 00:00:00"}, {"latitude": 0.0, "longitude": -0.5}),
    "user": ({"age": 99}, {"first_name": "Aaron"}, {"date_joined": "2015-01-01 00:00:00", "last_name": "Zz"}),
}


def sampled_rows(distinct: int, sent: int, seed: int = 100, edited: int = 0) -> dict[str, list[dict[str, Any]]]:
    """``sent`` records per kind whose index is drawn with replacement from ``0..distinct-1`` (like the
    emulator), the same index for the three kinds, so repeats exist; then ``edited`` more per kind that repeat
    an index already sent with other values (:data:`EDITS`): repeated records of one ``ind`` that differ."""
    rows = generate_rows(0, distinct, seed)
    draw = random.Random(seed)
    indices = [draw.randint(0, distinct - 1) for _ in range(sent)]
    again = list(dict.fromkeys(indices))[:edited]
    sent: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        source = rows[SOURCE_TABLE_BY_KIND[kind]]
        edits = EDITS[kind]
        sent[kind] = [source[i] for i in indices]
        sent[kind] += [{**source[i], **edits[n % len(edits)]} for n, i in enumerate(again)]
    return sent


def write_topic(
    lake_root: Path,
    topic: str,
    rows: Sequence[Mapping[str, Any]],
    flush_size: int,
    single_record_objects: int = 0,
    partitions: int = 1,
    extra_lines: Sequence[bytes] = (),
    first_offset: int = 0,
) -> int:
    """Write ``rows`` as sink objects (round-robin over ``partitions``; the first ``single_record_objects``
    records of each partition one per object, like ``flush.size=1``); ``extra_lines`` go into the first
    object of partition 0; offsets start at ``first_offset``. Returns the number of objects written."""
    objects = 0
    for partition in range(partitions):
        lines = [encode_json(row) for row in rows[partition::partitions]]
        cuts = [*range(min(single_record_objects, len(lines))),
                *range(min(single_record_objects, len(lines)), len(lines), flush_size), len(lines)]
        for first, (start, end) in enumerate(zip(cuts, cuts[1:])):
            chunk = lines[start:end]
            if partition == 0 and first == 0:
                chunk = chunk[:1] + list(extra_lines) + chunk[1:]
            path = lake_root / object_key(topic, partition, first_offset + start)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\n".join(chunk) + b"\n")
            objects += 1
    return objects


def write_lake(
    lake_root: Path,
    prefix: str,
    rows_by_kind: Mapping[str, Sequence[Mapping[str, Any]]],
    flush_size: int,
    single_record_objects: int = 0,
    partitions: int = 1,
    malformed: Mapping[str, Sequence[bytes]] | None = None,
) -> dict[str, int]:
    """Every kind's rows under ``<lake_root>/topics/<prefix>.<kind>/``; objects written per kind."""
    malformed = malformed or {}
    return {
        kind: write_topic(lake_root, topic_name(prefix, kind), rows, flush_size, single_record_objects,
                          partitions, malformed.get(kind, ()))
        for kind, rows in rows_by_kind.items()
    }


def write_generated_lake(root: Path, prefix: str, rows: int, flush_size: int, first_row: int = 0,
                         offsets: Mapping[str, int] | None = None, repeated_share: float = 0.05) -> dict[str, int]:
    """Generated rows ``first_row`` .. ``first_row + rows - 1`` of each kind as sink objects of ``flush_size``
    records, chunk by chunk (memory stays flat), each chunk's first ``repeated_share`` sent again (at-least-once
    delivery); offsets continue from ``offsets`` (kind → next offset). Returns the next offset of each kind."""
    following = {kind: (offsets or {}).get(kind, 0) for kind in KINDS}
    for start in range(first_row, first_row + rows, flush_size):
        chunk = generate_rows(start, min(flush_size, first_row + rows - start))
        for kind in KINDS:
            records = chunk[SOURCE_TABLE_BY_KIND[kind]]
            records = records + records[: int(len(records) * repeated_share)]
            write_topic(root, topic_name(prefix, kind), records, flush_size=len(records), first_offset=following[kind])
            following[kind] += len(records)
    return following
