"""Prices per model, and the cost of requests before and after a batch runs.

Prices are data: `prices.toml` beside this module (standard USD per million tokens, with
the date they are true as of and their source), overridden or extended by the user's
config (`[prices."model-id"]`). Batches cost `BATCH_DISCOUNT` of that on every token
category. A model without a price costs `None` ("unknown"), never a guess.

Estimates before submission use a local heuristic (`estimate_tokens`: characters / 4) for
input and each request's `max_tokens` for output, so `CostEstimate.batch_usd` is an upper
bound; `input_only_batch_usd` is the floor (no output at all).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .errors import UserError
from .models import CostEstimate

BATCH_DISCOUNT = 0.5
"""Batch price = standard price x this, on every token category, for every model
(the batch-processing page: "All usage is charged at 50% of the standard API prices")."""

IMAGE_TOKENS_ESTIMATE = 1600
"""Tokens assumed for an image or document block whose size is unknown before upload."""

_PRICE_KEYS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


@dataclass(frozen=True, slots=True)
class TierPrice:
    """One set of standard prices, USD per million tokens."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Standard (non-batch) prices of one model, and where they come from."""

    base: TierPrice
    source: str
    # Priced by prompt size (Haiku 5.5 above 100K; OpenAI's GPT-5.4 and later above 272K
    # input tokens): prompts above `threshold` tokens pay `above` on every token of the
    # request.
    threshold: int | None = None
    above: TierPrice | None = None

    @property
    def input_per_mtok(self) -> float:
        return self.base.input

    @property
    def output_per_mtok(self) -> float:
        return self.base.output

    def tier(self, prompt_tokens: int) -> TierPrice:
        if self.above is not None and self.threshold is not None and prompt_tokens > self.threshold:
            return self.above
        return self.base


class _Table:
    """The loaded price table (built-in file + user overrides)."""

    def __init__(self) -> None:
        self.builtin: dict[str, ModelPrice] = {}
        self.prices: dict[str, ModelPrice] = {}
        self.as_of = ""
        self.source = ""
        # provider → (as_of, source) of its section ("anthropic": the file's [meta])
        self.sources: dict[str, tuple[str, str]] = {}
        self.overridden = False


_table: _Table | None = None


def _tier(data: Mapping[str, Any], where: str, base: TierPrice | None = None) -> TierPrice:
    values: dict[str, float] = {}
    for key in _PRICE_KEYS:
        value = data.get(key)
        if value is None and base is not None:
            value = getattr(base, key)
        if value is None and key.startswith("cache_") and "input" in data:
            # Not given: the standard multipliers of the input price.
            factor = {"cache_write_5m": 1.25, "cache_write_1h": 2.0, "cache_read": 0.1}[key]
            value = float(data["input"]) * factor
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise UserError(f"{where}: '{key}' must be a price in USD per million tokens.")
        values[key] = float(value)
    return TierPrice(**values)


def _model_price(data: Mapping[str, Any], where: str, source: str) -> ModelPrice:
    if not isinstance(data, Mapping):
        raise UserError(f"{where} must be a table of prices.")
    unknown = set(data) - {*_PRICE_KEYS, "above"}
    if unknown:
        raise UserError(f"{where}: unknown price key '{sorted(unknown)[0]}'.")
    base = _tier(data, where)
    above = data.get("above")
    if above is None:
        return ModelPrice(base, source)
    if not isinstance(above, Mapping):
        raise UserError(f"{where}.above must be a table of prices.")
    threshold = above.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold <= 0:
        raise UserError(f"{where}.above: 'threshold' must be a positive number of tokens.")
    rest = {k: v for k, v in above.items() if k != "threshold"}
    return ModelPrice(base, source, threshold, _tier(rest, f"{where}.above", base))


def _load() -> _Table:
    global _table
    if _table is None:
        import tomllib  # here: only a cost needs it, not the first frame

        # beside this module (package data); not through importlib.resources, whose import
        # and first read cost the first frame ~2 ms
        raw = Path(__file__).with_name("prices.toml").read_text("utf-8")
        data = tomllib.loads(raw)
        table = _Table()
        meta = data["meta"]
        table.as_of = str(meta["as_of"])
        table.source = str(meta["source"])
        table.sources["anthropic"] = (table.as_of, table.source)
        label = f"prices.toml as of {table.as_of} ({table.source})"
        for model, entry in data["models"].items():
            table.builtin[model] = _model_price(entry, f"prices.toml: {model}", label)
        # Other providers' models, each section with its own date and source.
        for name, section in data.get("providers", {}).items():
            smeta = section["meta"]
            table.sources[name] = (str(smeta["as_of"]), str(smeta["source"]))
            slabel = f"prices.toml as of {smeta['as_of']} ({smeta['source']})"
            for model, entry in section["models"].items():
                table.builtin[model] = _model_price(entry, f"prices.toml: {name} {model}", slabel)
        table.prices = dict(table.builtin)
        _table = table
    return _table


def parse_overrides(overrides: Any, *, origin: str = "config") -> dict[str, ModelPrice]:
    """Check config `[prices."model-id"]` tables; bad values raise `UserError` naming the
    key. Keys not given keep the built-in price (or, for a new model, cache prices follow
    the standard multipliers of its input price)."""
    if not isinstance(overrides, Mapping):
        raise UserError(f"{origin}: 'prices' must be a table of models.")
    table = _load()
    out: dict[str, ModelPrice] = {}
    for model, entry in overrides.items():
        where = f'{origin}: prices."{model}"'
        if not isinstance(entry, Mapping):
            raise UserError(f"{where} must be a table of prices.")
        key = canonical_model(model)
        current = table.builtin.get(key)
        source = f'{origin} (prices."{model}")'
        if current is None:
            if "input" not in entry or "output" not in entry:
                raise UserError(f"{where}: a new model needs at least 'input' and 'output'.")
            out[key] = _model_price(entry, where, source)
            continue
        merged: dict[str, Any] = {k: getattr(current.base, k) for k in _PRICE_KEYS}
        merged.update(entry)
        if "above" not in entry and current.above is not None:
            merged["above"] = {"threshold": current.threshold} | {
                k: getattr(current.above, k) for k in _PRICE_KEYS
            }
        out[key] = _model_price(merged, where, source)
    return out


