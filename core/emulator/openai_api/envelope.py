"""OpenAI's error envelope: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..envelope import json_response

_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "requests",
    500: "server_error",
    503: "server_error",
    504: "server_error",
}


class OpenAIFailure(Exception):
    """Raised by handlers to answer with OpenAI's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind or _STATUS_TYPES.get(status, "invalid_request_error")
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }


def missing(param: str) -> OpenAIFailure:
    return OpenAIFailure(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def invalid_value(
    param: str, value: object, allowed: tuple[str, ...] | None = None
) -> OpenAIFailure:
    message = f"Invalid value: '{value}'."
    if allowed:
        message += " Supported values are: " + ", ".join(f"'{a}'" for a in allowed) + "."
    return OpenAIFailure(400, message, param=param, code="invalid_value")


def error_response(failure: OpenAIFailure) -> web.Response:
    return json_response(failure.body(), failure.status, failure.headers)
