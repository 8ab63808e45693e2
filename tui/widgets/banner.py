"""The demo-mode banner: nothing in demo mode reaches Anthropic, and the user must know it."""

from __future__ import annotations

from textual.widgets import Static

DEMO_TEXT = "DEMO — local emulator, nothing is sent to Anthropic"


class DemoBanner(Static):
    DEFAULT_CSS = """
    DemoBanner { dock: top; height: 1; width: 1fr; content-align: center middle;
                 background: $warning; color: $text; text-style: bold; }
    """

    def __init__(self) -> None:
        super().__init__(DEMO_TEXT, id="demo-banner", markup=False)
