"""User settings, read from `config.toml` in the config dir.

A missing file means defaults; a malformed file or value is a `UserError` naming the file and
the key. The API key is never read from or written to this file: it comes from the
environment (`ANTHROPIC_API_KEY`), like every Anthropic tool.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import paths
from .errors import UserError

if TYPE_CHECKING:
    from .pricing import ModelPrice

MIN_REFRESH_S = 5.0
# Nothing active: the table must still show batches other clients create, so polling goes
# on, slower (one list call every two minutes by default).
DEFAULT_IDLE_REFRESH_S = 120.0


@dataclass(frozen=True, slots=True)
class Settings:
    refresh_interval_s: float = 30.0
    idle_refresh_interval_s: float = DEFAULT_IDLE_REFRESH_S
    theme: str = "textual-dark"
    # None: the cheapest current model of the catalogue (model_catalog.default_model)
    default_model: str | None = None
    default_max_tokens: int = 1024
    max_requests_per_batch: int = 100_000
    max_bytes_per_batch: int = 256 * 1024 * 1024
    base_url: str | None = None
    # Which batch API batchtop talks to when none is given (`--provider`): anthropic, openai.
    provider: str = "anthropic"
    request_timeout_s: float = 60.0
    max_retries: int = 2
    notify_bell: bool = True
    # Desktop notifications when batches or jobs end (terminal OSC 9/777 or notify-send).
    desktop_notify: bool = True
    # `batchtop submit` asks first (a terminal) or needs --yes (a script) when the estimated
    # batch cost of a job is above this many US dollars.
    confirm_submit_above_usd: float = 5.0
    # action id -> keys, e.g. {"quit": "q,ctrl+q"}
    keymap: dict[str, str] = field(default_factory=dict)
    # model id -> its prices (config [prices."model-id"]), over the built-in price file
    prices: dict[str, ModelPrice] = field(default_factory=dict)
    # anthropic-beta values sent on every batch create (`submit --beta` adds more)
    betas: tuple[str, ...] = ()
    # `reconcile --delete-orphans` deletes an uploaded input file no batch uses only once it
    # is this old (server time): another client may be between its upload and its create.
    orphan_min_age_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.refresh_interval_s < MIN_REFRESH_S:
            object.__setattr__(self, "refresh_interval_s", MIN_REFRESH_S)
        if self.idle_refresh_interval_s < MIN_REFRESH_S:
            object.__setattr__(self, "idle_refresh_interval_s", MIN_REFRESH_S)

    @property
    def resolved_default_model(self) -> str:
        """The model used when none is given: the configured one, else the catalogue's."""
        if self.default_model:
            return self.default_model
        from .model_catalog import current

        return current().default_model() or ""

    @property
    def resolved_base_url(self) -> str | None:
        return os.environ.get("ANTHROPIC_BASE_URL") or self.base_url


_ZERO_ALLOWED = frozenset({"max_retries", "orphan_min_age_s"})
_TYPES: dict[str, tuple[type, ...]] = {
    "refresh_interval_s": (int, float),
    "idle_refresh_interval_s": (int, float),
    "theme": (str,),
    "default_model": (str,),
    "default_max_tokens": (int,),
    "max_requests_per_batch": (int,),
    "max_bytes_per_batch": (int,),
    "base_url": (str,),
    "provider": (str,),
    "request_timeout_s": (int, float),
    "max_retries": (int,),
    "notify_bell": (bool,),
    "desktop_notify": (bool,),
    "confirm_submit_above_usd": (int, float),
    "orphan_min_age_s": (int, float),
}


#: what an anthropic-beta value looks like (`files-api-2025-04-14`): the header is a
#: comma-separated list, so a comma, a space or a control character cannot be one
_BETA_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def check_betas(values: Iterable[str], *, origin: str = "--beta") -> tuple[str, ...]:
    """anthropic-beta names, each once, in order; a malformed one is a `UserError`. Whether
    the API knows a name is the API's to say (it refuses unknown ones on create)."""
    out: list[str] = []
    for value in values:
        name = value.strip()
        if not name or not set(name) <= _BETA_CHARS:
            raise UserError(
                f"{origin}: {value!r} is not an anthropic-beta name (letters, digits, '-', '_',"
                " '.'; e.g. files-api-2025-04-14)."
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def load_settings(path: Path | None = None) -> Settings:
    """Read settings from `path` (default: the config file); missing file → defaults."""
    path = path or paths.config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise UserError(f"Cannot read the config file {path}: {exc.strerror}.") from exc
    import tomllib  # here, not at the top: most users have no config file (~2 ms at start)

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"The config file {path} is not valid TOML: {exc}.") from exc
    return settings_from_dict(data, source=str(path))


def settings_from_dict(data: dict[str, Any], *, source: str = "config") -> Settings:
    known = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise UserError(f"{source}: unknown setting '{key}'.")
        if key == "keymap":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise UserError(f"{source}: 'keymap' must map action ids to key strings.")
            values[key] = dict(value)
            continue
        if key == "betas":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UserError(f"{source}: 'betas' must be a list of anthropic-beta names.")
            values[key] = check_betas(value, origin=f"{source}: 'betas'")
            continue
        if key == "prices":
            from .pricing import parse_overrides

            values[key] = parse_overrides(value, origin=source)
            continue
        expected = _TYPES[key]
        if isinstance(value, bool) and bool not in expected:
            raise UserError(f"{source}: '{key}' must be a {expected[0].__name__}.")
        if not isinstance(value, expected):
            raise UserError(f"{source}: '{key}' must be a {expected[0].__name__}.")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value < 0 or (value == 0 and key not in _ZERO_ALLOWED):
                raise UserError(f"{source}: '{key}' must be positive.")
            values[key] = float(value) if float in expected else value
        else:
            values[key] = value
    return replace(Settings(), **values)
