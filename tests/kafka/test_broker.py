"""The local broker's helpers that need no JVM."""
from __future__ import annotations

import base64

from pinterest_pipeline.kafka.broker import new_cluster_id


def test_cluster_ids_are_16_bytes_and_never_look_like_an_option() -> None:
    # One id in 64 would start with "-" if drawn naively; the storage tool then fails to parse its arguments.
    ids = [new_cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
