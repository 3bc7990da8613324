"""Where emulated rows go: the gateway's Kafka REST Proxy route or its Kinesis routes."""
from __future__ import annotations

from functools import partial
from typing import Any, Mapping, Protocol, Sequence

import requests

from pinterest_pipeline.contract import MAX_RECORDS_PER_REQUEST, encode_json, stream_name, topic_name
from pinterest_pipeline.emulator.delivery import (
    RESEND,
    AnswerCheck,
    AnswerError,
    DeliveryFailed,
    DeliveryStats,
    RetryPolicy,
    deliver_in_rounds,
    send_with_retry,
)

KAFKA_JSON_V2 = "application/vnd.kafka.json.v2+json"
#: The original streaming emulator's partition key.
DEFAULT_PARTITION_KEY = "partition_1"
#: The REST proxy's per-record ``error_code`` for a retriable Kafka exception (1 is non-retriable).
KAFKA_RETRIABLE_ERROR = 2
#: Kinesis errors worth sending again (throttling, internal failures); any other ``__type`` is final.
KINESIS_RETRIABLE_ERRORS = frozenset({"ProvisionedThroughputExceededException", "InternalFailure",
                                      "ServiceUnavailable", "ServiceUnavailableException",
                                      "KMSThrottlingException", "LimitExceededException"})


class Transport(Protocol):
    """Delivers the rows of one leg (``pin``/``geo``/``user``) and counts the outcome in ``stats``."""

    stats: DeliveryStats

    def send(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def close(self) -> None:
        """Finish what was handed over and release the connections."""


def kafka_offsets_check(count: int) -> AnswerCheck:
    """A REST proxy produce answer must hold one ``offsets`` entry per record sent."""

    def check(answer: Any) -> AnswerError | None:
        offsets = answer.get("offsets") if isinstance(answer, dict) else None
        if not isinstance(offsets, list) or len(offsets) != count or not all(isinstance(o, dict) for o in offsets):
            return AnswerError("unreadable-answer", retriable=False)
        return None

    return check


def kafka_record_outcome(offset: Mapping[str, Any]) -> str | None:
    """One record's fate from its ``offsets`` entry: stored, resend (error_code 2), or failed."""
    code = offset.get("error_code")
    if code is None:
        return None
    return RESEND if code == KAFKA_RETRIABLE_ERROR else f"kafka-error-{code}"


def kinesis_answer_check(expected_field: str, count: int | None = None) -> AnswerCheck:
    """A Kinesis answer is an error when it carries ``__type``, unreadable without ``expected_field``."""

    def check(answer: Any) -> AnswerError | None:
        if not isinstance(answer, dict):
            return AnswerError("unreadable-answer", retriable=False)
        if "__type" in answer:
            code = str(answer["__type"]).rsplit("#", 1)[-1]
            return AnswerError(code, retriable=code in KINESIS_RETRIABLE_ERRORS)
        field = answer.get(expected_field)
        if field is None or (count is not None and (not isinstance(field, list) or len(field) != count)):
            return AnswerError("unreadable-answer", retriable=False)
        return None

    return check


class KafkaRestTransport:
    """``POST <invoke_url>/topics/<prefix>.<kind>`` with a Kafka REST Proxy v2 JSON body."""

    def __init__(self, session: requests.Session, invoke_url: str, prefix: str, policy: RetryPolicy) -> None:
        self.session, self.invoke_url, self.prefix, self.policy = session, invoke_url.rstrip("/"), prefix, policy
        self.stats = DeliveryStats()

    def send(self, kind: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """One request carrying every row; records the answer marks retriable (error_code 2) go again."""
        url = f"{self.invoke_url}/topics/{topic_name(self.prefix, kind)}"

        def send_once(pending: Sequence[Mapping[str, Any]]) -> list[str | None]:
            body = encode_json({"records": [{"value": row} for row in pending]})
            answer = send_with_retry(self.session, "POST", url, body=body, headers={"Content-Type": KAFKA_JSON_V2},
                                     policy=self.policy, on_retry=self._count_retry,
                                     check=kafka_offsets_check(len(pending)))
            return [kafka_record_outcome(offset) for offset in answer["offsets"]]

        deliver_in_rounds(rows, send_once, self.policy, self.stats)

    def close(self) -> None:
        self.session.close()

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
        """PutRecord for a single row, PutRecords in chunks of 500 otherwise; failed entries are resent."""
        stream = stream_name(self.prefix, kind)
        if len(rows) == 1:
            self._put_record(stream, rows[0])
            return
        for start in range(0, len(rows), MAX_RECORDS_PER_REQUEST):
            deliver_in_rounds(rows[start:start + MAX_RECORDS_PER_REQUEST], partial(self._put_records, stream),
                              self.policy, self.stats)

    def _put_record(self, stream: str, row: Mapping[str, Any]) -> None:
        body = encode_json({"StreamName": stream, "Data": row, "PartitionKey": self.partition_key})
        try:
            self._put(f"/streams/{stream}/record", body, kinesis_answer_check("SequenceNumber"))
        except DeliveryFailed as failure:
            self.stats.record_error(failure.reason, 1)
        else:
            self.stats.sent += 1

    def _put_records(self, stream: str, rows: Sequence[Mapping[str, Any]]) -> list[str | None]:
        body = encode_json({"records": [{"data": row, "partition-key": self.partition_key} for row in rows]})
        answer = self._put(f"/streams/{stream}/records", body, kinesis_answer_check("Records", len(rows)))
        return [RESEND if isinstance(result, dict) and result.get("ErrorCode") else None
                for result in answer["Records"]]

    def _put(self, path: str, body: bytes, check: AnswerCheck) -> Any:
        return send_with_retry(self.session, "PUT", self.invoke_url + path, body=body,
                               headers={"Content-Type": "application/json"}, policy=self.policy,
                               on_retry=self._count_retry, check=check)

    def close(self) -> None:
        self.session.close()

    def _count_retry(self) -> None:
        self.stats.retried += 1
