"""Where emulated rows go: the gateway's Kafka REST Proxy route or its Kinesis routes."""
from __future__ import annotations

import time
from typing import Any, Mapping, Protocol, Sequence

import requests

from pinterest_pipeline.contract import encode_json, stream_name, topic_name
from pinterest_pipeline.emulator.delivery import DeliveryFailed, DeliveryStats, RetryPolicy, send_with_retry

KAFKA_JSON_V2 = "application/vnd.kafka.json.v2+json"
#: The original streaming emulator's partition key.
DEFAULT_PARTITION_KEY = "partition_1"
#: Kinesis PutRecords takes at most this many records per call.
MAX_PUT_RECORDS = 500


class Transport(Protocol):
    """Delivers the rows of one leg (``pin``/``geo``/``user``) and counts the outcome in ``stats``."""

    stats: DeliveryStats

    def send(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None: ...


class KafkaRestTransport:
    """``POST <invoke_url>/topics/<prefix>.<kind>`` with a Kafka REST Proxy v2 JSON body."""

    def __init__(self, session: requests.Session, invoke_url: str, prefix: str, policy: RetryPolicy) -> None:
        self.session, self.invoke_url, self.prefix, self.policy = session, invoke_url.rstrip("/"), prefix, policy
        self.stats = DeliveryStats()

    def send(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """One request carrying every row as a record; all-or-nothing, as the REST proxy answers."""
        body = encode_json({"records": [{"value": row} for row in rows]})
        url = f"{self.invoke_url}/topics/{topic_name(self.prefix, kind)}"
        try:
            send_with_retry(self.session, "POST", url, body=body, headers={"Content-Type": KAFKA_JSON_V2},
                            policy=self.policy, on_retry=self._count_retry)
        except DeliveryFailed as failure:
            self.stats.record_error(failure.reason, len(rows))
        else:
            self.stats.sent += len(rows)

    def _count_retry(self) -> None:
        self.stats.retried += 1


class KinesisTransport:
    """``PUT <invoke_url>/streams/<stream>/record`` (one row) or ``/records`` (PutRecords, ≤ 500 rows)."""

    def __init__(self, session: requests.Session, invoke_url: str, prefix: str, policy: RetryPolicy,
                 partition_key: str = DEFAULT_PARTITION_KEY) -> None:
        self.session, self.invoke_url, self.prefix, self.policy = session, invoke_url.rstrip("/"), prefix, policy
        self.partition_key = partition_key
        self.stats = DeliveryStats()

    def send(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """PutRecord for a single row, PutRecords in chunks of 500 otherwise; failed entries are retried."""
        stream = stream_name(self.prefix, kind)
        if len(rows) == 1:
            self._put_record(stream, rows[0])
            return
        for start in range(0, len(rows), MAX_PUT_RECORDS):
            self._put_records(stream, list(rows[start:start + MAX_PUT_RECORDS]))

    def _put_record(self, stream: str, row: Mapping[str, Any]) -> None:
        body = encode_json({"StreamName": stream, "Data": row, "PartitionKey": self.partition_key})
        try:
            self._put(f"/streams/{stream}/record", body)
        except DeliveryFailed as failure:
            self.stats.record_error(failure.reason, 1)
        else:
            self.stats.sent += 1

    def _put_records(self, stream: str, rows: list[Mapping[str, Any]]) -> None:
        pending = rows
        for attempt in range(self.policy.max_attempts):
            body = encode_json({"records": [{"data": row, "partition-key": self.partition_key}
                                        for row in pending]})
            try:
                answer = self._put(f"/streams/{stream}/records", body)
            except DeliveryFailed as failure:
                self.stats.record_error(failure.reason, len(pending))
                return
            results = answer.get("Records", [])
            failed = [row for row, result in zip(pending, results) if result.get("ErrorCode")]
            self.stats.sent += len(pending) - len(failed)
            if not failed:
                return
            pending = failed
            if attempt + 1 < self.policy.max_attempts:
                self.stats.retried += 1
                time.sleep(self.policy.delay(attempt))
        self.stats.record_error("put-records-failed", len(pending))

    def _put(self, path: str, body: bytes) -> Any:
        return send_with_retry(self.session, "PUT", self.invoke_url + path, body=body,
                               headers={"Content-Type": "application/json"}, policy=self.policy,
                               on_retry=self._count_retry)

    def _count_retry(self) -> None:
        self.stats.retried += 1
