"""Workarounds for known Textual bugs, applied when the app module is imported.

- `StylesCache.get_inner_outer` is an instance method under `functools.lru_cache(1024)`
  (Textualize/textual#6665): the cache keys hold the `StylesCache` of up to 1,024 widgets
  long removed, each with every line it rendered. Opening and closing the statistics view
  left ~13 of them per visit, and the cyclic GC's full passes, walking all of it, made the
  slowest openings several times slower than the rest. The two styles depend on the colours
  alone: cached on those, nothing of a widget is kept.
"""

from __future__ import annotations

from functools import lru_cache

from textual._styles_cache import StylesCache
from textual.color import Color
from textual.style import Style


@lru_cache(1024)
def _inner_outer(base_background: Color, background: Color) -> tuple[Style, Style]:
    return Style(background=base_background + background), Style(background=base_background)


def _get_inner_outer(
    _cache: StylesCache, base_background: Color, background: Color
) -> tuple[Style, Style]:
    return _inner_outer(base_background, background)


def apply() -> None:
    """Replace the method when it is still the one keyed on the instance (idempotent)."""
    if hasattr(StylesCache.get_inner_outer, "cache_info"):
        StylesCache.get_inner_outer = _get_inner_outer  # type: ignore[method-assign,assignment]
