"""The demo-mode banner: nothing in demo mode reaches Anthropic, and the user must know it.

While the demo starts (the emulator comes up and the sample workspace is seeded, behind the
first frame) the banner says so: that is the visible "starting" state.
"""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


def demo_text(who: str = "Anthropic") -> str:
    return f"DEMO — local emulator, nothing is sent to {who}"


def starting_text(who: str = "Anthropic") -> str:
    return f"DEMO — starting the local emulator… nothing is sent to {who}"  # fits 80 columns


DEMO_TEXT = demo_text()
STARTING_TEXT = starting_text()


class DemoBanner(Static):
    DEFAULT_CSS = """
    DemoBanner { dock: top; height: 1; width: 1fr; content-align: center middle;
                 background: $warning; color: $text; text-style: bold; }
    """

    starting: reactive[bool] = reactive(False)

    def __init__(
        self, providers: tuple[str, ...] = ("Anthropic",), *, starting: bool = False
    ) -> None:
        """`providers`: the names of the providers the demo emulates; `starting`: the demo
        is still starting (the text the first frame shows)."""
        self._who = " or ".join(providers)
        text = starting_text(self._who) if starting else demo_text(self._who)
        super().__init__(text, id="demo-banner", markup=False)
        self.set_reactive(DemoBanner.starting, starting)

    def watch_starting(self, starting: bool) -> None:
        self.update(starting_text(self._who) if starting else demo_text(self._who))
