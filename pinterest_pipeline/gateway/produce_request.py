"""Reading a v2 produce request (JSON embedded format) and rejecting, whole, any body it cannot use.

Checks run in the proxy's order: the JSON must parse (else 400), have the request's shape (else 400, as
Jackson's mapping errors), then satisfy the constraints (else 422, as bean validation). One deviation: the
proxy would produce a null ``value`` as a tombstone; the lake stores values alone, so a record without a value
is refused (422) instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pinterest_pipeline.contract import MAX_RECORDS_PER_REQUEST, decode_json
from pinterest_pipeline.gateway.errors import RestError

REQUEST_FIELDS = frozenset({"records", "key_schema", "key_schema_id", "value_schema", "value_schema_id"})
RECORD_FIELDS = frozenset({"key", "value", "partition"})


@dataclass(frozen=True)
class ProduceRequest:
    """The records of one request: their values, the partition each asks for (None = any), and their keys
    (None = no key)."""

    values: list[Any]
    partitions: list[int | None]
    keys: list[Any]


def bad_request(message: str) -> RestError:
    return RestError(400, 400, message)


def unprocessable(message: str) -> RestError:
    return RestError(422, 422, message)


def load_json(body: bytes) -> Any:
    """The parsed body, or a 400 error (JSON only: no NaN or Infinity)."""
    try:
        return decode_json(body)
    except ValueError as error:
        raise bad_request(f"Malformed JSON: {error}") from None


def _check_shape(document: Any) -> None:
    """Mapping errors: what could not become a produce request at all."""
    if not isinstance(document, dict):
        raise bad_request("The request body must be a JSON object with a \"records\" array.")
    unknown = sorted(set(document) - REQUEST_FIELDS)
    if unknown:
        raise bad_request(f"Unrecognized field \"{unknown[0]}\" of the produce request.")
    records = document.get("records")
    if records is not None and not isinstance(records, list):
        raise bad_request("\"records\" must be a JSON array.")
    for index, record in enumerate(records or []):
        if not isinstance(record, dict):
            raise bad_request(f"records[{index}] must be a JSON object.")
        unknown = sorted(set(record) - RECORD_FIELDS)
        if unknown:
            raise bad_request(f"Unrecognized field \"{unknown[0]}\" in records[{index}].")
        partition = record.get("partition")
        if partition is not None and (isinstance(partition, bool) or not isinstance(partition, int)):
            raise bad_request(f"records[{index}].partition must be an integer.")


def _check_constraints(records: list[dict[str, Any]] | None) -> None:
    """Constraint violations of a well-formed request."""
    if not records:
        raise unprocessable("records must not be empty")
    if len(records) > MAX_RECORDS_PER_REQUEST:
        raise unprocessable(f"records holds {len(records)} records; at most {MAX_RECORDS_PER_REQUEST} per request")
    for index, record in enumerate(records):
        partition = record.get("partition")
        if partition is not None and partition < 0:
            raise unprocessable(f"records[{index}].partition must be greater than or equal to 0")
        if record.get("value") is None:
            raise unprocessable(f"records[{index}].value must not be null: the lake stores record values")


def parse_produce_request(body: bytes) -> ProduceRequest:
    """The request in ``body``, or a :class:`RestError` (400 / 422) naming the first problem."""
    document = load_json(body)
    _check_shape(document)
    records = document.get("records")
    _check_constraints(records)
    return ProduceRequest([r["value"] for r in records], [r.get("partition") for r in records],
                          [r.get("key") for r in records])
