"""The real API's error envelope and JSON responses."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class ApiFailure(Exception):
    """Raised by handlers to answer with the real API's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind or _STATUS_TYPES.get(status, "invalid_request_error")
        self.headers = headers or {}


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def error_response(failure: ApiFailure, request_id: str) -> web.Response:
    body = {
        "type": "error",
        "error": {"type": failure.kind, "message": failure.message, "details": None},
        "request_id": request_id,
    }
    return json_response(body, failure.status, failure.headers)
