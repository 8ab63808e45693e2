"""A path `Input` that completes file names (tab or →), like a shell."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from textual.binding import BindingType
from textual.suggester import Suggester
from textual.widgets import Input

from ..keys import PATH_INPUT_KEYS, bindings


class PathSuggester(Suggester):
    """Suggests the first entry of the typed directory that starts with the typed name."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value)


def complete_path(value: str) -> str | None:
    """The first completion of `value` in its directory (hidden files only when asked)."""
    if not value:
        return None
    expanded = os.path.expanduser(value)
    directory, prefix = os.path.split(expanded)
    try:
        with os.scandir(directory or ".") as entries:
            names = sorted(
                (e.name + ("/" if e.is_dir() else ""))
                for e in entries
                if e.name.startswith(prefix) and (prefix.startswith(".") or e.name[0] != ".")
            )
    except OSError:
        return None
    for name in names:
        if name != prefix:
            return value[: len(value) - len(prefix)] + name
    return None


class PathInput(Input):
    """`tab` accepts the completion (falls back to moving focus when there is none)."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(PATH_INPUT_KEYS)

    def __init__(self, value: str = "", **kwargs: object) -> None:
        super().__init__(value, suggester=PathSuggester(), **kwargs)  # type: ignore[arg-type]

    def action_complete(self) -> None:
        if self._suggestion and self._suggestion != self.value:
            self.value = self._suggestion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()

    @property
    def path(self) -> Path | None:
        text = self.value.strip()
        return Path(text).expanduser() if text else None
