"""How each provider's batch ids look, and what of one is worth showing.

The one place an id's shape is written: the adapters' `batch_id_prefix` (the examples a
user is given, `Fleet.id_examples`), the dashboard's ID column, the short ids of both front
ends and the palette's search read it here, so a provider added to `ID_SHAPES` is shown
right with nothing changed in the front ends. A shape is for showing ids, never a rule of
whose an id is (`Fleet.locate` asks the stores and the APIs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IdShape:
    """A provider's batch ids: `prefix` then `body_chars` characters."""

    prefix: str
    body_chars: int
    shows_prefix: bool
    """Whether a screen shows the prefix: Anthropic's `msgbatch_` is left off (nine cells
    every id has), OpenAI's ids are shown whole (`batch_` + 32 characters)."""

    @property
    def shown_chars(self) -> int:
        """The characters of an id as a screen shows it."""
        return self.body_chars + (len(self.prefix) if self.shows_prefix else 0)


ID_SHAPES: dict[str, IdShape] = {
    "anthropic": IdShape("msgbatch_", 24, shows_prefix=False),
    "openai": IdShape("batch_", 32, shows_prefix=True),
}
DEFAULT_SHAPE = "anthropic"  # the `provider` setting's default; an unknown provider's ids


def id_shape(provider: str | None) -> IdShape | None:
    """The shape of `provider`'s batch ids; None for a provider without one here."""
    return ID_SHAPES.get(provider or "")


def id_body(batch_id: str, provider: str | None) -> str:
    """The id without its provider's prefix: what tells one batch from another (a search
    for "batch" must not find every batch)."""
    shape = id_shape(provider)
    return batch_id.removeprefix(shape.prefix) if shape is not None else batch_id


def shown_id(batch_id: str, provider: str | None) -> str:
    """The characters of an id worth showing: without a prefix its provider's shape leaves
    off, else whole (an id of a provider without a shape too)."""
    shape = id_shape(provider)
    if shape is None or shape.shows_prefix:
        return batch_id
    return batch_id.removeprefix(shape.prefix)


def shown_id_chars(providers: Iterable[str] = ()) -> int:
    """The widest shown id of `providers`' batches (none: the default provider's), so a
    column that wide cuts none of them."""
    widths = [s.shown_chars for p in providers if (s := id_shape(p)) is not None]
    return max(widths, default=ID_SHAPES[DEFAULT_SHAPE].shown_chars)


def short_id(batch_id: str, provider: str | None, keep: int = 12) -> str:
    """An id in at most `keep` characters where room is scarce (a notification, a panel's
    title): its body's first characters, `…`, its last three (`01HkcTja…V8d`); a body that
    fits, whole."""
    body = id_body(batch_id, provider)
    if len(body) <= keep:
        return body
    return body[: keep - 4] + "…" + body[-3:]
