"""OpenAI models' batch costs against figures written here with their sources.

Standard USD per million tokens: input, cache writes with 30-minute retention, cache writes
with 12-hour retention, cached input, output (prompts up to 272K input tokens). The Batch
API costs 50% of each. Sources, read 2026-12-07 (each figure rests on at least two; the
official page first where one was read):
- gpt-6.2-sol: developers.openai.com/api/docs/models/gpt-6.2-sol (all five, the >272K rule);
  laozhang.ai "GPT-6.2 API" 2026-11-18; LiteLLM discussion #52347.
- gpt-6.2-astra: laozhang.ai 2026-11-18 and apidog 2026-11-18 ($8 / $40); LiteLLM #52347
  (cached input 60% below GPT-6 Astra's $1); cache writes: the 1.25x / 2.5x input ratios.
- gpt-6.1-terra: developers.openai.com/zh-Hans/api/docs/models/gpt-6.1-terra (all five);
  PromptFuel v1.0.24; apidog "GPT-6.1 Terra pricing"; LiteLLM blog (long context).
- gpt-6.1-sol: Codex-Manager 0.4.7 (from its model page, with long context); apiyi.com;
  trick77/toolkit v0.5.0 (30-minute writes $2.50).
- gpt-6-astra: LiteLLM discussion #39633; AI Token Meter 0.2.22; PromptFuel v1.0.19.
- gpt-6-sol, gpt-6-luna: codexometer v0.18.4; PromptFuel v1.0.21; LiteLLM #42523.
- gpt-5.6-sol: list price again from 2026-11-30 (apiyi.com and laozhang.ai, 2026-12-01).
- gpt-5.6-terra, gpt-5.6-luna: their model pages (ja-JP / en); genai-prices (checked
  2026-08-02); apiyi.com and laozhang.ai notices of the 2026-07-30 cut.
"""

from __future__ import annotations

import pytest
from batchtop.core.pricing import CostAccumulator, cost_usd, price_for

OPENAI: dict[str, tuple[float, float, float, float, float]] = {
    "gpt-6.2-sol": (2, 2.50, 5, 0.10, 10),
    "gpt-6.2-astra": (8, 10, 20, 0.40, 40),
    "gpt-6.1-terra": (1, 1.25, 2.50, 0.05, 5),
    "gpt-6.1-sol": (2, 2.50, 5, 0.10, 10),
    "gpt-6-astra": (10, 12.50, 25, 1, 50),
    "gpt-6-sol": (2, 2.50, 5, 0.20, 10),
    "gpt-6-luna": (0.10, 0.125, 0.25, 0.01, 0.50),
    "gpt-5.6-sol": (5, 6.25, 12.50, 0.50, 30),
    "gpt-5.6-terra": (2, 2.50, 5, 0.20, 12),
    "gpt-5.6-luna": (0.20, 0.25, 0.50, 0.02, 1.20),
}
THRESHOLD = 272_000  # input tokens (cached and written ones included) of one request


@pytest.mark.parametrize("model", sorted(OPENAI))
def test_batch_cost_of_each_component(model: str) -> None:
    base, write_30m, write_12h, read, out = OPENAI[model]
    n = 50_000
    half = n / 1e6 / 2  # batch: 50% of standard
    assert cost_usd(model, n, 0) == pytest.approx(base * half), "input"
    assert cost_usd(model, 0, n) == pytest.approx(out * half), "output"
    assert cost_usd(model, 0, 0, n) == pytest.approx(write_30m * half), "30-minute write"
    assert cost_usd(model, 0, 0, cache_creation_1h=n) == pytest.approx(write_12h * half), (
        "12-hour write"
    )
    assert cost_usd(model, 0, 0, cache_read=n) == pytest.approx(read * half), "cached input"


@pytest.mark.parametrize("model", sorted(OPENAI))
def test_long_requests_pay_double_input_and_cache_and_one_and_a_half_output(model: str) -> None:
    """Above 272K input tokens the whole request (every token, not the part above the line)
    pays 2x input and cache rates and 1.5x output."""
    base, write_30m, write_12h, read, out = OPENAI[model]
    # exactly at the threshold: short-context prices
    at = cost_usd(model, THRESHOLD - 100_000, 1_000, cache_read=100_000)
    assert at == pytest.approx(((THRESHOLD - 100_000) * base + 100_000 * read + 1_000 * out) / 2e6)
    # one token more, counted among the cached ones: every token at the long-context prices
    inp, cached, w30, w12, output = THRESHOLD - 100_000, 90_001, 6_000, 4_000, 2_000
    expected = (
        inp * base * 2
        + cached * read * 2
        + w30 * write_30m * 2
        + w12 * write_12h * 2
        + output * out * 1.5
    ) / 2e6
    assert cost_usd(model, inp, output, w30, cached, cache_creation_1h=w12) == pytest.approx(
        expected
    )


def test_dated_ids_resolve_and_older_models_bill_no_cache_writes() -> None:
    assert price_for("gpt-6-luna") is not None
    assert price_for("gpt-6-luna-2026-09-22") == price_for("gpt-6-luna")
    assert price_for("gpt-5.6-terra-2026-07-09") == price_for("gpt-5.6-terra")
    older = price_for("gpt-5")
    assert older is not None
    assert older.base.cache_write_5m == 0
    assert older.above is None  # a 400K window: no long-context tier


def test_gpt_5_4_long_requests() -> None:
    """GPT-5.4 above 272K input tokens: $5 input, $0.50 cached, $22.50 output (wavespeed.ai;
    codex-cost-meter v1.2.5 prices GPT-5.4 and 5.5 long context)."""
    assert cost_usd("gpt-5.4", 200_000, 1_000, cache_read=72_001) == pytest.approx(
        (200_000 * 5 + 72_001 * 0.50 + 1_000 * 22.50) / 2e6
    )
    assert cost_usd("gpt-5.4", 200_000, 1_000, cache_read=72_000) == pytest.approx(
        (200_000 * 2.50 + 72_000 * 0.25 + 1_000 * 15) / 2e6
    )


def test_estimate_puts_a_long_request_in_the_upper_tier() -> None:
    body = {"model": "gpt-6-luna", "input": "x" * (4 * 300_000), "max_output_tokens": 1_000}
    short = {"model": "gpt-6-luna", "input": "x" * (4 * 100_000), "max_output_tokens": 1_000}
    acc = CostAccumulator()
    acc.add_params(body, "/v1/responses")
    long_est = acc.result()
    acc = CostAccumulator()
    acc.add_params(short, "/v1/responses")
    short_est = acc.result()
    per_token_long = long_est.input_only_standard_usd / long_est.input_tokens
    per_token_short = short_est.input_only_standard_usd / short_est.input_tokens
    assert per_token_long == pytest.approx(0.20 / 1e6)
    assert per_token_short == pytest.approx(0.10 / 1e6)
