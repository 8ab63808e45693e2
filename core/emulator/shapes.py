"""Succeeded messages with every shape today's API returns, decided by the request.

A plain request (no tools, no thinking, no structured output, no stop sequences, no cache
control) on a model that does not think by default keeps the fast one-text-block template in
`behaviour`; everything else is built here, deterministically (same request and seed → same
bytes):

- thinking: `thinking: {type: enabled|adaptive}`, or the model's default (adaptive on the 5.x
  models) → a `thinking` block with a signature first (`display: "omitted"` → empty text); the
  documented test string ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING → `redacted_thinking`.
- tools: a web search tool → `server_tool_use` + `web_search_tool_result` + text citing the
  results (`usage.server_tool_use`); client tools → a `tool_use` block whose input is built
  from the tool's `input_schema` (valid against it), stop `tool_use`, when `tool_choice` forces
  it or the prompt names the tool.
- `output_config.format` (json_schema) → text that is JSON valid against the schema.
- `stop_sequences` → the reply is cut before the first one found (stop `stop_sequence`).
- `max_tokens` smaller than the reply → cut, stop `max_tokens`; a prompt larger than the
  model's context window → stop `model_context_window_exceeded`.
- ANTHROPIC_MAGIC_STRING_TRIGGER_REFUSAL (the docs' test string) → stop `refusal` with
  `stop_details`.
- `cache_control` breakpoints → the prefix up to the last one is written to the cache the
  first time a batch sees it (5 m or 1 h per its ttl) and read by later requests.
- A rule's `stop_reason` forces a stop reason (`pause_turn`, `refusal`, ...).
"""

from __future__ import annotations

import base64
import hashlib
import math
from typing import Any

import orjson

from ..models import ModelInfo

REDACTED_TRIGGER = "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING"
REFUSAL_TRIGGER = "ANTHROPIC_MAGIC_STRING_TRIGGER_REFUSAL"

_PLAIN_KEYS = frozenset({"model", "max_tokens", "messages", "system", "metadata"})


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=32).digest()


def _b64(*parts: object) -> str:
    return base64.b64encode(_digest(*parts) * 3).decode()


def _id(prefix: str, *parts: object) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    n = int.from_bytes(_digest(*parts)[:18], "big")
    out = []
    for _ in range(24):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return prefix + "".join(out)


def thinking_mode(params: dict[str, Any], info: ModelInfo | None) -> str | None:
    """'summarized' / 'omitted' when the reply starts with thinking, None when it does not."""
    cfg = params.get("thinking")
    default = info.thinking if info is not None else "off"
    if isinstance(cfg, dict):
        kind = cfg.get("type")
        if kind == "disabled":
            return None
        if kind in ("enabled", "adaptive"):
            display = cfg.get("display")
            return "omitted" if display == "omitted" else "summarized"
    return "summarized" if default in ("always", "adaptive") else None


def is_plain(params: dict[str, Any], info: ModelInfo | None) -> bool:
    """True when the fast one-text-block reply is exactly what the API would send."""
    if not _PLAIN_KEYS.issuperset(params):
        return False
    if info is not None and info.thinking != "off":
        return False
    return not _has_cache_control(params)


def request_error(params: dict[str, Any], info: ModelInfo | None) -> str | None:
    """Messages the API returns for thinking/tool settings a model refuses."""
    cfg = params.get("thinking")
    kind = cfg.get("type") if isinstance(cfg, dict) else None
    default = info.thinking if info is not None else "off"
    if kind == "enabled" and default in ("always", "adaptive"):
        return (
            '"thinking.type.enabled" is not supported for this model. '
            'Use "thinking.type.adaptive" and "output_config.effort"'
        )
    if kind == "disabled" and default == "always":
        return '"thinking.type.disabled" is not supported for this model.'
    choice = params.get("tool_choice")
    forced = isinstance(choice, dict) and choice.get("type") in ("any", "tool")
    if forced and thinking_mode(params, info) is not None:
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


# --- values valid against a JSON schema ------------------------------------------------


