"""The key bar at the bottom of every screen, as one widget that renders one line.

Textual's `Footer` recomposes a child widget per key whenever the screen's bindings change,
and they change on every focus move: pressing `/` to search, `enter` or `esc` to leave the
box. Mounting those children restyles the DOM — bench/ measured ~100 ms per focus change on
the results viewer, more than the search itself. `KeyFooter` draws the same keys (the
screen's active bindings, one per action, the command palette key on the right) as a single
`Text`, so a bindings change is a repaint. Clicking a key presses it; hovering shows its help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.widget import Widget

PINNED = ("help", "quit")
"""Binding ids drawn at the right end, where a narrow terminal never cuts them."""


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where one key is drawn, for clicks and hover."""

    start: int
    end: int
    key: str
    enabled: bool
    tooltip: str


class KeyFooter(Widget, can_focus=False):
    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "key-footer--key",
        "key-footer--description",
        "key-footer--hover",
    }
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        & > .key-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .key-footer--hover {
            background: $block-hover-background;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._slots: list[_Slot] = []
        self._hover: str | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: object) -> None:
        self.refresh()

    def _keys(self) -> tuple[list[tuple[Binding, bool, str]], tuple[Binding, bool, str] | None]:
        """The shown bindings, first per action as Footer does, and the palette binding."""
        active = self.screen.active_bindings
        seen: set[str] = set()
        shown: list[tuple[Binding, bool, str]] = []
        for _node, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                shown.append((binding, enabled, tooltip or binding.tooltip or binding.description))
        palette = None
        if self.app.ENABLE_COMMAND_PALETTE:
            found = active.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                _node, binding, enabled, tooltip = found
                palette = (binding, enabled, tooltip or binding.description)
        return shown, palette

    def _label(self, binding: Binding, enabled: bool) -> Text:
        key_style = self.get_component_rich_style("key-footer--key")
        desc_style = self.get_component_rich_style("key-footer--description")
        if binding.key == self._hover:
            hover = self.get_component_rich_style("key-footer--hover")
            key_style, desc_style = key_style + hover, desc_style + hover
        label = Text(no_wrap=True, end="")
        label.append(f" {self.app.get_key_display(binding)} ", style=key_style)
        if binding.description:
            label.append(f"{binding.description} ", style=desc_style)
        if not enabled:
            label.stylize(Style(dim=True))
        return label

    def render(self) -> Text:
        shown, palette = self._keys()
        pinned = [key for key in shown if key[0].id in PINNED]
        shown = [key for key in shown if key[0].id not in PINNED]
        width = self.size.width
        slots: list[_Slot] = []
        line = Text(no_wrap=True, end="")
        for binding, enabled, tooltip in shown:
            label = self._label(binding, enabled)
            start = line.cell_len
            line.append_text(label)
            slots.append(_Slot(start, line.cell_len, binding.key, enabled, tooltip))
        # On the right, never cut: help and quit, then the palette key.
        right = Text(no_wrap=True, end="")
        right_slots: list[tuple[int, int, Binding, bool, str]] = []
        for n, (binding, enabled, tooltip) in enumerate(pinned):
            if n == 0:
                right.append("▏", style=Style(dim=True))
            start = right.cell_len
            right.append_text(self._label(binding, enabled))
            right_slots.append((start, right.cell_len, binding, enabled, tooltip))
        if palette is not None:
            binding, enabled, tooltip = palette
            right.append("▏", style=Style(dim=True))
            start = right.cell_len
            right.append_text(self._label(binding, enabled))
            right_slots.append((start, right.cell_len, binding, enabled, tooltip))
        room = max(width - right.cell_len, 0)
        if line.cell_len > room:
            line.truncate(room, overflow="ellipsis")
            slots = [s for s in slots if s.end <= room]
        line.pad_right(room - line.cell_len)
        for start, end, binding, enabled, tooltip in right_slots:
            slots.append(_Slot(room + start, room + end, binding.key, enabled, tooltip))
        line.append_text(right)
        self._slots = slots
        return line

    def _slot_at(self, x: int) -> _Slot | None:
        return next((s for s in self._slots if s.start <= x < s.end), None)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        slot = self._slot_at(event.x)
        key = slot.key if slot is not None else None
        if key != self._hover:
            self._hover = key
            self.tooltip = slot.tooltip if slot is not None else None
            self.refresh()

    def on_leave(self) -> None:
        if self._hover is not None:
            self._hover = None
            self.tooltip = None
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        slot = self._slot_at(event.x)
        if slot is None:
            return
        if slot.enabled:
            self.app.simulate_key(slot.key)
        else:
            self.app.bell()
