"""Command palette (`ctrl+p`): every batchtop action, found by name ("batch: cancel").

Commands come from the same key table as the bindings (`keys.py`), and show the key that
currently triggers them (after keymap overrides), so the palette also teaches the keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

from .keys import APP_KEYS, DASHBOARD_KEYS, Key


class BatchtopCommands(Provider):
    def _entries(self) -> Iterator[tuple[str, str, Screen[object] | None]]:
        """(title, help, target) — target None means an app action."""
        keymap = self.app._keymap  # the applied keymap: show the keys users really press
        screen = self.screen
        on_dashboard = screen.id == "dashboard"

        def label(key: Key) -> str:
            keys = keymap.get(key.id, key.key)
            shown = ", ".join(self.app.get_key_display(Binding(k, "")) for k in keys.split(","))
            return f"{key.help} · key {shown}"

        for key in APP_KEYS:
            if key.palette:
                yield key.palette, label(key), None
        if on_dashboard:
            for key in DASHBOARD_KEYS:
                if key.palette:
                    yield key.palette, label(key), screen

    def _run(self, key_title: str, target: Screen[object] | None) -> None:
        action = next(k.action for k in (*APP_KEYS, *DASHBOARD_KEYS) if k.palette == key_title)
        if target is None:
            self.app.call_later(self.app.run_action, action)
        else:
            self.app.call_later(self.app.run_action, action, target)

    async def discover(self) -> Hits:
        for title, help_text, target in self._entries():
            yield DiscoveryHit(title, partial(self._run, title, target), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, target in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(self._run, title, target),
                    help=help_text,
                )
