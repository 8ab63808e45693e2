"""The demo-mode banner: nothing in demo mode reaches Anthropic, and the user must know it.

While the demo starts (the emulator comes up and the sample workspace is seeded, behind the
first frame) the banner says so: that is the visible "starting" state.
"""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

DEMO_TEXT = "DEMO — local emulator, nothing is sent to Anthropic"
STARTING_TEXT = (
    "DEMO — starting a local emulator with a sample workspace… (nothing is sent to Anthropic)"
)


class DemoBanner(Static):
    DEFAULT_CSS = """
    DemoBanner { dock: top; height: 1; width: 1fr; content-align: center middle;
                 background: $warning; color: $text; text-style: bold; }
    """

    starting: reactive[bool] = reactive(False)

    def __init__(self) -> None:
        super().__init__(DEMO_TEXT, id="demo-banner", markup=False)

    def watch_starting(self, starting: bool) -> None:
        self.update(STARTING_TEXT if starting else DEMO_TEXT)
