"""Retrying failed requests, from the dashboard or the results viewer: one flow, one dialog.

Core decides what a retry resends (`core/retry.py`); this asks with the exact number, offers
the requests that would fail the same way again as an explicit opt-in, sends, and says how
many requests went out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from batchtop.core.errors import BatchtopError
from batchtop.core.models import RetryPlan
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Checkbox, Static

from ..format import short_id
from ..keys import RETRY_KEYS, bindings
from ..safe_text import clean, safe_text
from ..words import left_out_words, quantity, resend_words, unknown_words

if TYPE_CHECKING:
    from batchtop.core.service import BatchService


class RetryScreen(ModalScreen[bool | None]):
    """Asks before a retry. Dismisses with None (no) or whether to include the requests that
    would fail the same way again (the checkbox, off by default)."""

    BINDINGS: ClassVar[list[BindingType]] = bindings(RETRY_KEYS)

    def __init__(self, plan: RetryPlan, name: str) -> None:
        super().__init__(classes="dialog-screen")
        self.plan = plan
        self._batch_name = name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Retry failed requests"), classes="dialog-title")
            yield Static(id="retry-question", classes="dialog-body")
            if self.plan.left_out:
                yield Checkbox(
                    f"Also resend the {left_out_words(self.plan)} (i)",
                    value=False,
                    id="retry-include",
                )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Retry", id="yes", variant="primary")
                yield Button("No", id="no")

    def on_mount(self) -> None:
        self._update()
        self.query_one("#no", Button).focus()

    @property
    def include(self) -> bool:
        boxes = self.query("#retry-include").results(Checkbox)
        return any(box.value for box in boxes)

    def count(self) -> int:
        """The number the dialog announces: what pressing Retry sends."""
        return self.plan.resend + (self.plan.left_out_total if self.include else 0)

    def _update(self) -> None:
        plan = self.plan
        body = Text()
        if self.count():
            what = resend_words(plan) if not self.include else quantity(self.count(), "request")
            body.append(f"Resend {what} of ")
            body.append_text(safe_text(self._batch_name, "bold", one_line=True))
            body.append(" as a new batch?")
        else:
            body.append("None of the failed requests of ")
            body.append_text(safe_text(self._batch_name, "bold", one_line=True))
            body.append(" can succeed on a resend.")
        left_out = left_out_words(plan)
        if left_out and not self.include:
            body.append(f"\n\nLeft out: {left_out}.", style="yellow")
        unknown = unknown_words(plan)
        if unknown:
            body.append(f"\n\n{unknown[0].upper()}{unknown[1:]}.", style="yellow")
        self.query_one("#retry-question", Static).update(body)
        self.query_one("#yes", Button).disabled = not self.count()

    @on(Checkbox.Changed, "#retry-include")
    def _include_changed(self) -> None:
        self._update()

    def action_toggle_include(self) -> None:
        for box in self.query("#retry-include").results(Checkbox):
            box.toggle()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        if yes and not self.count():
            return
        self.dismiss(self.include if yes else None)


async def retry_flow(
    screen: Screen[Any], service: BatchService, batch_ids: Sequence[str], name: str
) -> list[str]:
    """Ask, retry, report; returns the ids of the batches created. Run it in a worker."""

    def error(exc: Exception) -> None:
        text = str(exc) if isinstance(exc, BatchtopError) else f"{type(exc).__name__}: {exc}"
        screen.notify(escape(clean(text)), title="Retry failed", severity="error")

    try:
        plan = await service.retry_plan(batch_ids)
    except Exception as exc:
        error(exc)
        return []
    if not plan.resend and not plan.left_out:
        reason = unknown_words(plan) or "no failed requests"
        screen.notify(escape(f"Nothing to retry in {clean(name)}: {reason}."), title="Retry")
        return []
    include = await screen.app.push_screen_wait(RetryScreen(plan, name))
    if include is None:
        return []
    if include:  # what is sent is decided again, with the requests that were left out
        try:
            plan = await service.retry_plan(batch_ids, include_invalid=True)
        except Exception as exc:
            error(exc)
            return []
    created: list[str] = []
    sent = 0
    for batch_id in plan.batch_ids:
        try:
            outcome = await service.retry_failed(batch_id, include_invalid=include)
        except Exception as exc:
            error(exc)
            break
        created.extend(outcome.submitted.batch_ids)
        sent += outcome.sent
        for err in outcome.submitted.errors:
            screen.notify(escape(clean(err)), title="Retry", severity="error")
    if created:
        ids = ", ".join(short_id(i) for i in created)
        text = f"Resent {quantity(sent, 'request')} as {ids}."
        left_out = left_out_words(plan)
        if left_out:
            text += f" Left out: {left_out}."
        screen.notify(escape(text), title="Retry submitted")
    return created
