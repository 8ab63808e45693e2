"""OpenAI models' context windows, read from `openai_models.toml` (data with its date and
source: OpenAI's models API lists ids only). Dated ids (`gpt-4o-mini-2024-07-18`) resolve
to their model; a model the file does not list has no known window (None: nothing is said).
"""

from __future__ import annotations

import re
from pathlib import Path

_DATED = re.compile(r"^(?P<base>.+?)-\d{4}-\d{2}-\d{2}$")
_windows: dict[str, int] | None = None


def _load() -> dict[str, int]:
    global _windows
    if _windows is None:
        import tomllib

        data = tomllib.loads(Path(__file__).with_name("openai_models.toml").read_text("utf-8"))
        _windows = {
            str(model): int(entry["context_window"]) for model, entry in data["models"].items()
        }
    return _windows


def context_window(model: str) -> int | None:
    """The tokens one request to `model` may hold (its context window), None if unknown."""
    windows = _load()
    model = model.strip()
    if model in windows:
        return windows[model]
    m = _DATED.match(model)
    return windows.get(m.group("base")) if m else None
