"""OpenAI emulator: requests of a batch that repeat a prompt prefix read it from the cache,
the first one writes it, and a model that bills cache writes (GPT-5.6 and later) reports the
write; batchtop's ingest prices each part at its own price (through the official SDK)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from batchtop.core.emulator import EmulatorHandle
from batchtop.core.models import ResultFilter
from batchtop.core.store import Store
from results_support import results_of

from .openai_support import CHAT, RESPONSES, read_lines, submit

PREFIX = "You summarise shipping notices for a harbour office. " * 120  # ~1,600 tokens


def _responses_line(custom_id: str, question: str, **body: Any) -> dict[str, Any]:
    params = {"model": "gpt-6-luna", "instructions": PREFIX, "input": question, **body}
    return {"custom_id": custom_id, "method": "POST", "url": RESPONSES, "body": params}


def _run(oai: Any, emu: EmulatorHandle, lines: list[dict[str, Any]], endpoint: str) -> Any:
    batch = submit(oai, lines, endpoint=endpoint)
    emu.advance(60)
    done = oai.batches.retrieve(batch.id)
    assert done.status == "completed"
    return done


def test_a_repeated_prefix_is_written_once_then_read(oai: Any, openai_emulator: Any) -> None:
    from openai.types.responses import Response

    lines = [
        _responses_line(f"q{i}", f"Question {i}: when does the ferry leave?") for i in range(3)
    ]
    lines.append(_responses_line("off", "Question 4", prompt_cache_options={"mode": "explicit"}))
    done = _run(oai, openai_emulator, lines, RESPONSES)
    out = {
        line["custom_id"]: Response.model_validate(line["response"]["body"])
        for line in read_lines(oai, done.output_file_id)
    }
    first = out["q0"].usage
    assert first is not None
    written = first.input_tokens_details.cache_write_tokens
    assert written >= 1024
    assert written % 128 == 0
    assert first.input_tokens_details.cached_tokens == 0
    details = first.input_tokens_details.cache_write_tokens_details
    assert details is not None
    assert details.ttl_30m_tokens == written
    for again in ("q1", "q2"):
        usage = out[again].usage
        assert usage is not None
        assert usage.input_tokens_details.cached_tokens == written
        assert usage.input_tokens_details.cache_write_tokens == 0
    off = out["off"].usage  # explicit mode and no breakpoint: no caching
    assert off is not None
    assert off.input_tokens_details.cached_tokens == 0
    assert off.input_tokens_details.cache_write_tokens == 0
    # the batch's usage counts the cached tokens among its input tokens
    assert done.usage.input_tokens_details.cached_tokens == 2 * written


def test_a_model_without_cache_writes_reads_the_cache_and_writes_nothing(
    oai: Any, openai_emulator: Any
) -> None:
    from openai.types.chat import ChatCompletion

    lines = [
        {
            "custom_id": f"c{i}",
            "method": "POST",
            "url": CHAT,
            "body": {
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": PREFIX},
                    {"role": "user", "content": f"Question {i}"},
                ],
            },
        }
        for i in range(2)
    ]
    done = _run(oai, openai_emulator, lines, CHAT)
    out = {
        line["custom_id"]: ChatCompletion.model_validate(line["response"]["body"])
        for line in read_lines(oai, done.output_file_id)
    }
    first, second = out["c0"].usage, out["c1"].usage
    assert first is not None
    assert second is not None
    assert first.prompt_tokens_details is not None
    assert second.prompt_tokens_details is not None
    assert first.prompt_tokens_details.cached_tokens == 0
    assert first.prompt_tokens_details.cache_write_tokens is None  # not reported
    assert second.prompt_tokens_details.cached_tokens >= 1024


def test_the_ingest_bills_cache_writes_and_reads_at_their_prices(
    oai: Any, openai_emulator: Any, tmp_path: Path
) -> None:
    """gpt-6-luna: $0.10 input, $0.125 30-minute cache writes, $0.01 cached input, $0.50
    output (prices.toml; tests/core/test_pricing_openai.py names the sources); batch 50%."""
    lines = [_responses_line(f"q{i}", f"Question {i}") for i in range(2)]
    done = _run(oai, openai_emulator, lines, RESPONSES)
    path = tmp_path / "out.jsonl"
    path.write_bytes(oai.files.content(done.output_file_id).content)
    raw = {
        line["custom_id"]: line["response"]["body"]["usage"]
        for line in read_lines(oai, done.output_file_id)
    }
    with Store.open(tmp_path / "s.db") as store:
        results_of(store).ingest_results("batch_1", path)
        page = results_of(store).query_results(["batch_1"], ResultFilter(), 0, 10)
        rows = {r.custom_id: r for r in page.rows}
    for cid, usage in raw.items():
        details = usage["input_tokens_details"]
        written, cached = details["cache_write_tokens"], details["cached_tokens"]
        plain = usage["input_tokens"] - written - cached
        row = rows[cid]
        assert row.cache_creation_input_tokens == written
        assert row.cache_read_input_tokens == cached
        assert row.input_tokens == plain
        expected = (
            (plain * 0.10 + written * 0.125 + cached * 0.01 + usage["output_tokens"] * 0.50)
            / 1e6
            / 2
        )
        assert row.cost_usd == pytest.approx(expected)
    assert rows["q0"].cache_creation_input_tokens > 0
    assert rows["q1"].cache_read_input_tokens > 0
