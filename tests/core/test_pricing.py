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
    assert price == price_for("claude-haiku-4-5")
    assert price_for("claude-sonnet-4-5-20250929") == price_for("claude-sonnet-4-5")
    assert price_for("claude-opus-4-5-20251101") == price_for("claude-opus-4-5")
    assert price_for("claude-3-5-haiku-latest") == price_for("claude-3-5-haiku-20241022")
    assert price_for("claude-opus-4-0") == price_for("claude-opus-4-20250514")
    assert price_for("claude-haiku-4-5@20251001") == price_for("claude-haiku-4-5")


def test_unknown_model_costs_none() -> None:
    assert price_for("claude-does-not-exist-9") is None
    assert cost_usd("claude-does-not-exist-9", 10, 10) is None
    # In the model catalogue, but no published price: cost unknown, never a guess.
    assert cost_usd("claude-mythos-preview", 10, 10) is None


# Official standard prices, USD per million tokens: base input, 5-minute cache writes,
# 1-hour cache writes, cache hits and refreshes, output.
# Source: platform.claude.com/docs/en/about-claude/pricing ("Model pricing") and each
# model's page (platform.claude.com/docs/en/models/<model>/overview, "Pricing"), read
# 2026-12-07; Sonnet 5.5 cache hits cut to $0.10 on 2026-10-07. The batch-processing page:
# "All usage is charged at 50% of the standard API prices".
OFFICIAL: dict[str, tuple[float, float, float, float, float]] = {
    "claude-fable-5-2": (8, 10, 16, 0.20, 40),
    "claude-mythos-5-2": (8, 10, 16, 0.20, 40),
    "claude-opus-5-5": (4, 5, 8, 0.20, 20),
    "claude-sonnet-5-5": (2, 2.50, 4, 0.10, 10),
    "claude-haiku-5-5": (0.10, 0.125, 0.20, 0.01, 0.50),  # prompts up to 100K tokens
    "claude-fable-5-1": (10, 12.50, 20, 0.25, 50),
    "claude-mythos-5-1": (10, 12.50, 20, 0.25, 50),
    "claude-opus-5": (5, 6.25, 10, 0.50, 25),
    "claude-sonnet-5": (2, 2.50, 4, 0.20, 10),
    "claude-fable-5": (10, 12.50, 20, 1, 50),
    "claude-mythos-5": (10, 12.50, 20, 1, 50),
    "claude-opus-4-8": (5, 6.25, 10, 0.50, 25),
    "claude-opus-4-7": (5, 6.25, 10, 0.50, 25),
    "claude-opus-4-6": (5, 6.25, 10, 0.50, 25),
    "claude-opus-4-5": (5, 6.25, 10, 0.50, 25),
    "claude-sonnet-4-6": (3, 3.75, 6, 0.30, 15),
    "claude-haiku-4-5": (1, 1.25, 2, 0.10, 5),
}
# Haiku 5.5, prompts over 100K tokens (every token of the request at these prices).
HAIKU_5_5_ABOVE_100K = (0.50, 0.625, 1.00, 0.05, 2.50)


@pytest.mark.parametrize("model", sorted(OFFICIAL))
def test_batch_cost_matches_the_official_page(model: str) -> None:
    base, write_5m, write_1h, read, out = OFFICIAL[model]
    n = 50_000  # tokens per component (below Haiku 5.5's 100K tier); batch = 50%
    # one component at a time, so a wrong price names its component
    assert cost_usd(model, n, 0) == pytest.approx(base * n / 1e6 / 2), "input"
    assert cost_usd(model, 0, n) == pytest.approx(out * n / 1e6 / 2), "output"
    assert cost_usd(model, 0, 0, n) == pytest.approx(write_5m * n / 1e6 / 2), "5m write"
    assert cost_usd(model, 0, 0, cache_creation_1h=n) == pytest.approx(write_1h * n / 1e6 / 2), (
        "1h write"
    )
    assert cost_usd(model, 0, 0, cache_read=n) == pytest.approx(read * n / 1e6 / 2), "read"
    # and a realistic mix: 20k input, 50k cache read, 2k 5m write, 1k 1h write, 800 output
    expected = 20_000 * base + 2_000 * write_5m + 1_000 * write_1h + 50_000 * read + 800 * out
    assert cost_usd(model, 20_000, 800, 2_000, 50_000, cache_creation_1h=1_000) == pytest.approx(
        expected / 1e6 / 2
    )


def test_every_current_model_has_a_price() -> None:
    from batchtop.core.model_catalog import builtin_catalog

    unpriced = {
        m.id
        for m in builtin_catalog().models
        if m.lifecycle != "retired" and price_for(m.id) is None
    }
    assert unpriced == {"claude-mythos-preview"}  # no published price


def test_haiku_5_5_long_prompts_pay_the_upper_tier() -> None:
    base, write_5m, write_1h, read, out = HAIKU_5_5_ABOVE_100K
    assert cost_usd("claude-haiku-5-5", 100_000, 0, batch=False) == pytest.approx(0.01)
    assert cost_usd("claude-haiku-5-5", 200_000, 1_000_000, batch=False) == pytest.approx(
        (200_000 * base + 1_000_000 * out) / 1e6
    )
    # cache tokens count toward the prompt size, and pay the upper tier too
    assert cost_usd("claude-haiku-5-5", 10, 0, 0, 100_000) == pytest.approx(
        (10 * base + 100_000 * read) / 1e6 / 2
    )
    assert cost_usd("claude-haiku-5-5", 10, 0, 100_000) == pytest.approx(
        (10 * base + 100_000 * write_5m) / 1e6 / 2
    )
    assert cost_usd("claude-haiku-5-5", 10, 0, cache_creation_1h=100_000) == pytest.approx(
        (10 * base + 100_000 * write_1h) / 1e6 / 2
    )


def test_price_source_names_the_file_and_date() -> None:
    assert pricing.price_source() == "prices of 2026-12-07 (Anthropic pricing page)"
    price = price_for("claude-opus-5-5")
    assert price is not None
    assert "prices.toml as of 2026-12-07" in price.source


def test_config_overrides_and_adds_models() -> None:
    from batchtop.core.config import settings_from_dict
    from batchtop.core.errors import UserError

    settings = settings_from_dict(
        {
            "prices": {
                "claude-opus-5-5": {"input": 3},
                "claude-custom-1": {"input": 1, "output": 2},
            }
        },
        source="cfg.toml",
    )
    try:
        pricing.set_overrides(settings.prices)
        opus = price_for("claude-opus-5-5")
        assert opus is not None
        assert (opus.base.input, opus.base.output, opus.base.cache_read) == (3, 20, 0.20)
        assert opus.source == 'cfg.toml (prices."claude-opus-5-5")'
        custom = price_for("claude-custom-1")
        assert custom is not None
        assert custom.base.cache_write_5m == pytest.approx(1.25)
        assert cost_usd("claude-custom-1", 1_000_000, 1_000_000) == pytest.approx(1.5)
        assert pricing.price_source().endswith("with overrides from config")
    finally:
        pricing.reset_prices()
    assert price_for("claude-custom-1") is None
    with pytest.raises(UserError, match=r'cfg.toml: prices."claude-x": a new model needs'):
        settings_from_dict({"prices": {"claude-x": {"input": 1}}}, source="cfg.toml")
    with pytest.raises(UserError, match=r"'output' must be a price"):
        settings_from_dict({"prices": {"claude-opus-5": {"output": "cheap"}}}, source="c")


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
