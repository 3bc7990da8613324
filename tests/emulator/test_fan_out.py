"""``--concurrency``: several keep-alive connections at once, and the records of one row stay in order."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pinterest_pipeline.contract import topic_name
from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.emulator.delivery import RetryPolicy, pooled_session
from pinterest_pipeline.emulator.fan_out import FanOut, row_key
from pinterest_pipeline.emulator.transports import KafkaRestTransport

PREFIX = "124a514b9149"


def test_the_records_of_each_row_arrive_in_the_order_they_were_handed_over(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with GatewayProcess(lake, flush_size=1, extra_args=["--prefix", PREFIX]) as gateway:
        fan_out = FanOut([KafkaRestTransport(pooled_session(), gateway.url, PREFIX, RetryPolicy())
                          for _ in range(4)])
        for step in range(30):  # each row index sent 30 times, interleaved with the others
            fan_out.send("geo", [{"ind": ind, "step": step} for ind in range(12)])
        fan_out.close()
        assert fan_out.stats.sent == 360 and fan_out.stats.failed == 0
    folder = lake / "topics" / topic_name(PREFIX, "geo") / "partition=0"
    stored = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]  # in offset order
    assert len(stored) == 360
    for ind in range(12):
        assert [r["step"] for r in stored if r["ind"] == ind] == list(range(30)), f"row {ind} out of order"


def test_the_row_key_is_the_source_index_of_any_table() -> None:
    assert row_key({"index": 7, "title": "x"}) == 7 and row_key({"ind": 3, "country": "Chad"}) == 3
    with pytest.raises(KeyError):
        row_key({"title": "no index"})
