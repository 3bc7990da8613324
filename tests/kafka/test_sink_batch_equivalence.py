"""The batch job gives the same answers over the Kafka path's lake (gateway → broker → sink) as over the
embedded path's lake (gateway → lake writer), for the same emulated rows."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pinterest_pipeline.batch import run_batch
from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.demo.processes import GatewayProcess
from pinterest_pipeline.kafka.broker import LocalKafka
from tests.support import REPO_ROOT
from tests.support.kafka_broker import new_topics, run_sink, unique_name

REPO = REPO_ROOT
pytestmark = pytest.mark.spark


def emulate(url: str, source_url: str, prefix: str) -> None:
    command = [sys.executable, str(REPO / "user_posting_emulation.py"), "--invoke-url", url, "--no-progress",
               "--db-url", source_url, "--prefix", prefix, "--count", "300", "--rate", "0", "--batch-size", "25",
               "--seed", "21"]
    subprocess.run(command, check=True, capture_output=True, timeout=300)


def test_insights_over_sink_lake_equal_embedded_lake(kafka_broker: LocalKafka, spark, source_url: str,
                                                     tmp_path: Path) -> None:
    prefix = unique_name("equiv")
    topics = new_topics(kafka_broker, [topic_name(prefix, kind) for kind in KINDS])
    with GatewayProcess(tmp_path / "unused", extra_args=["--prefix", prefix],
                        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers}) as gateway:
        emulate(gateway.url, source_url, prefix)
    run_sink(kafka_broker, tmp_path / "sink_lake", topics, unique_name("equiv-sink-"), flush_size=50)
    with GatewayProcess(tmp_path / "embedded_lake", flush_size=50,
                        extra_args=["--prefix", prefix, "--flush-on-close"]) as gateway:
        emulate(gateway.url, source_url, prefix)

    via_kafka = run_batch(spark, str(tmp_path / "sink_lake"), prefix, str(tmp_path / "wh_kafka"))
    embedded = run_batch(spark, str(tmp_path / "embedded_lake"), prefix, str(tmp_path / "wh_embedded"))

    assert via_kafka.counts == embedded.counts
    assert via_kafka.counts["pin"]["good"] == 300
    assert via_kafka.cleaned_rows == embedded.cleaned_rows
    assert via_kafka.insights.keys() == embedded.insights.keys()
    for name, frame in embedded.insights.items():
        pd.testing.assert_frame_equal(via_kafka.insights[name], frame, check_dtype=False, obj=name)
