"""OpenAI emulator: chat completions, responses and embeddings bodies in the SDK's own
types, deterministic, with usage; per-request refusals land in the error file."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

from batchtop.core.emulator import EmulatorHandle, Rule

from .openai_support import CHAT, EMBEDDINGS, RESPONSES, chat_line, read_lines, submit


def _run(oai: Any, emu: EmulatorHandle, lines: list[dict[str, Any]], endpoint: str) -> Any:
    batch = submit(oai, lines, endpoint=endpoint)
    emu.advance(60)
    done = oai.batches.retrieve(batch.id)
    assert done.status == "completed"
    return done


def _bodies(oai: Any, file_id: str | None) -> dict[str, dict[str, Any]]:
    return {line["custom_id"]: line["response"] for line in read_lines(oai, file_id)}


def test_chat_completion_shape(oai: Any, openai_emulator: EmulatorHandle) -> None:
    from openai.types.chat import ChatCompletion

    lines = [
        chat_line("plain", "Tell me about tides and the moon"),
        chat_line("short", "Tell me about tides and the moon", max_completion_tokens=3),
        chat_line("two", "Two answers please", n=2),
    ]
    done = _run(oai, openai_emulator, lines, CHAT)
    out = _bodies(oai, done.output_file_id)
    plain = ChatCompletion.model_validate(out["plain"]["body"])
    assert plain.object == "chat.completion"
    assert plain.id.startswith("chatcmpl-")
    assert plain.model == "gpt-4o-mini-2024-07-18"  # the alias resolves to the snapshot
    assert plain.choices[0].finish_reason == "stop"
    assert "tides" in (plain.choices[0].message.content or "")
    usage = plain.usage
    assert usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    short = ChatCompletion.model_validate(out["short"]["body"])
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None
    assert short.usage.completion_tokens == 3
    assert len(ChatCompletion.model_validate(out["two"]["body"]).choices) == 2
    # deterministic: the same batch again gives the same bodies
    again = _bodies(oai, _run(oai, openai_emulator, lines, CHAT).output_file_id)
    assert again["plain"]["body"]["choices"] == out["plain"]["body"]["choices"]
    assert done.usage.input_tokens == sum(b["body"]["usage"]["prompt_tokens"] for b in out.values())


def test_responses_shape(oai: Any, openai_emulator: EmulatorHandle) -> None:
    from openai.types.responses import Response

    def line(cid: str, **body: Any) -> dict[str, Any]:
        params = {"model": "gpt-5-mini", "input": "Explain photosynthesis briefly", **body}
        return {"custom_id": cid, "method": "POST", "url": RESPONSES, "body": params}

    done = _run(oai, openai_emulator, [line("a"), line("cut", max_output_tokens=200)], RESPONSES)
    out = _bodies(oai, done.output_file_id)
    full = Response.model_validate(out["a"]["body"])
    assert full.object == "response"
    assert full.status == "completed"
    assert "photosynthesis" in full.output_text
    assert full.usage is not None
    assert full.usage.output_tokens_details.reasoning_tokens > 0  # a reasoning model
    assert [item.type for item in full.output] == ["reasoning", "message"]
    cut = Response.model_validate(out["cut"]["body"])
    assert cut.status == "incomplete"
    assert cut.incomplete_details is not None
    assert cut.incomplete_details.reason == "max_output_tokens"


def test_embeddings_shape_and_dimensions(oai: Any, openai_emulator: EmulatorHandle) -> None:
    from openai.types import CreateEmbeddingResponse

    def line(cid: str, **body: Any) -> dict[str, Any]:
        params = {"model": "text-embedding-3-small", "input": "the sea", **body}
        return {"custom_id": cid, "method": "POST", "url": EMBEDDINGS, "body": params}

    lines = [
        line("default"),
        line("small", dimensions=256),
        line("many", input=["a", "b", "c"]),
        line("b64", encoding_format="base64"),
    ]
    out = _bodies(oai, _run(oai, openai_emulator, lines, EMBEDDINGS).output_file_id)
    default = CreateEmbeddingResponse.model_validate(out["default"]["body"])
    vector = default.data[0].embedding
    assert len(vector) == 1536
    assert math.isclose(math.fsum(v * v for v in vector), 1.0, rel_tol=1e-5)
    assert default.usage.prompt_tokens == default.usage.total_tokens > 0
    assert len(out["small"]["body"]["data"][0]["embedding"]) == 256
    assert [d["index"] for d in out["many"]["body"]["data"]] == [0, 1, 2]
    packed = base64.b64decode(out["b64"]["body"]["data"][0]["embedding"])
    unpacked = struct.unpack(f"<{len(packed) // 4}f", packed)
    assert all(math.isclose(a, b, abs_tol=1e-6) for a, b in zip(unpacked, vector, strict=True))


def test_request_errors_land_in_the_error_file(oai: Any, openai_emulator: EmulatorHandle) -> None:
    lines = [
        chat_line("ok"),
        {**chat_line("no-messages"), "body": {"model": "gpt-4o-mini"}},
        chat_line("too-long", max_tokens=10**6),
    ]
    done = _run(oai, openai_emulator, lines, CHAT)
    assert done.request_counts.model_dump() == {"total": 3, "completed": 1, "failed": 2}
    errors = _bodies(oai, done.error_file_id)
    assert errors["no-messages"]["status_code"] == 400
    assert errors["no-messages"]["body"]["error"]["param"] == "messages"
    assert errors["too-long"]["body"]["error"]["code"] == "invalid_value"
    for line in read_lines(oai, done.error_file_id):
        assert line["error"] is None


def test_unknown_model_is_a_404_line(oai: Any, openai_emulator: EmulatorHandle) -> None:
    done = _run(oai, openai_emulator, [chat_line("x", model="gpt-nonexistent")], CHAT)
    (line,) = read_lines(oai, done.error_file_id)
    assert line["response"]["status_code"] == 404
    assert line["response"]["body"]["error"]["code"] == "model_not_found"


def test_rules_fix_text_and_refusal(oai: Any, openai_emulator: EmulatorHandle) -> None:
    openai_emulator.set_rules(
        [Rule("fixed", text="Exactly this."), Rule("refuse", stop_reason="refusal")]
    )
    done = _run(oai, openai_emulator, [chat_line("fixed"), chat_line("refuse")], CHAT)
    out = _bodies(oai, done.output_file_id)
    assert out["fixed"]["body"]["choices"][0]["message"]["content"] == "Exactly this."
    refusal = out["refuse"]["body"]["choices"][0]["message"]
    assert refusal["content"] is None
    assert refusal["refusal"]


def test_models_endpoint(oai: Any) -> None:
    ids = [m.id for m in oai.models.list()]
    assert "text-embedding-3-small" in ids
    assert oai.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini-2024-07-18"


def test_models_of_december_2026(oai: Any, openai_emulator: EmulatorHandle) -> None:
    """Today's line-up (OpenAI's model pages: release days, no dated snapshots, 128,000
    output tokens) is served, and a budget above a model's output limit is refused."""
    created = {m.id: m.created for m in oai.models.list()}
    assert created["gpt-6.2-sol"] == created["gpt-6.2-astra"] == 1794873600  # 2026-11-17
    assert created["gpt-6.1-terra"] == 1792972800  # 2026-10-26
    assert created["gpt-6-luna"] == created["gpt-6-sol"] == 1790035200  # 2026-09-22
    assert created["gpt-6-astra"] == 1788393600  # 2026-09-03
    assert created["gpt-5.6-luna"] == 1783555200  # 2026-07-09
    assert oai.models.retrieve("gpt-5.6").id == "gpt-5.6-sol"  # the alias routes to Sol
    lines = [
        chat_line("ok", model="gpt-6-luna", max_completion_tokens=128_000),
        chat_line("big", model="gpt-6-luna", max_completion_tokens=128_001),
    ]
    done = _run(oai, openai_emulator, lines, CHAT)
    assert _bodies(oai, done.output_file_id)["ok"]["body"]["model"] == "gpt-6-luna"
    refused = _bodies(oai, done.error_file_id)["big"]
    assert refused["status_code"] == 400
    assert "128000" in refused["body"]["error"]["message"]
