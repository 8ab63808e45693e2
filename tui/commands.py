"""Command palette (`ctrl+p`): every batchtop action, found by name ("batch: cancel"), and
every batch, found by label, id or job name ("nightly" → go to that batch).

Commands come from the same key table as the bindings (`keys.py`), and show the key that
currently triggers them (after keymap overrides), so the palette also teaches the keys.
Textual's own commands (theme, keys, quit, …) stay listed; ours leave out what they cover.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from batchtop.core.providers.ids import id_body
from rich.text import Text
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import ModalScreen, Screen

from .format import gap, status_label
from .keys import APP_KEYS, DASHBOARD_KEYS, Key
from .safe_text import clean, literal_line
from .screens.dashboard import DashboardScreen
from .screens.rows import SORTS

MAX_BATCH_HITS = 30
FUZZY_UP_TO = 2_000
"""Batches found by substring, ranked by the fuzzy matcher up to this many (scoring
10,000 labels per keystroke would make typing lag; above it, in their dashboard order)."""


@dataclass(frozen=True, slots=True)
class Command:
    title: str
    help: str
    action: str
    target: Screen[object] | None  # None: an app action


class BatchtopCommands(Provider):
    def _entries(self) -> Iterator[Command]:
        screen = self.screen
        on_dashboard = isinstance(screen, DashboardScreen)
        # The keys that trigger each binding id now (keymap applied): the keys users press.
        pressed: dict[str, list[str]] = {}
        for pressed_key, active in screen.active_bindings.items():
            if active.binding.id:
                pressed.setdefault(active.binding.id, []).append(pressed_key)

        def label(key: Key) -> str:
            keys = pressed.get(key.id) or key.key.split(",")
            shown = ", ".join(self.app.get_key_display(Binding(k, "")) for k in keys)
            return f"{key.help} · key {shown}"

        for key in APP_KEYS:
            if key.palette:
                yield Command(key.palette, label(key), key.action, None)
        if on_dashboard:
            for key in DASHBOARD_KEYS:
                if key.palette:
                    yield Command(key.palette, label(key), key.action, screen)
            for name, column in SORTS:
                yield Command(
                    f"sort: by {column.lower()}",
                    f"Sort the table by {column} (s cycles the column, S inverts)",
                    f"sort_by('{name}')",
                    screen,
                )

    def _run(self, command: Command) -> None:
        if command.target is None:
            self.app.call_later(self.app.run_action, command.action)
        else:
            self.app.call_later(self.app.run_action, command.action, command.target)

    async def discover(self) -> Hits:
        for command in self._entries():
            yield DiscoveryHit(command.title, partial(self._run, command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._entries():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    partial(self._run, command),
                    help=command.help,
                )


def searched_text(batch_id: str, label: str, job: str, provider: str | None) -> str:
    """What the palette matches a batch by: its label, its id without the provider's
    prefix ("batch" must not find every batch) and its job's name."""
    return f"{label} {id_body(batch_id, provider)} {job}".strip()


class BatchFinder(Provider):
    """Any batch by its label, id or job name, from any screen: the hit goes to the
    dashboard and puts the cursor on it."""

    def _dashboard(self) -> DashboardScreen | None:
        return next((s for s in self.app.screen_stack if isinstance(s, DashboardScreen)), None)

    async def search(self, query: str) -> Hits:
        dashboard = self._dashboard()
        needle = query.strip().casefold()
        if dashboard is None or not needle:
            return
        matcher = self.matcher(query)
        found = 0
        candidates = dashboard.find_candidates()
        fuzzy = len(candidates) <= FUZZY_UP_TO
        for batch_id, label, job in candidates:
            batch = dashboard.batch_view(batch_id)
            hay = searched_text(batch_id, label, job, batch.remote.provider if batch else None)
            if needle not in hay.casefold():  # a label or id as typed, in any case
                continue
            score = matcher.match(hay) if fuzzy else 1.0
            if score <= 0:
                continue
            state = status_label(batch) if batch is not None else ""
            title = Text(literal_line(label) if label else "(no label)")
            gap(title)
            title.append(batch_id, style="dim")
            yield Hit(
                score,
                title,
                partial(self._go, batch_id),
                text=f"go to: {label} {batch_id}",
                help=f"go to this batch · {state}" + (f" · job {clean(job)}" if job else ""),
            )
            found += 1
            if found >= MAX_BATCH_HITS:
                return

    def _go(self, batch_id: str) -> None:
        dashboard = self._dashboard()
        if dashboard is None:
            return
        if isinstance(self.app.screen, ModalScreen):
            self.app.notify("Close the dialog first.", severity="warning")
            return
        while self.app.screen is not dashboard and len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        dashboard.show_batch(batch_id)
