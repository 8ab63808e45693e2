"""What the emulated API decides: create-time validation, per-request outcomes, replies.

Everything here is pure (no I/O, no clock) and deterministic for a given seed, so demos
and tests are reproducible.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from . import catalog, ids, shapes
from .config import Rule

CUSTOM_ID_PATTERN = "^[a-zA-Z0-9_-]{1,64}$"
_CUSTOM_ID_RE = re.compile(r"[a-zA-Z0-9_-]+")


class CreateError(Exception):
    """A create-time validation failure: the whole batch is refused with a 400."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The fate of one request: its kind, its pre-serialized result line and extra delay."""

    kind: str
    line: bytes | None
    delay_s: float = 0.0


def validate_requests(body: Any, max_requests: int) -> list[tuple[str, Any]]:
    """Check the top level exactly like the real API; return (custom_id, params) pairs."""
    if not isinstance(body, dict):
        raise CreateError("Input should be a valid dictionary")
    if "requests" not in body:
        raise CreateError("requests: Field required")
    requests = body["requests"]
    if not isinstance(requests, list):
        raise CreateError("requests: Input should be a valid list")
    n = len(requests)
    if n == 0:
        raise CreateError("requests: List should have at least 1 item after validation, not 0")
    if n > max_requests:
        raise CreateError(
            f"requests: List should have at most {max_requests} items after validation, not {n}"
        )
    seen: set[str] = set()
    out: list[tuple[str, Any]] = []
    fullmatch = _CUSTOM_ID_RE.fullmatch
    for i, item in enumerate(requests):
        if not isinstance(item, dict):
            raise CreateError(f"requests.{i}: Input should be a valid dictionary")
        cid = item.get("custom_id")
        if cid is None and "custom_id" not in item:
            raise CreateError(f"requests.{i}.custom_id: Field required")
        if not isinstance(cid, str):
            raise CreateError(f"requests.{i}.custom_id: Input should be a valid string")
        if len(cid) > 64:
            raise CreateError(f"requests.{i}.custom_id: String should have at most 64 characters")
        if not cid:
            raise CreateError(f"requests.{i}.custom_id: String should have at least 1 character")
        if fullmatch(cid) is None:
            raise CreateError(
                f"requests.{i}.custom_id: String should match pattern '{CUSTOM_ID_PATTERN}'"
            )
        if "params" not in item:
            raise CreateError(f"requests.{i}.params: Field required")
        params = item["params"]
        if not isinstance(params, dict):
            raise CreateError(f"requests.{i}.params: Input should be a valid dictionary")
        out.append((cid, params))
    for cid, _ in out:
        if cid in seen:
            raise CreateError(
                "requests: custom_id's must be unique within a batch. "
                f"Duplicate custom_id found: {cid}"
            )
        seen.add(cid)
    return out


# --- per-request validation (deferred: becomes an `errored` line) -----------------------


