"""One line of an OpenAI batch output or error file, read as a neutral result.

batchtop keeps OpenAI's lines as they came (the results file, the index's raw line, the
JSONL export: logprobs, every choice, `system_fingerprint` and the error file's lines stay
byte for byte); the index and the viewer read them through `neutral_result`, which gives
the Message Batches result shape (`{"custom_id", "result": {"type", "message" | "error"}}`):
- a 2xx response is `succeeded`: chat completions (the first choice's text, refusal and
  tool calls), responses (output text, reasoning summary, function calls) and embeddings
  (`embedding: <dimensions> dimensions, norm <L2 norm>`: the numbers themselves are not
  copied) become a message with content blocks, a stop reason and a usage; which of them
  a body is, its `object` says (`chat.completion`, `response`, `list`);
- any other status or an `error` is `errored` with OpenAI's error code and message, except
  the requests a batch never ran: `batch_expired` is `expired`, `batch_cancelled` `canceled`.

Stop reasons are OpenAI's own, shown as they came: a chat completion's `finish_reason` (stop,
length, tool_calls, content_filter; `refusal` when its message refused), a response's
`status` (completed) or, when incomplete, its `incomplete_details.reason`
(max_output_tokens, content_filter; `refusal` for a refusal part), none for embeddings.
The rules that go by a neutral stop reason (a retry of the cuts and the refusals, a refusal's
export) read them through `neutral_stop`: length / max_output_tokens are a `max_tokens` cut,
content_filter a `refusal` (`NEUTRAL_STOPS`, the one mapping). Usage: input tokens are
those neither read from nor written to the prompt cache, as in the neutral shape
(`cache_read_input_tokens` the cached ones, `cache_creation_input_tokens` the written ones,
split in `cache_creation` by retention: OpenAI's 30-minute writes as `ephemeral_5m`, its
12-hour ones as `ephemeral_1h`, the two write prices of prices.toml); OpenAI's
`prompt_tokens` / `input_tokens` count all three.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

NEUTRAL_STOPS = {
    "length": "max_tokens",
    "max_output_tokens": "max_tokens",
    "content_filter": "refusal",
}
"""OpenAI's stop reasons that mean a neutral one (a cut at the output budget, a refusal);
every other word means itself (none of OpenAI's is a Message Batches one)."""


def neutral_stop(reason: str | None) -> str | None:
    """The neutral stop reason of a stored one (`length` → `max_tokens`, `content_filter`
    → `refusal`); a Message Batches reason, or any other, as it is."""
    return NEUTRAL_STOPS.get(reason, reason) if reason is not None else None


def stops_meaning(neutral: str) -> tuple[str, ...]:
    """Every stored stop reason that means `neutral` (itself first): what a filter on it
    matches."""
    return (neutral, *(own for own, means in NEUTRAL_STOPS.items() if means == neutral))


_NOT_RUN = {"batch_expired": "expired", "batch_cancelled": "canceled"}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _usage(prompt: int, output: int, details: Any = None) -> dict[str, Any]:
    """The neutral usage of OpenAI's counts: `details` is the prompt's breakdown
    (`prompt_tokens_details` / `input_tokens_details`)."""
    details = details if isinstance(details, dict) else {}
    cached = min(_int(details.get("cached_tokens")), prompt)
    written = min(_int(details.get("cache_write_tokens")), prompt - cached)
    by_ttl = details.get("cache_write_tokens_details")
    long_ttl = 0
    if isinstance(by_ttl, dict):
        long_ttl = min(_int(by_ttl.get("ttl_12h_tokens")), written)
    usage: dict[str, Any] = {
        "input_tokens": prompt - cached - written,
        "output_tokens": output,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
    }
    if written:
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": written - long_ttl,
            "ephemeral_1h_input_tokens": long_ttl,
        }
    return usage


def _tool_use(ident: Any, name: Any, arguments: Any) -> dict[str, Any]:
    try:
        value = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        value = {"arguments": arguments}
    return {"type": "tool_use", "id": str(ident or ""), "name": str(name or ""), "input": value}


def _chat(body: dict[str, Any]) -> dict[str, Any]:
    choices = body.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        content.append({"type": "text", "text": refusal})
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        content.append(_tool_use(call.get("id"), fn.get("name"), fn.get("arguments")))
    usage = body.get("usage") or {}
    finish = choice.get("finish_reason")
    reason = "refusal" if refusal else finish if isinstance(finish, str) and finish else None
    return {
        "content": content,
        "stop_reason": reason,
        "usage": _usage(
            _int(usage.get("prompt_tokens")),
            _int(usage.get("completion_tokens")),
            usage.get("prompt_tokens_details"),
        ),
    }


