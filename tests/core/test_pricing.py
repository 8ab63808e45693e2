"""Cost arithmetic against hand-computed values."""

from __future__ import annotations

import pytest
from batchtop.core import pricing
from batchtop.core.pricing import cost_usd, estimate_cost, estimate_tokens, price_for


def test_haiku_4_5_one_million_each_way() -> None:
    assert cost_usd("claude-haiku-4-5", 1_000_000, 1_000_000, batch=False) == pytest.approx(6.0)
    assert cost_usd("claude-haiku-4-5", 1_000_000, 1_000_000) == pytest.approx(3.0)


def test_dated_alias_resolves() -> None:
    price = price_for("claude-haiku-4-5-20251001")
    assert price is not None
    assert price.max_output_tokens == 64_000
    assert price_for("claude-sonnet-4-5-20250929") == price_for("claude-sonnet-4-5")
    assert price_for("claude-opus-4-5-20251101") == price_for("claude-opus-4-5")
    assert price_for("claude-3-5-haiku-latest") == price_for("claude-3-5-haiku-20241022")
    assert price_for("claude-opus-4-0") == price_for("claude-opus-4-20250514")
    assert price_for("claude-haiku-4-5@20251001") == price_for("claude-haiku-4-5")


def test_unknown_model_costs_none() -> None:
    assert price_for("claude-does-not-exist-9") is None
    assert cost_usd("claude-does-not-exist-9", 10, 10) is None
    # Known to the SDK but no published price: known, cost unknown.
    assert pricing.is_known_model("claude-mythos-preview")
    assert cost_usd("claude-mythos-preview", 10, 10) is None


@pytest.mark.parametrize(
    ("model", "standard_in", "standard_out", "max_out"),
    [
        ("claude-fable-5-2", 8, 40, 128_000),
        ("claude-fable-5-1", 10, 50, 128_000),
        ("claude-mythos-5-1", 10, 50, 128_000),
        ("claude-opus-5-5", 4, 20, 128_000),
        ("claude-opus-5", 5, 25, 128_000),
        ("claude-opus-4-7", 5, 25, None),
        ("claude-sonnet-5-5", 2, 10, 128_000),
        ("claude-sonnet-5", 2, 10, 128_000),
        ("claude-sonnet-4-6", 3, 15, 64_000),
        ("claude-haiku-5-5", 0.10, 0.50, 128_000),
        ("claude-haiku-4-5", 1, 5, 64_000),
    ],
)
def test_price_table(model: str, standard_in: float, standard_out: float, max_out: int) -> None:
    price = price_for(model)
    assert price is not None
    assert (price.input_per_mtok, price.output_per_mtok) == (standard_in, standard_out)
    assert price.max_output_tokens == max_out
    # batch: half of standard on both sides
    assert cost_usd(model, 100_000, 0) == pytest.approx(standard_in * 0.05)
    assert cost_usd(model, 0, 2_000_000) == pytest.approx(standard_out)


def test_cache_multipliers_stack_with_batch_discount() -> None:
    # sonnet 4.6: $3/MTok in. 1M 5-min writes = 3.75 standard, 1M reads = 0.30, 1M 1h = 6.
    assert cost_usd("claude-sonnet-4-6", 0, 0, cache_creation=1_000_000, batch=False) == (
        pytest.approx(3.75)
    )
    assert cost_usd("claude-sonnet-4-6", 0, 0, cache_read=1_000_000, batch=False) == (
        pytest.approx(0.30)
    )
    assert cost_usd("claude-sonnet-4-6", 0, 0, cache_creation_1h=1_000_000) == pytest.approx(3.0)
    assert cost_usd("claude-sonnet-4-6", 0, 0, cache_read=1_000_000) == pytest.approx(0.15)
    # Opus 5.5 reads at 0.05x: $4 * 0.05 = 0.20 standard
    assert cost_usd("claude-opus-5-5", 0, 0, cache_read=1_000_000, batch=False) == (
        pytest.approx(0.20)
    )


def test_haiku_5_5_long_prompts_pay_the_upper_tier() -> None:
    assert cost_usd("claude-haiku-5-5", 100_000, 0, batch=False) == pytest.approx(0.01)
    assert cost_usd("claude-haiku-5-5", 200_000, 1_000_000, batch=False) == pytest.approx(2.6)


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("a") == 1
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("x" * 4000) == 1000


def test_estimate_cost_upper_bound_and_floor() -> None:
    req = {
        "custom_id": "a",
        "params": {
            "model": "claude-haiku-4-5",
            "max_tokens": 1000,
            "system": "x" * 400,  # 100 tokens
            "messages": [
                {"role": "user", "content": "y" * 3600},  # with system: 4000 chars = 1000 tokens
            ],
        },
    }
    bare = {
        "model": "claude-haiku-4-5",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "z" * 4000}]}],
    }
    est = estimate_cost([req, bare])
    assert est.input_tokens == 2000
    assert est.max_output_tokens == 2000
    # standard: 2000 * $1/M + 2000 * $5/M = 0.012; batch half
    assert est.standard_usd == pytest.approx(0.012)
    assert est.batch_usd == pytest.approx(0.006)
    assert est.input_only_standard_usd == pytest.approx(0.002)
    assert est.input_only_batch_usd == pytest.approx(0.001)
    assert est.savings_usd == pytest.approx(0.006)
    assert est.unknown_models == ()


def test_estimate_cost_unknown_model_listed() -> None:
    est = estimate_cost(
        [
            {
                "model": "claude-new-9",
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "hi"}],
            }
        ]
    )
    assert est.unknown_models == ("claude-new-9",)
    assert est.batch_usd == 0.0
    assert est.input_tokens == 1