def request_problem(params: dict[str, Any]) -> tuple[str, str] | None:
    """The (error type, message) the real API reports for this request after processing."""
    messages = params.get("messages")
    if "messages" not in params:
        return "invalid_request_error", "messages: Field required"
    if not isinstance(messages, list):
        return "invalid_request_error", "messages: Input should be a valid list"
    if not messages:
        return (
            "invalid_request_error",
            "messages: List should have at least 1 item after validation, not 0",
        )
    if "model" not in params:
        return "invalid_request_error", "model: Field required"
    if "max_tokens" not in params:
        return "invalid_request_error", "max_tokens: Field required"
    model = params["model"]
    if not isinstance(model, str):
        return "invalid_request_error", "model: Input should be a valid string"
    max_tokens = params["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        return "invalid_request_error", "max_tokens: Input should be a valid integer"
    if max_tokens < 1:
        return "invalid_request_error", "max_tokens: must be greater than or equal to 1"
    if params.get("stream") is True:
        return "invalid_request_error", '"stream=True" is not supported in the Message Batches API'
    extra = next((k for k in params if k not in PARAM_KEYS), None)
    if extra is not None:
        return "invalid_request_error", f"{extra}: Extra inputs are not permitted"
    if "speed" in params:
        return "invalid_request_error", '"speed" is not supported in the Message Batches API'
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return "invalid_request_error", f"messages.{i}: Input should be a valid dictionary"
        if message.get("role") not in ("user", "assistant"):
            return (
                "invalid_request_error",
                f"messages.{i}.role: Input should be 'user' or 'assistant'",
            )
    info = catalog.lookup(model)
    if info is None or info.lifecycle == "retired":
        return "not_found_error", f"model: {model}"
    if info.max_tokens is not None and max_tokens > info.max_tokens:
        return (
            "invalid_request_error",
            f"max_tokens: {max_tokens} > {info.max_tokens}, which is the maximum "
            f"allowed number of output tokens for {info.id}",
        )
    refused = shapes.request_error(params, info)
    if refused is not None:
        return "invalid_request_error", refused
    return None


#: The Messages API's request fields (SDK 2.x `MessageCreateParamsNonStreaming`, plus the
#: sampling parameters older models still accept); anything else is "Extra inputs".
PARAM_KEYS = frozenset(
    {
        "model", "max_tokens", "messages", "system", "tools", "tool_choice", "thinking",
        "output_config", "metadata", "stop_sequences", "cache_control", "container",
        "diagnostics", "inference_geo", "service_tier", "speed", "user_profile_id",
        "workspace_id", "stream", "temperature", "top_p", "top_k", "context_management",
        "mcp_servers",
    }
)  # fmt: skip


# --- replies -----------------------------------------------------------------------------


def block_text(content: Any) -> str:
    """The text of a string or of a list of text blocks/parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return ""


def prompt_texts(params: dict[str, Any]) -> tuple[str, str]:
    """(all text the model would read, the last user turn's text)."""
    texts: list[str] = []
    system = params.get("system")
    if system is not None:
        texts.append(block_text(system))
    last_user = ""
    messages = params.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                text = block_text(message.get("content"))
                texts.append(text)
                if message.get("role") == "user":
                    last_user = text
    return "\n".join(texts), last_user


def estimate_tokens(text: str) -> int:
    """chars/4, at least 1 for non-empty text (the same heuristic batchtop's pricing uses)."""
    return math.ceil(len(text) / 4) if text else 0


def count_tokens(params: dict[str, Any]) -> int:
    full, _ = prompt_texts(params)
    tools = params.get("tools")
    extra = len(orjson.dumps(tools)) if isinstance(tools, list) and tools else 0
    return max(1, estimate_tokens(full) + math.ceil(extra / 4))


_CLOSERS = (
    "The main point is stated clearly and needs no further detail.",
    "In short, the request is straightforward and the answer follows directly from it.",
    "It reads as a focused question with one central theme.",
    "Overall the input is concise; the key idea is summarised above.",
    "Nothing in it is ambiguous, so a brief answer suffices.",
    "The tone is neutral and the intent is easy to follow.",
)


# every (first closer, count) combination, joined once: replies are built per request
_CLOSER_TEXTS = tuple(
    tuple(" ".join(_CLOSERS[(first + k) % len(_CLOSERS)] for k in range(n)) for n in (1, 2, 3))
    for first in range(len(_CLOSERS))
)


def reply_text(custom_id: str, last_user: str, seed: int) -> str:
    """A short, summary-like reply mentioning the prompt's first words."""
    words = last_user.split(maxsplit=8)
    head = " ".join(words[:8])
    n_words = len(words) if len(words) <= 8 else len(last_user.split())
    if len(words) > 8:
        head += " …"
    pick = zlib.crc32(f"{seed}\x1f{custom_id}".encode())
    closers = _CLOSER_TEXTS[pick % len(_CLOSERS)][pick % 3]
    if not head:
        return f"The request contained no text to summarise. {closers}"
    return f'Summary of "{head}": a {n_words}-word request. {closers}'


def _error_line(custom_id: str, error_type: str, message: str) -> bytes:
    return orjson.dumps(
        {
            "custom_id": custom_id,
            "result": {
                "type": "errored",
                "error": {
                    "type": "error",
                    "error": {
                        "details": {"error_visibility": "user_facing"},
                        "type": error_type,
                        "message": message,
                    },
                    "request_id": None,
                },
            },
        }
    )


def _succeeded_line(
    custom_id: str,
    params: dict[str, Any],
    batch_id: str,
    seed: int,
    text: str | None,
    state: shapes.ShapeState | None = None,
    forced_stop: str | None = None,
) -> bytes:
    full, last_user = prompt_texts(params)
    if text is None:
        text = reply_text(custom_id, last_user, seed)
    model = params.get("model")
    info = catalog.lookup(model) if isinstance(model, str) else None
    window = info.max_input_tokens if info is not None else None
    near_window = window is not None and estimate_tokens(full) + len(text) // 4 > window
    if forced_stop is not None or near_window or not shapes.is_plain(params, info):
        tools = params.get("tools")
        prompt = full + (orjson.dumps(tools).decode() if isinstance(tools, list) else "")
        msg = shapes.message(
            custom_id=custom_id,
            params=params,
            info=info,
            message_id=ids.message_id(seed, batch_id, custom_id),
            model=info.id if info else str(model),
            prompt=prompt,
            last_user=last_user,
            reply=text,
            seed=seed,
            state=state if state is not None else shapes.ShapeState(),
            forced_stop=forced_stop,
        )
        return orjson.dumps(
            {"custom_id": custom_id, "result": {"type": "succeeded", "message": msg}}
        )
    max_tokens: Any = params.get("max_tokens")
    output_tokens = max(1, estimate_tokens(text))
    stop_reason = "end_turn"
    valid_max = isinstance(max_tokens, int) and not isinstance(max_tokens, bool)
    if valid_max and 1 <= max_tokens < output_tokens:
        text = text[: max_tokens * 4]
        output_tokens = max_tokens
        stop_reason = "max_tokens"
    # A bytes template: several times faster than dumping a nested dict, and identical
    # output (custom_id and message id are [A-Za-z0-9_-], the rest goes through orjson).
    return _SUCCEEDED % (
        custom_id.encode(),
        ids.message_id(seed, batch_id, custom_id).encode(),
        # aliases resolve to the dated id, as the real API reports them
        orjson.dumps(info.id if info else str(model)),
        orjson.dumps(text),
        stop_reason.encode(),
        max(1, estimate_tokens(full)),
        output_tokens,
    )


_SUCCEEDED = (
    b'{"custom_id":"%s","result":{"type":"succeeded","message":{"id":"%s","type":"message",'
    b'"role":"assistant","model":%s,"content":[{"type":"text","text":%s}],"stop_reason":"%s",'
    b'"stop_sequence":null,"usage":{"input_tokens":%d,"cache_creation_input_tokens":0,'
    b'"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,'
    b'"ephemeral_1h_input_tokens":0},"output_tokens":%d,"service_tier":"batch",'
    b'"inference_geo":"not_available"}}}}'
)


def simple_line(custom_id: str, kind: str) -> bytes:
    """A canceled/expired line (custom_ids are validated, so plain formatting is safe)."""
    return b'{"custom_id":"%s","result":{"type":"%s"}}' % (custom_id.encode(), kind.encode())


class Synthesizer:
    """Decides each request's outcome from the rules, validation and the seed."""

    def __init__(self, rules: list[Rule], seed: int) -> None:
        self.seed = seed
        self._rules = [(re.compile(r.pattern), r) for r in rules]
        self._shapes = shapes.ShapeState()  # prompt-cache prefixes seen in this batch

    def rule_for(self, custom_id: str) -> Rule | None:
        for regex, rule in self._rules:
            if regex.search(custom_id):
                return rule
        return None

    def outcome(self, batch_id: str, custom_id: str, params: dict[str, Any]) -> Outcome:
        rule = self.rule_for(custom_id) if self._rules else None
        delay = (rule.delay_s or 0.0) if rule else 0.0
        if rule is not None and rule.outcome in ("canceled", "expired"):
            return Outcome(rule.outcome, None, delay)
        if rule is not None and rule.outcome == "errored":
            line = _error_line(
                custom_id,
                rule.error_type or "api_error",
                rule.error_message or "Internal server error",
            )
            return Outcome("errored", line, delay)
        problem = request_problem(params)
        if problem is not None:
            return Outcome("errored", _error_line(custom_id, *problem), delay)
        text = rule.text if rule is not None else None
        stop = rule.stop_reason if rule is not None else None
        line = _succeeded_line(custom_id, params, batch_id, self.seed, text, self._shapes, stop)
        return Outcome("succeeded", line, delay)