def _response(body: dict[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    refused = False
    for item in body.get("output") or []:
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or []:
                if part.get("type") == "output_text":
                    content.append({"type": "text", "text": str(part.get("text") or "")})
                elif part.get("type") == "refusal":
                    refused = True
                    content.append({"type": "text", "text": str(part.get("refusal") or "")})
        elif kind == "reasoning":
            summary = " ".join(
                str(s.get("text") or "") for s in item.get("summary") or [] if isinstance(s, dict)
            )
            if summary:
                content.append({"type": "thinking", "thinking": summary})
        elif kind == "function_call":
            content.append(_tool_use(item.get("call_id"), item.get("name"), item.get("arguments")))
    usage = body.get("usage") or {}
    status = body.get("status")
    why = (body.get("incomplete_details") or {}).get("reason")
    reason: str | None
    if refused:
        reason = "refusal"
    elif status == "incomplete" and isinstance(why, str) and why:
        reason = why
    else:
        reason = status if isinstance(status, str) and status else None
    return {
        "content": content,
        "stop_reason": reason,
        "usage": _usage(
            _int(usage.get("input_tokens")),
            _int(usage.get("output_tokens")),
            usage.get("input_tokens_details"),
        ),
    }


def embedding_summary(vector: Any) -> str:
    """`embedding: 1,536 dimensions, norm 1.0000` (or base64: its size only)."""
    if isinstance(vector, list):
        norm = math.sqrt(sum(float(x) * float(x) for x in vector if isinstance(x, int | float)))
        return f"embedding: {len(vector):,} dimensions, norm {norm:.4f}"
    if isinstance(vector, str):
        return f"embedding: base64, {len(vector):,} characters"
    return "embedding: none"


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    items = [d for d in body.get("data") or [] if isinstance(d, dict)]
    text = "\n".join(embedding_summary(d.get("embedding")) for d in items)
    usage = body.get("usage") or {}
    return {
        "content": [{"type": "text", "text": text}],
        "stop_reason": None,  # an embedding does not stop: it has no stop reason
        "usage": _usage(_int(usage.get("prompt_tokens")), 0),
    }


def _message(body: dict[str, Any], endpoint: str) -> dict[str, Any]:
    kind = body.get("object")
    if kind == "response" or (kind is None and endpoint.endswith("/responses")):
        shape = _response(body)
    elif kind == "list" or (kind is None and endpoint.endswith("/embeddings")):
        shape = _embeddings(body)
    else:
        shape = _chat(body)
    return {
        "id": str(body.get("id") or ""),
        "type": "message",
        "role": "assistant",
        "model": body.get("model"),
        **shape,
    }


def _error(error: Any, status: int | None) -> dict[str, Any]:
    if not isinstance(error, dict):
        error = {}
    code = error.get("code") or error.get("type") or (f"http_{status}" if status else "error")
    message = error.get("message") or ""
    return {"type": "error", "error": {"type": str(code), "message": str(message)}}


def is_openai_line(obj: Any) -> bool:
    """An OpenAI output or error line (`response` and/or `error`, no neutral `result`)."""
    return (
        isinstance(obj, dict)
        and "result" not in obj
        and ("response" in obj or "error" in obj)
        and isinstance(obj.get("custom_id"), str)
    )


def neutral_result(obj: dict[str, Any], endpoint: str = "") -> dict[str, Any]:
    """The neutral result (`{"custom_id", "result"}`) of a parsed OpenAI line (see
    `is_openai_line`); `endpoint` only decides a body that does not say what it is."""
    response = obj.get("response") if isinstance(obj.get("response"), dict) else None
    status = _int(response.get("status_code")) if response else None
    body = response.get("body") if response else None
    error = obj.get("error")
    result: dict[str, Any]
    if error is None and status is not None and 200 <= status < 300 and isinstance(body, dict):
        result = {"type": "succeeded", "message": _message(body, endpoint)}
    else:
        if error is None and isinstance(body, dict):
            error = body.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        kind = _NOT_RUN.get(str(code))
        result = (
            {"type": kind}
            if kind is not None
            else {"type": "errored", "error": _error(error, status)}
        )
    return {"custom_id": obj["custom_id"], "result": result}


def as_neutral(obj: Any) -> Any:
    """A parsed results line in the neutral shape: OpenAI's converted, others as they are."""
    return neutral_result(obj) if is_openai_line(obj) else obj
