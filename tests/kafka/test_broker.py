"""The local broker: helpers that need no JVM, and ``python -m pinterest_pipeline.kafka broker``."""
from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from pinterest_pipeline.contract import KINDS
from pinterest_pipeline.demo.processes import free_port
from pinterest_pipeline.kafka.broker import LocalKafka, new_cluster_id, server_properties


def test_cluster_ids_are_16_bytes_and_never_look_like_an_option() -> None:
    # One id in 64 would start with "-" if drawn naively; the storage tool then fails to parse its arguments.
    ids = [new_cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)


def test_broker_start_creates_the_topics_with_the_partitions_of_the_settings(tmp_path: Path) -> None:
    state = tmp_path / "kafka"
    command = [sys.executable, "-m", "pinterest_pipeline.kafka", "broker"]
    where = ["--state-dir", str(state), "--port", str(free_port()), "--controller-port", str(free_port())]
    env = {**os.environ, "PINTEREST_PARTITIONS": "3", "PINTEREST_PREFIX": "parts"}
    try:
        started = subprocess.run([*command, "start", *where], env=env, capture_output=True, text=True, timeout=180)
        assert started.returncode == 0, started.stderr
        listed = subprocess.run([*command, "topics", "--state-dir", str(state)], capture_output=True, text=True,
                                timeout=60)
    finally:
        LocalKafka(state).stop()
    assert [line.split()[:2] for line in listed.stdout.splitlines()] == [
        [f"parts.{kind}", "partitions=3"] for kind in sorted(KINDS)]


def test_broker_settings_given_replace_the_defaults(tmp_path: Path) -> None:
    properties = server_properties(9092, 9093, tmp_path, {"group.initial.rebalance.delay.ms": "3000"})
    settings = dict(line.split("=", 1) for line in properties.splitlines())
    assert settings["group.initial.rebalance.delay.ms"] == "3000"
    assert properties.count("group.initial.rebalance.delay.ms") == 1
    assert settings["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
