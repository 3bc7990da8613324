"""Render an API Gateway mapping template (Velocity) with airspeed and the few ``$input`` / ``$util`` functions the
stack's templates use, modelled on API Gateway's documented behaviour:

- ``$input.params(name)``: the request's path parameter ``name``;
- ``$input.path(jsonpath)``: the selected value as an object (a missing one as the empty string, which is what
  the original's CreateStream template compares with); booleans print as Java does (``true``);
- ``$input.json(jsonpath)``: the selected value as compact JSON text (a string keeps its quotes);
- ``$util.base64Encode(text)``: Base64 of the text's UTF-8 bytes.

JSONPath here is the subset the templates use: ``$``, ``.name``, ``[index]`` and ``['name']``.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any, Mapping

import airspeed

_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['([^']*)'\]")
_MISSING = object()


def select(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``, or ``_MISSING``."""
    if not path.startswith("$"):
        raise ValueError(f"not a JSONPath: {path!r}")
    position, value = 1, document
    while position < len(path):
        step = _STEP.match(path, position)
        if step is None:
            raise ValueError(f"unsupported JSONPath step in {path!r} at {position}")
        name, index, quoted = step.groups()
        if index is not None:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
        else:
            key = name if name is not None else quoted
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
        position = step.end()
    return value


class Input:
    """``$input`` of one request."""

    def __init__(self, body: Any, path_parameters: Mapping[str, str]) -> None:
        self._body, self._path_parameters = body, dict(path_parameters)

    def params(self, name: str) -> str:
        return self._path_parameters.get(name, "")

    def path(self, path: str) -> Any:
        value = select(self._body, path)
        if value is _MISSING or value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return value

    def json(self, path: str) -> str:
        value = select(self._body, path)
        return json.dumps(None if value is _MISSING else value, ensure_ascii=False, separators=(",", ":"))


class Util:
    """``$util``."""

    @staticmethod
    def base64Encode(text: Any) -> str:  # noqa: N802 (API Gateway's name)
        return base64.b64encode(str(text).encode("utf-8")).decode("ascii")


def render(template: str, body: Any, path_parameters: Mapping[str, str]) -> str:
    """The integration request body API Gateway would send for a request with this JSON ``body``."""
    return airspeed.Template(template).merge({"input": Input(body, path_parameters), "util": Util()})
