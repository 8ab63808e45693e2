"""OpenAI models' limits and line-up, read from `openai_models.toml` (data with its date and
source: OpenAI's models API lists ids only). Dated ids (`gpt-4o-mini-2024-07-18`) resolve
to their model; a model the file does not list has no known window (None: nothing is said).

The default OpenAI model is chosen, never written in code: the cheapest (input price) of the
models the file marks current that have a price, newest first among equals, and among those
the API lists when its list is known (`default_model`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

_DATED = re.compile(r"^(?P<base>.+?)-\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class _Model:
    context_window: int
    released: str
    current: bool


_models: dict[str, _Model] | None = None


def _load() -> dict[str, _Model]:
    global _models
    if _models is None:
        import tomllib

        data = tomllib.loads(Path(__file__).with_name("openai_models.toml").read_text("utf-8"))
        models: dict[str, _Model] = {}
        for model, entry in data["models"].items():
            info = _Model(
                int(entry["context_window"]),
                str(entry.get("released", "")),
                entry.get("current") is True,
            )
            models[str(model)] = info
            for alias in entry.get("aliases", ()):
                models.setdefault(str(alias), replace(info, current=False))
        _models = models
    return _models


def _base(model: str) -> str:
    model = model.strip()
    if model in _load():
        return model
    m = _DATED.match(model)
    return m.group("base") if m else model


def context_window(model: str) -> int | None:
    """The tokens one request to `model` may hold (its context window), None if unknown."""
    found = _load().get(_base(model))
    return found.context_window if found is not None else None


def default_model(listed: Iterable[str] | None = None) -> str | None:
    """The cheapest current OpenAI model (by input price; newest first among equals), among
    `listed` (the ids the API lists, dated ones included) when given; None when none is
    priced."""
    from .pricing import price_for

    models = _load()
    names = None if listed is None else {_base(name) for name in listed}
    candidates = [
        (price.input_per_mtok, name)
        for name, info in sorted(models.items(), key=lambda kv: kv[1].released, reverse=True)
        if info.current and (names is None or name in names)
        for price in (price_for(name),)
        if price is not None
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda c: c[0])[1]  # min keeps the first (newest) of equals
