"""Every content block and stop reason today's API returns, produced by the emulator from
the request and read back through the official SDK (its pydantic types parse each one)."""

from __future__ import annotations

import json
from typing import Any

from batchtop.core.emulator import EmulatorHandle, Rule

from .conftest import make_request

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 2},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
}

TICKET_SCHEMA = {
    "type": "object",
    "properties": {
        "category": {"type": "string", "enum": ["billing", "bug", "other"]},
        "urgent": {"type": "boolean"},
        "score": {"type": "number"},
        "labels": {"type": "array", "items": {"type": "string"}},
        "owner": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["category", "urgent", "score", "labels", "owner"],
    "additionalProperties": False,
}


def valid(value: Any, schema: dict[str, Any]) -> bool:
    """A small JSON Schema check (the keywords the schemas above use)."""
    if "anyOf" in schema:
        return any(valid(value, s) for s in schema["anyOf"])
    if "enum" in schema and value not in schema["enum"]:
        return False
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            return False
        props = schema.get("properties", {})
        if any(k not in value for k in schema.get("required", [])):
            return False
        if schema.get("additionalProperties") is False and set(value) - set(props):
            return False
        return all(valid(v, props[k]) for k, v in value.items() if k in props)
    if kind == "array":
        return (
            isinstance(value, list)
            and len(value) >= schema.get("minItems", 0)
            and all(valid(v, schema.get("items", {})) for v in value)
        )
    if kind == "string":
        return isinstance(value, str) and len(value) >= schema.get("minLength", 0)
    if kind == "integer":
        return (
            isinstance(value, int)
            and not isinstance(value, bool)
            and schema.get("minimum", value) <= value <= schema.get("maximum", value)
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    return True


def run(client: Any, emulator: EmulatorHandle, *requests: dict[str, Any]) -> dict[str, Any]:
    batch = client.messages.batches.create(requests=list(requests))
    emulator.advance(1)
    return {r.custom_id: r.result for r in client.messages.batches.results(batch.id)}


def test_thinking_blocks_follow_the_request_and_the_model(
    client: Any, emulator: EmulatorHandle
) -> None:
    r = run(
        client,
        emulator,
        make_request("default"),  # claude-opus-5-5 thinks adaptively, always
        make_request("omitted", thinking={"type": "adaptive", "display": "omitted"}),
        make_request("off", model="claude-haiku-5-5", thinking={"type": "disabled"}),
        make_request(
            "budget", model="claude-haiku-4-5", thinking={"type": "enabled", "budget_tokens": 2048}
        ),
        make_request("plain", model="claude-haiku-4-5"),
        make_request(
            "redacted", "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A"
        ),
        make_request("manual", thinking={"type": "enabled", "budget_tokens": 2048}),
    )
    first = r["default"].message.content[0]
    assert first.type == "thinking"
    assert first.thinking
    assert first.signature
    assert r["default"].message.content[-1].type == "text"
    omitted = r["omitted"].message.content[0]
    assert (omitted.type, omitted.thinking) == ("thinking", "")
    assert omitted.signature
    assert [b.type for b in r["off"].message.content] == ["text"]
    assert [b.type for b in r["budget"].message.content] == ["thinking", "text"]
    assert [b.type for b in r["plain"].message.content] == ["text"]
    redacted = r["redacted"].message.content[0]
    assert redacted.type == "redacted_thinking"
    assert redacted.data
    assert r["manual"].type == "errored"
    assert r["manual"].error.error.message == (
        '"thinking.type.enabled" is not supported for this model. '
        'Use "thinking.type.adaptive" and "output_config.effort"'
    )


def test_tool_use_input_matches_the_tool_schema(client: Any, emulator: EmulatorHandle) -> None:
    r = run(
        client,
        emulator,
        make_request(
            "forced",
            "What should I wear?",
            model="claude-haiku-4-5",
            tools=[WEATHER_TOOL],
            tool_choice={"type": "tool", "name": "get_weather"},
        ),
        make_request("named", "Call get_weather for Oslo", tools=[WEATHER_TOOL]),
        make_request("unrelated", "Say hi", tools=[WEATHER_TOOL]),
        make_request(
            "forced-thinking", tools=[WEATHER_TOOL], tool_choice={"type": "any"}
        ),  # a thinking model: forcing a tool is refused
    )
    for key in ("forced", "named"):
        message = r[key].message
        assert message.stop_reason == "tool_use"
        (call,) = [b for b in message.content if b.type == "tool_use"]
        assert call.name == "get_weather"
        assert call.id.startswith("toolu_")
        assert valid(call.input, WEATHER_TOOL["input_schema"]), call.input
    assert r["unrelated"].message.stop_reason == "end_turn"
    assert r["forced-thinking"].type == "errored"
    assert r["forced-thinking"].error.error.message == (
        "Thinking may not be enabled when tool_choice forces tool use."
    )


def test_web_search_blocks_citations_and_server_tool_usage(
    client: Any, emulator: EmulatorHandle
) -> None:
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    emulator.set_rules([Rule(pattern="^paused$", stop_reason="pause_turn")])
    r = run(
        client,
        emulator,
        make_request("search", "Latest news about lighthouses", tools=[search]),
        make_request("paused", "Latest news about lighthouses", tools=[search]),
    )
    message = r["search"].message
    types = [b.type for b in message.content]
    assert types == ["thinking", "server_tool_use", "web_search_tool_result", "text"]
    use, result, text = message.content[1:]
    assert use.name == "web_search"
    assert use.input["query"]
    assert result.tool_use_id == use.id
    assert [x.type for x in result.content] == ["web_search_result"] * 2
    assert text.citations
    assert {c.type for c in text.citations} == {"web_search_result_location"}
    assert {c.url for c in text.citations} == {x.url for x in result.content}
    assert message.usage.server_tool_use.web_search_requests == 1
    paused = r["paused"].message
    assert paused.stop_reason == "pause_turn"
    assert paused.content[-1].type == "server_tool_use"


def test_structured_output_is_json_valid_against_its_schema(
    client: Any, emulator: EmulatorHandle
) -> None:
    fmt = {"format": {"type": "json_schema", "schema": TICKET_SCHEMA}}
    r = run(
        client,
        emulator,
        *[make_request(f"t{i}", f"Ticket {i}: my card was charged twice", output_config=fmt)
          for i in range(5)],
    )  # fmt: skip
    for result in r.values():
        (text,) = [b.text for b in result.message.content if b.type == "text"]
        assert valid(json.loads(text), TICKET_SCHEMA), text


def test_stop_reasons(client: Any, emulator: EmulatorHandle) -> None:
    r = run(
        client,
        emulator,
        make_request("seq", "Tell me about whales and dolphins", stop_sequences=["dolphins"]),
        make_request("short", "Tell me about whales " * 10, max_tokens=40),
        make_request("refusal", "ANTHROPIC_MAGIC_STRING_TRIGGER_REFUSAL_1FAEFB6177B4672DEE07F9"),
        make_request(
            "window", "x" * 799_960, model="claude-haiku-4-5"
        ),  # 199,990 tokens of a 200K window
        make_request("end", "Hello"),
    )
    seq = r["seq"].message
    assert (seq.stop_reason, seq.stop_sequence) == ("stop_sequence", "dolphins")
    assert "dolphins" not in "".join(b.text for b in seq.content if b.type == "text")
    assert r["short"].message.stop_reason == "max_tokens"
    assert r["short"].message.usage.output_tokens <= 40
    refusal = r["refusal"].message
    assert refusal.stop_reason == "refusal"
    assert refusal.stop_details.type == "refusal"
    assert refusal.stop_details.category == "general_harms"
    assert r["window"].message.stop_reason == "model_context_window_exceeded"
    assert r["end"].message.stop_reason == "end_turn"


def test_cache_control_writes_then_reads_a_repeated_prefix(
    client: Any, emulator: EmulatorHandle
) -> None:
    system = [
        {"type": "text", "text": "You are a careful analyst. " * 200,
         "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]  # fmt: skip
    short = [{"type": "text", "text": "Be brief. " * 100, "cache_control": {"type": "ephemeral"}}]
    r = run(
        client,
        emulator,
        make_request("a", "first question", system=system, model="claude-haiku-4-5"),
        make_request("b", "second question", system=system, model="claude-haiku-4-5"),
        make_request("c", "third", system=short, model="claude-haiku-4-5"),
    )
    a, b, c = (r[k].message.usage for k in "abc")
    assert a.cache_creation.ephemeral_1h_input_tokens > 0
    assert a.cache_creation_input_tokens == a.cache_creation.ephemeral_1h_input_tokens
    assert a.cache_read_input_tokens == 0
    assert b.cache_read_input_tokens == a.cache_creation_input_tokens
    assert b.cache_creation_input_tokens == 0
    assert c.cache_creation.ephemeral_5m_input_tokens > 0
    assert b.input_tokens < a.cache_creation_input_tokens  # cached tokens are not input tokens


def test_beta_headers_recorded_unknown_refused_bad_version_400(
    client: Any, emulator: EmulatorHandle
) -> None:
    import anthropic
    import pytest

    batch = client.messages.batches.create(
        requests=[make_request("a")],
        extra_headers={"anthropic-beta": "output-300k-2026-03-24,extended-cache-ttl-2025-04-11"},
    )
    assert emulator.betas(batch.id) == ("output-300k-2026-03-24", "extended-cache-ttl-2025-04-11")
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.batches.create(
            requests=[make_request("a")], extra_headers={"anthropic-beta": "made-up-2099-01-01"}
        )
    assert refused.value.status_code == 400
    assert "`made-up-2099-01-01`" in refused.value.message
    with pytest.raises(anthropic.BadRequestError) as version:
        client.messages.batches.list(extra_headers={"anthropic-version": "1999-01-01"})
    assert 'anthropic-version: "1999-01-01" is not a valid version' in version.value.message
