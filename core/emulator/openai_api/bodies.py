"""Each request's fate and reply: chat completions, responses and embeddings bodies shaped
like the real ones (the API reference's objects, usage included), deterministic per seed.

Prompt caching (OpenAI's prompt caching guide: prompts of 1,024 tokens or more, hits in
128-token steps; the SDK's usage types): a request whose prefix (instructions and every
message or input item but the last) another request of the same batch sent before reads it
from the cache (`cached_tokens`); the first one writes it, and a model that bills cache
writes (GPT-5.6 and later) reports that (`cache_write_tokens`, 30-minute retention). With
`prompt_cache_options.mode = "explicit"` and no `prompt_cache_breakpoint` in the request,
nothing is cached.

A request the endpoint would refuse (no model, an unknown model, a missing required field,
a value out of range) becomes an error-file line whose `response` carries the status and
OpenAI's error body, with `error: null` — what the Batch API writes for a request that
failed with an HTTP error.
"""

from __future__ import annotations

import base64
import math
import random
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from ..behaviour import block_text, estimate_tokens, reply_text
from ..config import Rule
from ..ids import base58, digest
from . import models

Kind = Literal["completed", "failed", "unprocessed"]

_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "api_error": 500,
    "server_error": 500,
    "overloaded_error": 503,
}


@dataclass(frozen=True, slots=True)
class Reply:
    """A decided request: `body` is None for a request never processed (scripted expiry)."""

    kind: Kind
    status_code: int
    body: dict[str, Any] | None
    delay_s: float
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # of input_tokens, read from the prompt cache


class RequestProblem(Exception):
    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": param,
                "code": code,
            }
        }


def object_id(prefix: str, seed: int, batch_id: str, custom_id: str) -> str:
    return prefix + base58(digest(prefix, seed, batch_id, custom_id), 22)


def hex_id(*parts: object) -> str:
    return digest(*parts).hex()[:32]


def _turns(items: Any) -> tuple[str, str]:
    """(all the text, the last user turn's text) of chat messages or responses input items."""
    texts: list[str] = []
    last_user = ""
    if isinstance(items, str):
        return items, items
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                text = block_text(item.get("content"))
                texts.append(text)
                if item.get("role") == "user":
                    last_user = text
    return "\n".join(texts), last_user


def _int_param(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RequestProblem(
            400,
            f"Invalid '{name}': integer below minimum value. Expected a value >= 1,"
            f" but got {value!r} instead.",
            name,
            "integer_below_min_value",
        )
    return value


def _model(body: dict[str, Any], endpoint: str) -> models.OpenAIModel:
    name = body.get("model")
    if not isinstance(name, str) or not name:
        raise RequestProblem(400, "You must provide a model parameter.", "model")
    info = models.lookup(name)
    if info is None:
        raise RequestProblem(
            404,
            f"The model `{name}` does not exist or you do not have access to it.",
            "model",
            "model_not_found",
        )
    wanted = "embedding" if endpoint == "/v1/embeddings" else "text"
    if info.kind != wanted:
        raise RequestProblem(
            400,
            f"The model `{name}` is not supported on {endpoint}.",
            "model",
            "model_not_supported",
        )
    return info


def _logprobs(content: str | None, body: dict[str, Any]) -> dict[str, Any]:
    """`choices[].logprobs` when asked for (`logprobs: true`, `top_logprobs` 0-20): one
    entry per word of the reply, a deterministic log probability from the word."""
    top = _int_param(body, "top_logprobs") or 0
    entries = []
    for n, word in enumerate((content or "").split(" ")):
        token = word if n == 0 else " " + word
        logprob = -(int(hex_id("lp", token)[:4], 16) % 5000) / 1000
        alternatives = [{"token": token, "logprob": logprob, "bytes": list(token.encode())}] + [
            {"token": f"{token}{k}", "logprob": logprob - k, "bytes": list(f"{token}{k}".encode())}
            for k in range(1, top)
        ]
        entries.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": alternatives[:top],
            }
        )
    return {"content": entries, "refusal": None}


def _reasoning_tokens(info: models.OpenAIModel, custom_id: str, seed: int) -> int:
    if not info.id.startswith(("gpt-5", "gpt-6", "o")):
        return 0
    return 64 * (1 + zlib.crc32(f"{seed}\x1f{custom_id}".encode()) % 4)


CACHE_MIN_TOKENS = 1024
CACHE_STEP_TOKENS = 128


