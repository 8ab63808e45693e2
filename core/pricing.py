"""Prices per model, and the cost of requests before and after a batch runs.

Prices are standard USD per million tokens from the Anthropic pricing pages (Nov 2026, see
the API reference §9); batches cost `BATCH_DISCOUNT` of that on every token category. The
table is data, not logic: a model missing here costs `None` ("unknown"), never a guess.

Estimates before submission use a local heuristic (`estimate_tokens`: characters / 4) for
input and each request's `max_tokens` for output, so `CostEstimate.batch_usd` is an upper
bound; `input_only_batch_usd` is the floor (no output at all).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .models import CostEstimate

BATCH_DISCOUNT = 0.5
"""Batch price = standard price × this, on input and output, for every model."""

CACHE_WRITE_5M_MULTIPLIER = 1.25
CACHE_WRITE_1H_MULTIPLIER = 2.0
CACHE_READ_MULTIPLIER = 0.1
"""Default cache-read multiplier; some models read cache cheaper (see ModelPrice)."""

IMAGE_TOKENS_ESTIMATE = 1600
"""Tokens assumed for an image or document block whose size is unknown before upload."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Standard (non-batch) price of one model, USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float
    max_output_tokens: int | None  # None: not documented here, not checked
    display_name: str
    cache_read_multiplier: float = CACHE_READ_MULTIPLIER
    # Tiered models (Haiku 5.5): prompts above the threshold pay the long-context prices.
    long_context_threshold: int | None = None
    long_input_per_mtok: float | None = None
    long_output_per_mtok: float | None = None
    # Output above max_output_tokens is allowed up to this with a beta header (5.x models).
    beta_max_output_tokens: int | None = None


def _p(
    inp: float,
    out: float,
    max_out: int | None,
    name: str,
    **kw: Any,
) -> ModelPrice:
    return ModelPrice(inp, out, max_out, name, **kw)


_5X = {"beta_max_output_tokens": 300_000}

PRICES: dict[str, ModelPrice] = {
    # 5.x lineup: 128K output normally, 300K with the output-300k beta.
    "claude-fable-5-2": _p(8, 40, 128_000, "Claude Fable 5.2", **_5X),
    "claude-fable-5-1": _p(10, 50, 128_000, "Claude Fable 5.1", cache_read_multiplier=0.025, **_5X),
    "claude-mythos-5-1": _p(
        10, 50, 128_000, "Claude Mythos 5.1", cache_read_multiplier=0.025, **_5X
    ),
    "claude-opus-5-5": _p(4, 20, 128_000, "Claude Opus 5.5", cache_read_multiplier=0.05, **_5X),
    "claude-opus-5": _p(5, 25, 128_000, "Claude Opus 5", **_5X),
    "claude-sonnet-5-5": _p(2, 10, 128_000, "Claude Sonnet 5.5", **_5X),
    "claude-sonnet-5": _p(2, 10, 128_000, "Claude Sonnet 5", **_5X),
    "claude-haiku-5-5": _p(
        0.10,
        0.50,
        128_000,
        "Claude Haiku 5.5",
        long_context_threshold=100_000,
        long_input_per_mtok=0.50,
        long_output_per_mtok=2.50,
        **_5X,
    ),
    # 4.x lineup.
    "claude-opus-4-8": _p(5, 25, None, "Claude Opus 4.8"),
    "claude-opus-4-7": _p(5, 25, None, "Claude Opus 4.7"),
    "claude-opus-4-6": _p(5, 25, 128_000, "Claude Opus 4.6"),
    "claude-opus-4-5": _p(5, 25, 64_000, "Claude Opus 4.5"),
    "claude-sonnet-4-6": _p(3, 15, 64_000, "Claude Sonnet 4.6"),
    "claude-sonnet-4-5": _p(3, 15, 64_000, "Claude Sonnet 4.5"),
    "claude-haiku-4-5": _p(1, 5, 64_000, "Claude Haiku 4.5"),
    # Older models still listed in the batch price table.
    "claude-opus-4-1": _p(15, 75, 32_000, "Claude Opus 4.1"),
    "claude-opus-4": _p(15, 75, 32_000, "Claude Opus 4"),
    "claude-sonnet-4": _p(3, 15, 64_000, "Claude Sonnet 4"),
    "claude-3-5-haiku": _p(0.80, 4, 8_192, "Claude Haiku 3.5"),
}

KNOWN_MODELS: frozenset[str] = frozenset(
    {
        *PRICES,
        # In the SDK's model list, but without a published price in our reference: known
        # (no "unknown model" warning), cost unknown.
        "claude-mythos-5-2",
        "claude-fable-5",
        "claude-mythos-5",
        "claude-mythos-preview",
    }
)

_ALIASES = {
    "claude-opus-4-0": "claude-opus-4",
    "claude-sonnet-4-0": "claude-sonnet-4",
    "claude-3-5-haiku-latest": "claude-3-5-haiku",
}
_DATED = re.compile(r"^(?P<base>.+?)[-@](?:\d{8}|latest)$")


def canonical_model(model: str) -> str:
    """The table key for `model`: dated ids and aliases map to their base id."""
    model = model.strip()
    if model in PRICES or model in KNOWN_MODELS:
        return model
    if model in _ALIASES:
        return _ALIASES[model]
    m = _DATED.match(model)
    if m:
        base = m.group("base")
        base = _ALIASES.get(base, base)
        if base in KNOWN_MODELS:
            return base
    return model


def is_known_model(model: str) -> bool:
    return canonical_model(model) in KNOWN_MODELS


def price_for(model: str) -> ModelPrice | None:
    """The price of `model` (dated ids like claude-haiku-4-5-20251001 resolve); None if unknown."""
    return PRICES.get(canonical_model(model))


