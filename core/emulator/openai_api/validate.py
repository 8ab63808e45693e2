"""A batch's input file, checked the way the Batch API checks it while `validating`.

Every line must be a JSON object `{"custom_id", "method": "POST", "url", "body"}` whose `url`
equals the batch's endpoint; custom_ids are unique; all lines name one model; at most
`max_requests` lines and `max_file_bytes` bytes (the Batch API reference: 50,000 requests,
200 MB); an embeddings batch holds at most 50,000 inputs in all. A file breaking any of
these fails the whole batch with `errors.data` (code, message, param, 1-based line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

#: The Batch API reference's limits on one input file.
MAX_REQUESTS = 50_000
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_EMBEDDING_INPUTS = 50_000
#: The real API stops listing problems after this many (a broken file lists a few, not all).
MAX_ERRORS = 100
CUSTOM_ID_MAX = 512


@dataclass(frozen=True, slots=True)
class Limits:
    max_requests: int = MAX_REQUESTS
    max_file_bytes: int = MAX_FILE_BYTES
    max_embedding_inputs: int = MAX_EMBEDDING_INPUTS


@dataclass(frozen=True, slots=True)
class InputLine:
    line: int  # 1-based
    custom_id: str
    body: dict[str, Any]


def _error(code: str, message: str, line: int | None, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def _embedding_inputs(body: dict[str, Any]) -> int:
    value = body.get("input")
    if isinstance(value, list):
        if value and all(isinstance(v, int) for v in value):
            return 1  # one input given as tokens
        return len(value)
    return 1


def check_file(
    content: bytes, endpoint: str, limits: Limits
) -> tuple[list[InputLine], list[dict[str, Any]], str | None]:
    """(the requests, the file's problems, the one model) — problems empty when valid."""
    errors: list[dict[str, Any]] = []

    def add(code: str, message: str, line: int | None, param: str | None = None) -> None:
        if len(errors) < MAX_ERRORS:
            errors.append(_error(code, message, line, param))

    if len(content) > limits.max_file_bytes:
        add(
            "file_too_large",
            f"The batch input file is larger than the {limits.max_file_bytes} byte limit.",
            None,
        )
        return [], errors, None
    lines: list[InputLine] = []
    seen: dict[str, int] = {}
    model: str | None = None
    model_line = 0
    embedding_inputs = 0
    for number, raw in enumerate(content.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            add("invalid_json_line", "This line is not parseable as valid JSON.", number)
            continue
        if not isinstance(obj, dict):
            add("invalid_request", "Each line must be a JSON object.", number)
            continue
        custom_id = obj.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            add(
                "missing_required_parameter",
                "Missing required parameter: 'custom_id'.",
                number,
                "custom_id",
            )
            continue
        if len(custom_id) > CUSTOM_ID_MAX:
            add(
                "invalid_request",
                f"custom_id is longer than {CUSTOM_ID_MAX} characters.",
                number,
                "custom_id",
            )
            continue
        method = obj.get("method")
        if method != "POST":
            add(
                "invalid_method",
                f"Invalid method: {method!r}. Only POST is supported.",
                number,
                "method",
            )
            continue
        url = obj.get("url")
        if url != endpoint:
            add(
                "mismatched_endpoint",
                f"The URL provided for this request ({url!r}) does not match the batch"
                f" endpoint ({endpoint!r}).",
                number,
                "url",
            )
            continue
        body = obj.get("body")
        if not isinstance(body, dict):
            add("missing_required_parameter", "Missing required parameter: 'body'.", number, "body")
            continue
        if custom_id in seen:
            add(
                "duplicate_custom_id",
                f"The custom_id for this request is a duplicate of line {seen[custom_id]}."
                " The custom_id must be unique for each request in a batch.",
                number,
                "custom_id",
            )
            continue
        seen[custom_id] = number
        this_model = body.get("model")
        if isinstance(this_model, str):
            if model is None:
                model, model_line = this_model, number
            elif this_model != model:
                add(
                    "mismatched_model",
                    f"The model {this_model!r} does not match the model of line {model_line}"
                    f" ({model!r}). A batch input file can only name one model.",
                    number,
                    "body.model",
                )
                continue
        if endpoint == "/v1/embeddings":
            embedding_inputs += _embedding_inputs(body)
        lines.append(InputLine(number, custom_id, body))
    if not lines and not errors:
        add(
            "empty_file",
            "The batch input file is empty. It must contain at least one request.",
            None,
        )
    if len(lines) > limits.max_requests:
        add(
            "too_many_requests",
            f"The batch input file holds {len(lines)} requests; the limit is"
            f" {limits.max_requests}.",
            None,
        )
    if embedding_inputs > limits.max_embedding_inputs:
        add(
            "too_many_embedding_inputs",
            f"The batch holds {embedding_inputs} embedding inputs; the limit is"
            f" {limits.max_embedding_inputs}.",
            None,
        )
    return lines, errors, model
