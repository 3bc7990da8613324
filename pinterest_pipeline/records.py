"""Turning source rows into the JSON the wire carries (datetimes as ``str()``, like the original)."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping


def jsonable_value(value: Any) -> Any:
    """A JSON-ready value: datetimes as ``'2018-06-26 02:39:25'``, decimals as floats."""
    if isinstance(value, (datetime, date)):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def jsonable_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``row`` with every value JSON-ready."""
    return {column: jsonable_value(value) for column, value in row.items()}


def dumps_row(row: Mapping[str, Any]) -> str:
    """One row as compact JSON (one line of a lake object)."""
    return json.dumps(jsonable_row(row), separators=(",", ":"), ensure_ascii=False)
