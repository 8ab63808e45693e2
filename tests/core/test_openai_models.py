"""OpenAI models' limits (openai_models.toml, dated) and the default OpenAI model: the
cheapest current one, chosen from data, never a constant."""

from __future__ import annotations

from batchtop.core import openai_models, pricing


def test_context_windows_of_today_s_models() -> None:
    # the model pages of gpt-6.2-sol, gpt-6.1-terra and gpt-5.6-luna: 1,050,000 tokens
    for model in ("gpt-6.2-sol", "gpt-6.2-astra", "gpt-6.1-terra", "gpt-6-luna", "gpt-5.6-sol"):
        assert openai_models.context_window(model) == 1_050_000
    assert openai_models.context_window("gpt-4o-mini-2024-07-18") == 128_000
    assert openai_models.context_window("gpt-unknown") is None


def test_the_default_is_the_cheapest_current_model() -> None:
    # current: GPT-6.2 Astra ($8) and Sol ($2), GPT-6.1 Terra ($1), GPT-6 Luna ($0.10)
    assert openai_models.default_model() == "gpt-6-luna"
    # older, cheaper models (gpt-5-nano at $0.05) are not current: never the default
    nano = pricing.price_for("gpt-5-nano")
    assert nano is not None
    assert nano.input_per_mtok < 0.10
    # among the models the API lists (dated ids resolve)
    listed = ["gpt-6.2-sol", "gpt-6.1-terra-2026-10-26", "gpt-5-nano"]
    assert openai_models.default_model(listed) == "gpt-6.1-terra"
    assert openai_models.default_model(["text-embedding-3-small"]) is None


def test_the_default_follows_the_prices() -> None:
    """A price change moves the default: it is read from the price table, not written."""
    overrides = pricing.parse_overrides({"gpt-6.1-terra": {"input": 0.01}})
    pricing.set_overrides(overrides)
    try:
        assert openai_models.default_model() == "gpt-6.1-terra"
    finally:
        pricing.reset_prices()


def test_every_model_the_emulator_serves_has_a_price_and_text_ones_a_window() -> None:
    """The emulator's list stands in for OpenAI's: none of its models may cost "unknown"."""
    from batchtop.core.emulator.openai_api import models as served

    for model in served.MODELS:
        for name in (model.id, *model.aliases):
            assert pricing.price_for(name) is not None, name
            if model.kind == "text":
                assert openai_models.context_window(name) is not None, name