def set_overrides(prices: Mapping[str, ModelPrice]) -> None:
    """Use the built-in prices with `prices` (from `parse_overrides`) on top."""
    table = _load()
    table.prices = {**table.builtin, **prices}
    table.overridden = bool(prices)


def reset_prices() -> None:
    """Forget overrides (tests)."""
    set_overrides({})


def price_source(provider: str = "anthropic") -> str:
    """Where `provider`'s prices come from (its section of prices.toml: date and source),
    for a front end to show next to a cost of that provider's batch."""
    table = _load()
    as_of, source = table.sources.get(provider, (table.as_of, table.source))
    label = f"prices of {as_of} ({source})"
    return label + (", with overrides from config" if table.overridden else "")


def price_table() -> dict[str, ModelPrice]:
    """Every priced model id → its price (a copy)."""
    return dict(_load().prices)


def __getattr__(name: str) -> Any:
    if name == "PRICES":  # read lazily: loading the file is not needed for a first frame
        return price_table()
    raise AttributeError(name)


_ALIASES = {
    "claude-opus-4-0": "claude-opus-4",
    "claude-sonnet-4-0": "claude-sonnet-4",
    "claude-3-5-haiku-latest": "claude-3-5-haiku",
    "gpt-5.6": "gpt-5.6-sol",  # OpenAI's alias of GPT-5.6 Sol
}
# Dated ids: Anthropic's -20251001 / @20251001 / -latest, OpenAI's -2025-08-07.
_DATED = re.compile(r"^(?P<base>.+?)[-@](?:\d{8}|\d{4}-\d{2}-\d{2}|latest)$")


def canonical_model(model: str) -> str:
    """The table key for `model`: dated ids and aliases map to their base id."""
    model = model.strip()
    prices = _load().prices
    if model in prices:
        return model
    if model in _ALIASES:
        return _ALIASES[model]
    m = _DATED.match(model)
    if m:
        base = m.group("base")
        base = _ALIASES.get(base, base)
        if base in prices:
            return base
    return model


def price_for(model: str) -> ModelPrice | None:
    """The price of `model` (dated ids like claude-haiku-4-5-20251001 resolve); None if unknown."""
    return _load().prices.get(canonical_model(model))


def cost_usd(
    model: str,
    input_tokens: int,
    output_tokens: int,
    cache_creation: int = 0,
    cache_read: int = 0,
    batch: bool = True,
    *,
    cache_creation_1h: int = 0,
    tier_prompt: int | None = None,
) -> float | None:
    """Cost in USD of one request's usage; None when the model's price is unknown.

    `input_tokens` excludes cache tokens (as in the API's `usage`); `cache_creation` is
    5-minute cache writes (OpenAI's 30-minute ones), `cache_creation_1h` 1-hour writes
    (OpenAI's 12-hour ones), `cache_read` cache hits. A prompt-size tier applies per request:
    the request's prompt (every input token) picks it, unless `tier_prompt` names the prompt
    size to price at (0: the base tier, for totals of many requests).
    """
    price = price_for(model)
    if price is None:
        return None
    prompt = input_tokens + cache_creation + cache_creation_1h + cache_read
    t = price.tier(prompt if tier_prompt is None else tier_prompt)
    usd = (
        input_tokens * t.input
        + cache_creation * t.cache_write_5m
        + cache_creation_1h * t.cache_write_1h
        + cache_read * t.cache_read
        + output_tokens * t.output
    ) / 1_000_000
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


_OPENAI_BUDGETS = ("max_completion_tokens", "max_output_tokens", "max_tokens")


def openai_request_tokens(body: Mapping[str, Any]) -> tuple[int, int]:
    """(estimated input tokens, output budget) of one OpenAI request body: the body's JSON
    by the characters / 4 heuristic (messages, a responses or embeddings `input`,
    instructions and tools alike), and its endpoint's output budget field
    (`max_completion_tokens`, `max_output_tokens`, older `max_tokens`; none: 0, as for an
    embedding)."""
    tokens = estimate_tokens(orjson.dumps(body).decode())
    budget = openai_budget(body)
    return tokens, budget or 0


def openai_budget(body: Mapping[str, Any]) -> int | None:
    """The output budget an OpenAI request body sets (its endpoint's field), None when it
    sets none."""
    for key in _OPENAI_BUDGETS:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


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
            threshold = self._threshold[model] = price.threshold if price else None
        key = (model, threshold is not None and input_tokens > threshold)
        sums = self._tokens.get(key)
        if sums is None:
            self._tokens[key] = [input_tokens, max_tokens]
        else:
            sums[0] += input_tokens
            sums[1] += max_tokens

    def add_params(self, params: Mapping[str, Any], url: str | None = None) -> None:
        """Add one request: Message Batches params, or (`url` given: the OpenAI endpoint it
        targets) an OpenAI request body."""
        model = params.get("model")
        if url:
            self.add(model if isinstance(model, str) else "", *openai_request_tokens(params))
            return
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
            tier = price.above if long_tier and price.above is not None else price.base
            in_price, out_price = tier.input, tier.output
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