def sample(schema: Any, hint: str, depth: int = 0) -> Any:
    """A deterministic value valid against `schema` (the subset structured outputs allow)."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        options = schema["enum"]
        return options[int.from_bytes(_digest(hint)[:2], "big") % len(options)]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return sample(schema[key][0], hint, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties") or {}
        return {k: sample(v, f"{hint}.{k}", depth + 1) for k, v in props.items()}
    if kind == "array":
        n = max(1, int(schema.get("minItems") or 0))
        return [sample(schema.get("items") or {}, f"{hint}[{i}]", depth + 1) for i in range(n)]
    if kind == "integer":
        low: Any = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = int(low or 0) + (1 if "exclusiveMinimum" in schema else 0)
        return max(value, 1) if "maximum" not in schema else min(max(value, 1), schema["maximum"])
    if kind == "number":
        low = schema.get("minimum", 0)
        return float(low) + 0.5 if "maximum" not in schema else float(low)
    if kind == "boolean":
        return bool(_digest(hint)[0] & 1)
    if kind == "null":
        return None
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return "2026-12-07"
        if fmt == "date-time":
            return "2026-12-07T12:00:00Z"
        if fmt == "email":
            return "someone@example.com"
        text = f"{hint.rsplit('.', 1)[-1] or 'value'} text"
        low = int(schema.get("minLength") or 0)
        return (text * (low // len(text) + 1))[: max(low, len(text))]
    return None


# --- the message ------------------------------------------------------------------------


def _has_cache_control(params: dict[str, Any]) -> bool:
    return b'"cache_control"' in orjson.dumps(params)


def _cache_prefix(params: dict[str, Any]) -> tuple[str, str] | None:
    """(the text up to the last cache_control breakpoint, its ttl), or None."""
    if isinstance(params.get("cache_control"), dict):  # automatic caching: the whole prompt
        ttl = params["cache_control"].get("ttl", "5m")
        return orjson.dumps([params.get("system"), params.get("messages")]).decode(), ttl
    seq: list[tuple[Any, Any]] = []
    tools = params.get("tools")
    if isinstance(tools, list):
        seq += [(t, t) for t in tools]
    system = params.get("system")
    if isinstance(system, list):
        seq += [(b, b) for b in system]
    elif system is not None:
        seq.append((system, None))
    messages = params.get("messages")
    for m in messages if isinstance(messages, list) else []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            seq += [(b, b) for b in content]
        else:
            seq.append((content, None))
    last = -1
    ttl = "5m"
    for i, (_, block) in enumerate(seq):
        if isinstance(block, dict) and isinstance(block.get("cache_control"), dict):
            last = i
            ttl = str(block["cache_control"].get("ttl", "5m"))
    if last < 0:
        return None
    return orjson.dumps([b for b, _ in seq[: last + 1]]).decode(), ttl


class ShapeState:
    """What a batch remembers between its requests: the prompt-cache prefixes written."""

    def __init__(self) -> None:
        self.cached: set[bytes] = set()


def message(
    *,
    custom_id: str,
    params: dict[str, Any],
    info: ModelInfo | None,
    message_id: str,
    model: str,
    prompt: str,
    last_user: str,
    reply: str,
    seed: int,
    state: ShapeState,
    forced_stop: str | None = None,
) -> dict[str, Any]:
    key = (seed, custom_id)
    content: list[dict[str, Any]] = []
    output_tokens = 0
    stop_reason = "end_turn"
    stop_sequence: str | None = None
    stop_details: dict[str, Any] | None = None
    server_use = {"web_search_requests": 0, "web_fetch_requests": 0}

    max_tokens = params.get("max_tokens")
    budget = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 1 << 30
    mode = thinking_mode(params, info)
    if REDACTED_TRIGGER in prompt and mode is not None:
        content.append({"type": "redacted_thinking", "data": _b64("redacted", *key)})
        output_tokens += 40
    elif mode is not None:
        thought = f"The user asks: {last_user[:120]!r}. I will answer briefly and directly."
        thought = thought[: budget * 4]
        shown = thought if mode == "summarized" else ""
        content.append({"type": "thinking", "thinking": shown, "signature": _b64("sig", *key)})
        output_tokens += _tokens(thought)
    if output_tokens >= budget:  # thinking used every token allowed: nothing else is written
        forced_stop = "max_tokens"

    tools = [t for t in params.get("tools") or [] if isinstance(t, dict)]
    raw_choice = params.get("tool_choice")
    choice: dict[str, Any] = raw_choice if isinstance(raw_choice, dict) else {}
    choice_type = choice.get("type", "auto")
    search = next((t for t in tools if str(t.get("type", "")).startswith("web_search")), None)
    client = [t for t in tools if "input_schema" in t]
    call: dict[str, Any] | None = None
    if choice_type == "tool":
        call = next((t for t in client if t.get("name") == choice.get("name")), None)
    elif choice_type == "any" and client:
        call = client[0]
    elif choice_type == "auto":
        call = next((t for t in client if str(t.get("name")) in last_user), None)

    fmt = (params.get("output_config") or {}).get("format")
    text = reply
    citations: list[dict[str, Any]] | None = None
    if forced_stop == "max_tokens" and output_tokens >= budget:
        stop_reason = "max_tokens"
        text = ""
    elif REFUSAL_TRIGGER in prompt or forced_stop == "refusal":
        stop_reason = "refusal"
        stop_details = {
            "type": "refusal",
            "category": "general_harms",
            "explanation": "This request was declined by the model's safety classifiers.",
        }
        text = ""
    elif search is not None and choice_type != "none" and call is None:
        query = " ".join(last_user.split()[:8]) or "search"
        tool_id = _id("srvtoolu_", "search", *key)
        content.append(
            {
                "type": "server_tool_use",
                "id": tool_id,
                "name": "web_search",
                "input": {"query": query},
            }
        )
        server_use["web_search_requests"] = 1
        if forced_stop == "pause_turn":
            stop_reason = "pause_turn"
            text = ""
        else:
            results = [
                {
                    "type": "web_search_result",
                    "url": f"https://example.com/{i}/{_id('', 'url', i, *key)[:8]}",
                    "title": f"Result {i + 1} for {query}",
                    "encrypted_content": _b64("page", i, *key),
                    "page_age": "December 1, 2026",
                }
                for i in range(2)
            ]
            content.append(
                {"type": "web_search_tool_result", "tool_use_id": tool_id, "content": results}
            )
            citations = [
                {
                    "type": "web_search_result_location",
                    "url": r["url"],
                    "title": r["title"],
                    "encrypted_index": _b64("idx", r["url"])[:24],
                    "cited_text": f"{r['title']}: a cited passage.",
                }
                for r in results
            ]
            text = f"According to the search results, {reply}"
    elif call is not None:
        tool_input = sample(call.get("input_schema") or {}, f"{custom_id}.{call.get('name')}")
        text = f"I'll use the {call.get('name')} tool."
        content.append({"type": "text", "text": text})
        output_tokens += _tokens(text)
        content.append(
            {
                "type": "tool_use",
                "id": _id("toolu_", "tool", *key),
                "name": call.get("name"),
                "input": tool_input if isinstance(tool_input, dict) else {},
            }
        )
        output_tokens += _tokens(orjson.dumps(tool_input).decode()) + 10
        stop_reason = "tool_use"
        text = ""
    elif isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        text = orjson.dumps(sample(fmt.get("schema") or {}, custom_id)).decode()

    if text and stop_reason == "end_turn":
        for s in params.get("stop_sequences") or []:
            if isinstance(s, str) and s and s in text:
                text = text[: text.index(s)]
                stop_reason, stop_sequence = "stop_sequence", s
                break
    prompt_tokens = max(1, _tokens(prompt))
    window = info.max_input_tokens if info is not None else None
    if text or stop_reason in ("end_turn", "stop_sequence"):
        room = budget - output_tokens
        if window is not None and prompt_tokens + output_tokens + _tokens(text) > window:
            room = min(room, max(0, window - prompt_tokens - output_tokens))
            stop_reason = "model_context_window_exceeded"
        if _tokens(text) > max(room, 0):
            text = text[: max(room, 0) * 4]
            if stop_reason != "model_context_window_exceeded":
                stop_reason = "max_tokens"
        if forced_stop in ("max_tokens", "model_context_window_exceeded", "end_turn"):
            stop_reason = forced_stop
        block: dict[str, Any] = {"type": "text", "text": text}
        if citations is not None:
            block["citations"] = citations
        if text or not content:
            content.append(block)
        output_tokens += _tokens(text)

    cache_write_5m = cache_write_1h = cache_read = 0
    prefix = _cache_prefix(params)
    if prefix is not None:
        body, ttl = prefix
        digest = _digest(body)
        n = min(_tokens(body), prompt_tokens)
        if digest in state.cached:
            cache_read = n
        else:
            state.cached.add(digest)
            if ttl == "1h":
                cache_write_1h = n
            else:
                cache_write_5m = n
    usage: dict[str, Any] = {
        "input_tokens": max(0, prompt_tokens - cache_write_5m - cache_write_1h - cache_read),
        "cache_creation_input_tokens": cache_write_5m + cache_write_1h,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache_write_5m,
            "ephemeral_1h_input_tokens": cache_write_1h,
        },
        "output_tokens": max(1, output_tokens),
        "server_tool_use": server_use if server_use["web_search_requests"] else None,
        "service_tier": "batch",
        "inference_geo": "not_available",
    }
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "stop_details": stop_details,
        "usage": usage,
    }
