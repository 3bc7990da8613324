"""The sink's Prometheus metrics: records and objects written, dead letters, consumer lag per partition.

Served by ``python -m pinterest_pipeline.kafka sink --metrics-port N`` on 127.0.0.1 (docs/metrics.md).
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


class SinkMetrics:
    """The counters and gauges of one sink process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter("pinterest_sink_records_written", "Records written to lake objects",
                               ["topic"], registry=self.registry)
        self.objects = Counter("pinterest_sink_objects_written", "Lake objects written",
                               ["topic"], registry=self.registry)
        self.dead_letters = Counter("pinterest_sink_dead_letters", "Records written to errors/ (not JSON, or null)",
                                    ["topic"], registry=self.registry)
        self.lag = Gauge("pinterest_sink_consumer_lag", "Records in the partition not yet read by this sink "
                         "(high watermark minus position, as of the last fetch)",
                         ["topic", "partition"], registry=self.registry)

    def object_written(self, topic: str, records: int) -> None:
        self.records.labels(topic).inc(records)
        self.objects.labels(topic).inc()

    def dead_letter(self, topic: str) -> None:
        self.dead_letters.labels(topic).inc()

    def set_lag(self, topic: str, partition: int, records: int) -> None:
        self.lag.labels(topic, str(partition)).set(records)

    def forget_partition(self, topic: str, partition: int) -> None:
        """Drop the lag of a partition no longer assigned here."""
        try:
            self.lag.remove(topic, str(partition))
        except KeyError:
            pass

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread."""
        start_http_server(port, addr=host, registry=self.registry)