def max_output_tokens(model: str) -> int | None:
    price = price_for(model)
    return price.max_output_tokens if price else None


def cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_creation: int = 0,
    cache_read: int = 0,
    batch: bool = True,
    *,
    cache_creation_1h: int = 0,
) -> float | None:
    """Cost in USD of one request's usage; None when the model's price is unknown.

    `input_tokens` excludes cache tokens (as in the API's `usage`); `cache_creation` is
    5-minute cache writes, `cache_creation_1h` 1-hour writes, `cache_read` cache hits.
    """
    price = price_for(model)
    if price is None:
        return None
    in_price, out_price = price.input_per_mtok, price.output_per_mtok
    total_prompt = input_tokens + cache_creation + cache_creation_1h + cache_read
    if price.long_context_threshold is not None and total_prompt > price.long_context_threshold:
        in_price = price.long_input_per_mtok or in_price
        out_price = price.long_output_per_mtok or out_price
    input_units = (
        input_tokens
        + cache_creation * CACHE_WRITE_5M_MULTIPLIER
        + cache_creation_1h * CACHE_WRITE_1H_MULTIPLIER
        + cache_read * price.cache_read_multiplier
    )
    usd = (input_units * in_price + output_tokens * out_price) / 1_000_000
    return usd * BATCH_DISCOUNT if batch else usd


def estimate_tokens(text: str) -> int:
    """Rough token count: characters / 4, rounded up (so any non-empty text is >= 1)."""
    return tokens_for_chars(len(text))


def tokens_for_chars(chars: int) -> int:
    return math.ceil(chars / 4) if chars > 0 else 0


# --- estimates before submission ---------------------------------------------------------


def _content_chars(content: Any) -> tuple[int, int]:
    """(characters of text, extra tokens for media) in a message content or system value."""
    if isinstance(content, str):
        return len(content), 0
    chars = 0
    extra = 0
    if isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                chars += len(block)
            elif isinstance(block, dict):
                kind = block.get("type")
                text = block.get("text")
                if isinstance(text, str):
                    chars += len(text)
                elif kind in ("image", "document"):
                    extra += IMAGE_TOKENS_ESTIMATE
                elif kind == "tool_result":
                    c, e = _content_chars(block.get("content"))
                    chars += c
                    extra += e
                elif kind == "tool_use":
                    chars += len(repr(block.get("input", "")))
    return chars, extra


def request_input_tokens(params: Mapping[str, Any]) -> int:
    """Estimated input tokens of one request's params: system + messages (+ tools)."""
    chars, extra = _content_chars(params.get("system"))
    messages = params.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                c, e = _content_chars(message.get("content"))
                chars += c
                extra += e
    tools = params.get("tools")
    if isinstance(tools, list) and tools:
        chars += len(repr(tools))
    return tokens_for_chars(chars) + extra


class CostAccumulator:
    """Sums per-request estimates while an importer streams; `result()` gives the estimate.

    Cost is linear in tokens per model (and per price tier), so `add` only adds integers;
    prices are applied once in `result()`.
    """

    def __init__(self) -> None:
        self.input_tokens = 0
        self.max_output_tokens = 0
        self._tokens: dict[tuple[str, bool], list[int]] = {}  # (model, long tier) → [in, out]
        self._threshold: dict[str, int | None] = {}

    def add(self, model: str, input_tokens: int, max_tokens: int) -> None:
        self.input_tokens += input_tokens
        self.max_output_tokens += max_tokens
        try:
            threshold = self._threshold[model]
        except KeyError:
            price = price_for(model)
            threshold = self._threshold[model] = price.long_context_threshold if price else None
        key = (model, threshold is not None and input_tokens > threshold)
        sums = self._tokens.get(key)
        if sums is None:
            self._tokens[key] = [input_tokens, max_tokens]
        else:
            sums[0] += input_tokens
            sums[1] += max_tokens

    def add_params(self, params: Mapping[str, Any]) -> None:
        model = params.get("model")
        max_tokens = params.get("max_tokens")
        self.add(
            model if isinstance(model, str) else "",
            request_input_tokens(params),
            max_tokens if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) else 0,
        )

    def result(self) -> CostEstimate:
        standard = input_only = 0.0
        unknown: dict[str, None] = {}
        for (model, long_tier), (tokens_in, tokens_out) in self._tokens.items():
            price = price_for(model)
            if price is None:
                unknown.setdefault(model, None)
                continue
            in_price, out_price = price.input_per_mtok, price.output_per_mtok
            if long_tier:
                in_price = price.long_input_per_mtok or in_price
                out_price = price.long_output_per_mtok or out_price
            standard += (tokens_in * in_price + tokens_out * out_price) / 1_000_000
            input_only += tokens_in * in_price / 1_000_000
        return CostEstimate(
            input_tokens=self.input_tokens,
            max_output_tokens=self.max_output_tokens,
            batch_usd=standard * BATCH_DISCOUNT,
            standard_usd=standard,
            unknown_models=tuple(unknown),
            input_only_batch_usd=input_only * BATCH_DISCOUNT,
            input_only_standard_usd=input_only,
        )


def estimate_cost(requests: Iterable[Mapping[str, Any]]) -> CostEstimate:
    """Estimate a set of requests (native `{custom_id, params}` or bare params dicts).

    `batch_usd`/`standard_usd` assume every request writes its full `max_tokens` (an upper
    bound); `input_only_*` count input alone. Requests on unknown models add tokens but no
    cost and are listed in `unknown_models`.
    """
    acc = CostAccumulator()
    for req in requests:
        params = req.get("params", req)
        if isinstance(params, Mapping):
            acc.add_params(params)
    return acc.result()