def _has_breakpoint(value: Any) -> bool:
    if isinstance(value, dict):
        return "prompt_cache_breakpoint" in value or any(_has_breakpoint(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_breakpoint(v) for v in value)
    return False


class Synthesizer:
    """Decides every request's outcome: rules first, then the endpoint's checks."""

    def __init__(self, rules: list[Rule], seed: int, endpoint: str, batch_id: str) -> None:
        self.seed = seed
        self.endpoint = endpoint
        self.batch_id = batch_id
        self._rules = [(re.compile(r.pattern), r) for r in rules]
        self._cached: set[bytes] = set()  # prompt prefixes written to the cache in this batch

    def _cache(
        self, info: models.OpenAIModel, body: dict[str, Any], prefix: str, prompt: int
    ) -> tuple[int, int]:
        """(cached tokens, tokens written to the cache) of a request whose prompt starts with
        `prefix`, in the order the batch's requests run."""
        tokens = min(estimate_tokens(prefix), prompt) // CACHE_STEP_TOKENS * CACHE_STEP_TOKENS
        if tokens < CACHE_MIN_TOKENS:
            return 0, 0
        options = body.get("prompt_cache_options")
        if (
            isinstance(options, dict)
            and options.get("mode") == "explicit"
            and not _has_breakpoint(body)
        ):
            return 0, 0
        key = digest("cache", info.id, prefix)
        if key in self._cached:
            return tokens, 0
        self._cached.add(key)
        return 0, tokens if info.cache_writes else 0

    def _rule(self, custom_id: str) -> Rule | None:
        for regex, rule in self._rules:
            if regex.search(custom_id):
                return rule
        return None

    def reply(self, custom_id: str, body: dict[str, Any], created_s: int) -> Reply:
        rule = self._rule(custom_id) if self._rules else None
        delay = (rule.delay_s or 0.0) if rule else 0.0
        if rule is not None and rule.outcome in ("canceled", "expired"):
            return Reply("unprocessed", 0, None, delay)
        if rule is not None and rule.outcome == "errored":
            kind = rule.error_type or "server_error"
            status = _ERROR_STATUS.get(kind, 500)
            message = rule.error_message or "The server had an error processing your request."
            error = {"message": message, "type": kind, "param": None, "code": None}
            return Reply("failed", status, {"error": error}, delay)
        try:
            info = _model(body, self.endpoint)
            if self.endpoint == "/v1/embeddings":
                return self._embeddings(custom_id, body, info, delay)
            text = rule.text if rule is not None else None
            stop = rule.stop_reason if rule is not None else None
            if self.endpoint == "/v1/chat/completions":
                return self._chat(custom_id, body, info, created_s, delay, text, stop)
            return self._responses(custom_id, body, info, created_s, delay, text, stop)
        except RequestProblem as problem:
            return Reply("failed", problem.status, problem.body, delay)

    # --- chat completions --------------------------------------------------------------------

    def _chat(
        self,
        custom_id: str,
        body: dict[str, Any],
        info: models.OpenAIModel,
        created_s: int,
        delay: float,
        text: str | None,
        stop: str | None,
    ) -> Reply:
        messages = body.get("messages")
        if messages is None:
            raise RequestProblem(
                400,
                "Missing required parameter: 'messages'.",
                "messages",
                "missing_required_parameter",
            )
        if not isinstance(messages, list) or not messages:
            raise RequestProblem(
                400,
                "Invalid 'messages': empty array. Expected an array with minimum length 1.",
                "messages",
                "empty_array",
            )
        limit = _int_param(body, "max_completion_tokens") or _int_param(body, "max_tokens")
        if limit is not None and info.max_output_tokens and limit > info.max_output_tokens:
            raise RequestProblem(
                400,
                f"max_tokens is too large: {limit}. This model supports at most"
                f" {info.max_output_tokens} completion tokens.",
                "max_tokens",
                "invalid_value",
            )
        n = _int_param(body, "n") or 1
        full, last_user = _turns(messages)
        reasoning = _reasoning_tokens(info, custom_id, self.seed)
        choices = []
        completion = 0
        for index in range(n):
            reply = (
                text
                if text is not None
                else reply_text(f"{custom_id}#{index}", last_user, self.seed)
            )
            tokens = max(1, estimate_tokens(reply))
            finish = "stop"
            refusal = None
            content: str | None = reply
            if stop == "refusal":
                refusal, content = "I'm sorry, I can't help with that.", None
            elif stop in ("max_tokens", "length") or (limit is not None and tokens > limit):
                cap = min(limit or tokens, max(1, tokens // 2) if stop else tokens)
                content = reply[: cap * 4]
                tokens, finish = cap, "length"
            completion += tokens
            choices.append(
                {
                    "index": index,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "refusal": refusal,
                        "annotations": [],
                    },
                    "logprobs": _logprobs(content, body) if body.get("logprobs") is True else None,
                    "finish_reason": finish,
                }
            )
        prompt = max(1, estimate_tokens(full))
        cached, written = self._cache(info, body, _turns(messages[:-1])[0], prompt)
        prompt_details: dict[str, int] = {"cached_tokens": cached, "audio_tokens": 0}
        if info.cache_writes:
            prompt_details["cache_write_tokens"] = written
        out = {
            "id": object_id("chatcmpl-", self.seed, self.batch_id, custom_id),
            "object": "chat.completion",
            "created": created_s,
            "model": info.id,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion + reasoning,
                "total_tokens": prompt + completion + reasoning,
                "prompt_tokens_details": prompt_details,
                "completion_tokens_details": {
                    "reasoning_tokens": reasoning,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            },
            "service_tier": "default",
            "system_fingerprint": "fp_" + hex_id("fp", info.id)[:10],
        }
        return Reply("completed", 200, out, delay, prompt, completion + reasoning, cached)

    # --- responses -----------------------------------------------------------------------

    def _responses(
        self,
        custom_id: str,
        body: dict[str, Any],
        info: models.OpenAIModel,
        created_s: int,
        delay: float,
        text: str | None,
        stop: str | None,
    ) -> Reply:
        items = body.get("input")
        if items is None:
            raise RequestProblem(
                400, "Missing required parameter: 'input'.", "input", "missing_required_parameter"
            )
        limit = _int_param(body, "max_output_tokens")
        full, last_user = _turns(items)
        instructions = body.get("instructions")
        if isinstance(instructions, str):
            full = instructions + "\n" + full
        reply = text if text is not None else reply_text(custom_id, last_user, self.seed)
        tokens = max(1, estimate_tokens(reply))
        reasoning = _reasoning_tokens(info, custom_id, self.seed)
        status, incomplete = "completed", None
        part: dict[str, Any] = {
            "type": "output_text",
            "text": reply,
            "annotations": [],
            "logprobs": [],
        }
        if stop == "refusal":
            part = {"type": "refusal", "refusal": "I'm sorry, I can't help with that."}
        elif stop in ("max_tokens", "length") or (limit is not None and tokens + reasoning > limit):
            cap = max(1, (limit or tokens) - reasoning) if limit else max(1, tokens // 2)
            part["text"] = reply[: cap * 4]
            tokens = cap
            status, incomplete = "incomplete", {"reason": "max_output_tokens"}
        output: list[dict[str, Any]] = []
        if reasoning:
            output.append(
                {
                    "id": object_id("rs_", self.seed, self.batch_id, custom_id),
                    "type": "reasoning",
                    "summary": [],
                }
            )
        output.append(
            {
                "id": object_id("msg_", self.seed, self.batch_id, custom_id),
                "type": "message",
                "status": status,
                "role": "assistant",
                "content": [part],
            }
        )
        prompt = max(1, estimate_tokens(full))
        prefix = _turns(items[:-1])[0] if isinstance(items, list) else ""
        if isinstance(instructions, str):
            prefix = instructions + "\n" + prefix
        cached, written = self._cache(info, body, prefix, prompt)
        input_details: dict[str, Any] = {"cached_tokens": cached, "cache_write_tokens": written}
        if info.cache_writes:
            input_details["cache_write_tokens_details"] = {
                "ttl_30m_tokens": written,
                "ttl_12h_tokens": 0,
            }
        out = {
            "id": object_id("resp_", self.seed, self.batch_id, custom_id),
            "object": "response",
            "created_at": created_s,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": incomplete,
            "instructions": instructions if isinstance(instructions, str) else None,
            "max_output_tokens": limit,
            "model": info.id,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": "medium" if reasoning else None, "summary": None},
            "service_tier": "default",
            "store": False,
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": {
                "input_tokens": prompt,
                "input_tokens_details": input_details,
                "output_tokens": tokens + reasoning,
                "output_tokens_details": {"reasoning_tokens": reasoning},
                "total_tokens": prompt + tokens + reasoning,
            },
            "user": None,
            "metadata": body.get("metadata") or {},
        }
        return Reply("completed", 200, out, delay, prompt, tokens + reasoning, cached)

    # --- embeddings ----------------------------------------------------------------------

    def _embeddings(
        self, custom_id: str, body: dict[str, Any], info: models.OpenAIModel, delay: float
    ) -> Reply:
        raw = body.get("input")
        if raw is None:
            raise RequestProblem(
                400, "Missing required parameter: 'input'.", "input", "missing_required_parameter"
            )
        inputs: list[Any]
        if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
            inputs = [raw]
        elif isinstance(raw, list) and raw:
            inputs = raw
        else:
            raise RequestProblem(
                400, "'$.input' is invalid. Please check the API reference.", "input"
            )
        dims = info.dimensions or 1536
        asked = body.get("dimensions")
        if asked is not None:
            if not info.custom_dimensions:
                raise RequestProblem(
                    400, "This model does not support specifying dimensions.", "dimensions"
                )
            if not isinstance(asked, int) or isinstance(asked, bool) or not 1 <= asked <= dims:
                raise RequestProblem(
                    400,
                    f"Invalid 'dimensions': expected a value between 1 and {dims}.",
                    "dimensions",
                    "invalid_value",
                )
            dims = asked
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        tokens = 0
        for index, item in enumerate(inputs):
            text = item if isinstance(item, str) else " ".join(map(str, item))
            tokens += len(item) if isinstance(item, list) else max(1, estimate_tokens(text))
            vector = embedding(text, info.id, dims, self.seed)
            value: Any = vector
            if as_base64:
                value = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": value})
        out = {
            "object": "list",
            "data": data,
            "model": info.id,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Reply("completed", 200, out, delay, tokens, 0)


def embedding(text: str, model: str, dims: int, seed: int) -> list[float]:
    """A unit vector determined by (text, model, seed): same input, same vector."""
    rng = random.Random(digest("embedding", seed, model, text))
    values = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 8) for v in values]
