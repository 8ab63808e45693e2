"""Which models exist, what they accept, and which one batchtop uses by default.

The catalogue is what `GET /v1/models` reports (ids, lifecycle, limits), cached in the
store and refreshed at start and daily by the service. Until a live catalogue is known,
`model_catalog.toml` beside this module (a dated snapshot of the same answer) stands in.
Checks before submit (`request_checks`) and the default model read `current()`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .models import ModelInfo

_DATED = re.compile(r"^(?P<base>.+?)-\d{8}$")


@dataclass(slots=True)
class ModelCatalog:
    models: tuple[ModelInfo, ...]
    source: str
    fetched_at: str | None = None  # ISO time of the live fetch; None: the built-in file
    _by_name: dict[str, ModelInfo] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        by_name: dict[str, ModelInfo] = {}
        for m in self.models:
            by_name.setdefault(m.id, m)
            for alias in m.aliases:
                by_name.setdefault(alias, m)
        self._by_name = by_name

    def lookup(self, model: str, *, exact: bool = False) -> ModelInfo | None:
        """The model for an id, an alias, or (unless `exact`) a dated id of a known id."""
        model = model.strip()
        found = self._by_name.get(model)
        if found is None and not exact:
            m = _DATED.match(model)
            if m:
                found = self._by_name.get(m.group("base"))
        return found

    def default_model(self) -> str | None:
        """The cheapest active model (by input price; newest first among equals), or the
        newest active one when no price is known."""
        from .pricing import price_for

        active = [m for m in self.models if m.lifecycle == "active"]
        if not active:
            return None
        newest_first = sorted(active, key=lambda m: m.created_at, reverse=True)
        priced = [(price_for(m.id), i, m) for i, m in enumerate(newest_first)]
        with_price = [(p.input_per_mtok, i, m) for p, i, m in priced if p is not None]
        if with_price:
            return min(with_price, key=lambda t: (t[0], t[1]))[2].id
        return newest_first[0].id


def _info(entry: Mapping[str, Any]) -> ModelInfo:
    def opt_int(key: str) -> int | None:
        value = entry.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def opt_str(key: str) -> str | None:
        value = entry.get(key)
        return str(value) if value is not None else None

    return ModelInfo(
        id=str(entry["id"]),
        display_name=str(entry.get("display_name") or entry["id"]),
        created_at=str(entry.get("created_at") or ""),
        lifecycle=str(entry.get("lifecycle") or "active"),
        max_input_tokens=opt_int("max_input_tokens"),
        max_tokens=opt_int("max_tokens"),
        deprecated_at=opt_str("deprecated_at"),
        retires_at=opt_str("retires_at"),
        line=opt_str("line"),
        aliases=tuple(str(a) for a in entry.get("aliases") or ()),
        batch_max_tokens_beta=opt_int("batch_max_tokens_beta"),
        thinking=str(entry.get("thinking") or "off"),
    )


_builtin: ModelCatalog | None = None
_current: ModelCatalog | None = None


def builtin_catalog() -> ModelCatalog:
    """The catalogue file shipped with batchtop (also what the emulator serves)."""
    global _builtin
    if _builtin is None:
        import tomllib
        from importlib import resources  # only when the catalogue is read

        raw = resources.files(__package__).joinpath("model_catalog.toml").read_text("utf-8")
        data = tomllib.loads(raw)
        meta = data["meta"]
        _builtin = ModelCatalog(
            tuple(_info(e) for e in data["models"]),
            source=f"model_catalog.toml as of {meta['as_of']}",
        )
    return _builtin


def from_api(models: Iterable[Mapping[str, Any]], fetched_at: str) -> ModelCatalog:
    """A live catalogue from the Models API's entries (dicts with the API's field names).
    What the API does not report (aliases, the Batch API's beta output limit, default
    thinking) is taken from the built-in file for the models it knows."""
    builtin = builtin_catalog()
    out: list[ModelInfo] = []
    for entry in models:
        info = _info(entry)
        known = builtin.lookup(info.id)
        if known is not None:
            info = replace(
                info,
                aliases=known.aliases if known.id == info.id else info.aliases,
                batch_max_tokens_beta=known.batch_max_tokens_beta,
                thinking=known.thinking,
            )
        out.append(info)
    return ModelCatalog(tuple(out), source="the Models API", fetched_at=fetched_at)


def current() -> ModelCatalog:
    """The catalogue checks use now: the live one once known, else the built-in file."""
    return _current if _current is not None else builtin_catalog()


def set_current(catalog: ModelCatalog | None) -> None:
    global _current
    _current = catalog


def to_api_dict(info: ModelInfo) -> dict[str, Any]:
    """A model as the Models API's JSON (the emulator serves this; the store caches it)."""
    return {
        "type": "model",
        "id": info.id,
        "display_name": info.display_name,
        "created_at": info.created_at,
        "lifecycle": info.lifecycle,
        "deprecated_at": info.deprecated_at,
        "retires_at": info.retires_at,
        "line": info.line,
        "max_input_tokens": info.max_input_tokens,
        "max_tokens": info.max_tokens,
    }
