"""The API key check of API Gateway: ``x-api-key`` required, 403 ``{"message":"Forbidden"}`` otherwise."""
from __future__ import annotations

import hmac
from typing import Iterable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

API_KEY_HEADER = "x-api-key"


class ApiKeyMiddleware:
    """Answers 403 to HTTP requests without the right key, except on ``open_paths``. Never logs the key."""

    def __init__(self, app: ASGIApp, api_key: str, open_paths: Iterable[str] = ("/health",)) -> None:
        if not api_key:
            raise ValueError("an empty API key would let everyone in")
        self.app, self._expected = app, api_key.encode("utf-8")
        self.open_paths = frozenset(open_paths)

    def __repr__(self) -> str:
        return f"ApiKeyMiddleware(open_paths={sorted(self.open_paths)})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.open_paths:
            supplied = Headers(scope=scope).get(API_KEY_HEADER, "").encode("latin-1")
            if not hmac.compare_digest(supplied, self._expected):
                forbidden = JSONResponse({"message": "Forbidden"}, 403,
                                         headers={"x-amzn-ErrorType": "ForbiddenException"})
                await forbidden(scope, receive, send)
                return
        await self.app(scope, receive, send)
