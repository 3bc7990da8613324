"""A small request is answered while a large one's objects are still being written, and nothing is lost."""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pinterest_pipeline.contract import MAX_RECORDS_PER_REQUEST
from pinterest_pipeline.lake.store import ObjectStore
from pinterest_pipeline.lake.writer import LakeWriter

TOPIC = "124a514b9149.pin"


class GatedStore:
    """An object store whose puts wait until the gate opens (``entered`` tells that one is waiting)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner, self.gate, self.entered = inner, threading.Event(), threading.Event()

    def put(self, key: str, data: bytes) -> None:
        self.entered.set()
        assert self.gate.wait(60), "the gate never opened"
        self.inner.put(key, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_small_request_is_answered_while_a_large_one_is_written(tmp_path: Path) -> None:
    writer = LakeWriter(tmp_path / "lake")
    gated = writer.store = GatedStore(writer.store)
    large = threading.Thread(target=writer.append, args=(TOPIC, [{"ind": i} for i in range(MAX_RECORDS_PER_REQUEST)]))
    large.start()
    assert gated.entered.wait(30), "the large request never started writing objects"
    answers: list[Any] = []
    small = threading.Thread(target=lambda: answers.append(writer.append(TOPIC, [{"ind": -1}])))
    small.start()
    small.join(30)
    try:
        assert not small.is_alive(), "the one-record request waited for the large request's objects"
        assert answers == [[(0, MAX_RECORDS_PER_REQUEST)]] and large.is_alive()
    finally:
        gated.gate.set()
        large.join(60)
        writer.close()
    objects = sorted((tmp_path / "lake" / "topics" / TOPIC / "partition=0").glob("*.json"))
    values = [json.loads(path.read_text()) for path in objects]
    assert values == [{"ind": i} for i in range(MAX_RECORDS_PER_REQUEST)] + [{"ind": -1}]
