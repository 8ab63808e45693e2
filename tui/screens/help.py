"""`?`: the keys of the screen underneath, read from its real (keymap-applied) bindings."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from ..keys import HELP_KEYS, bindings


def bindings_table(screen: Screen[object]) -> Table:
    """One row per active binding of `screen`: key, description, help text."""
    app = screen.app
    seen: dict[str, list[str]] = {}
    rows: list[tuple[str, str, str, bool]] = []
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if binding.system or not (binding.description or binding.tooltip):
            continue
        ident = binding.id or f"{binding.action}:{binding.description}"
        display = app.get_key_display(binding.with_key(key))
        if ident in seen:
            seen[ident].append(display)
            continue
        seen[ident] = [display]
        ours = binding.id is not None
        rows.append((ident, binding.description, active.tooltip or binding.tooltip, ours))
    rows.sort(key=lambda row: not row[3])  # batchtop's keys first, widget navigation after
    table = Table(box=None, show_header=True, header_style="bold", expand=True)
    table.add_column("key", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("what it does")
    table.add_column("id (for keymap)", style="dim", no_wrap=True)
    for ident, description, tooltip, ours in rows:
        keys = Text(" ".join(seen[ident]), style="bold" if ours else "")
        table.add_row(keys, Text(description), Text(tooltip), Text(ident if ours else ""))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = bindings(HELP_KEYS)

    def __init__(self, of: Screen[object], title: str = "Keys") -> None:
        super().__init__(classes="dialog-screen")
        self._table = bindings_table(of)
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help-dialog"):
            yield Static(Text(self._title), classes="dialog-title")
            with VerticalScroll():
                yield Static(self._table, id="help-table")
            yield Static(
                Text(
                    "ctrl+p lists every command · keys can be remapped by id in config.toml"
                    " · esc closes",
                    style="dim",
                ),
                classes="dialog-body",
            )

    def action_close(self) -> None:
        self.dismiss(None)
