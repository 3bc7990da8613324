"""The sink's ``/metrics`` (a sink process against the real broker): records, objects, dead letters, lag."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from pinterest_pipeline.contract import KINDS, topic_name
from pinterest_pipeline.demo.processes import free_port, stop_process
from pinterest_pipeline.gateway.kafka_backend import KafkaBackend
from pinterest_pipeline.kafka.broker import LocalKafka
from pinterest_pipeline.kafka.client_config import client_config
from tests.support.kafka_broker import new_topics, unique_name

ROWS = 10


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    answer = requests.get(url, timeout=5)
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def test_sink_metrics_count_what_it_wrote_and_its_lag_drops_to_zero(kafka_broker: LocalKafka, tmp_path: Path) -> None:
    prefix = unique_name("metrics")
    topics = new_topics(kafka_broker, [topic_name(prefix, kind) for kind in KINDS], 2)
    backend = KafkaBackend(client_config(kafka_broker.bootstrap_servers))
    try:
        for topic in topics:
            backend.produce(topic, [{"ind": i} for i in range(ROWS)], [i % 2 for i in range(ROWS)])
    finally:
        backend.close()
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    producer.produce(topics[0], b"{not json", partition=0)
    assert producer.flush(10) == 0
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "pinterest_pipeline.kafka", "sink", "--bootstrap-servers",
                             kafka_broker.bootstrap_servers, "--prefix", prefix, "--lake-root", str(tmp_path / "lake"),
                             "--group-id", unique_name("group"), "--metrics-port", str(port), "--log-level", "warning"])
    try:
        url, wanted = f"http://127.0.0.1:{port}/metrics", ("pinterest_sink_records_written_total",
                                                           frozenset({("topic", topics[-1])}))
        deadline, metrics = time.monotonic() + 60, {}
        while time.monotonic() < deadline and metrics.get(wanted) != ROWS:
            try:
                metrics = scrape(url)
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        lags = {}
        while time.monotonic() < deadline and (len(lags) < 6 or any(lags.values())):
            lags = {k: v for k, v in scrape(url).items() if k[0] == "pinterest_sink_consumer_lag"}
            time.sleep(0.2)
        metrics = scrape(url)
    finally:
        stop_process(sink)
    for topic in topics:
        assert metrics[("pinterest_sink_records_written_total", frozenset({("topic", topic)}))] == ROWS
        assert metrics[("pinterest_sink_objects_written_total", frozenset({("topic", topic)}))] == ROWS
    assert metrics[("pinterest_sink_dead_letters_total", frozenset({("topic", topics[0])}))] == 1
    assert len(lags) == 6 and not any(lags.values()), lags
