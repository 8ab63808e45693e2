"""Edit a batch's local label (never sent to the API)."""

from __future__ import annotations

from typing import ClassVar

from batchtop.core.models import LABEL_MAX_CHARS
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..keys import LABEL_KEYS, bindings
from ..safe_text import clean


class LabelScreen(ModalScreen[str | None]):
    """Dismisses with the new label ("" clears it) or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(LABEL_KEYS)

    def __init__(self, batch_id: str, current: str | None) -> None:
        super().__init__(classes="dialog-screen")
        self._batch_id = batch_id
        self._current = current or ""
        # a label set elsewhere (the command line) may hold newlines or tabs: shown on one line
        self._shown = clean(self._current, keep_newlines=False)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"Label for {self._batch_id}"), classes="dialog-title")
            yield Input(
                self._shown,
                placeholder="a name only you see (empty clears)",
                max_length=LABEL_MAX_CHARS,  # core's limit, the command line's too
                id="label-input",
            )
            yield Static(Text("enter saves · esc cancels", style="dim"), classes="dialog-body")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value == self._shown:  # unchanged: nothing to save, the label stays as it was
            self.dismiss(None)
            return
        self.dismiss(clean(event.value, keep_newlines=False).strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
