"""Retrying failed requests, from the dashboard or the results viewer: one flow, one dialog.

Core decides what a retry resends (`core/retry.py`); this asks with the exact number, offers
the requests that would fail the same way again, the refusals and the max_tokens cuts (with a
new max_tokens) as explicit opt-ins, asks core again for the plan of the options chosen, sends
with those options, and says how many requests went out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
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
from textual.widgets import Button, Checkbox, Input, Static

from ..format import short_id
from ..keys import RETRY_KEYS, bindings
from ..safe_text import clean, safe_text
from ..words import left_out_words, not_raised_words, quantity, resend_words, unknown_words

if TYPE_CHECKING:
    from batchtop.core.service import BatchService


@dataclass(frozen=True, slots=True)
class RetryChoice:
    """What the user chose to resend besides what a resend can fix."""

    include_invalid: bool = False
    refusals: bool = False
    max_tokens: int | None = None  # set: the max_tokens cuts are resent with this


Replan = Callable[[RetryChoice], Awaitable[RetryPlan]]


class RetryScreen(ModalScreen[RetryChoice | None]):
    """Asks before a retry. Dismisses with None (no) or the options chosen: the requests that
    would fail the same way again (i), the refusals (r), the max_tokens cuts with a new
    max_tokens (m) — all off by default. Each change asks core for the plan again (`replan`),
    so the number announced is the number the options send."""

    DEFAULT_CSS = """
    /* the max_tokens cuts' checkbox and its new max_tokens on one line */
    RetryScreen #retry-cuts-row {
        height: auto;
    }
    RetryScreen #retry-budget-label {
        width: auto;
        margin: 0 1 0 4;
    }
    RetryScreen #retry-max-tokens {
        width: 20;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = bindings(RETRY_KEYS)

    def __init__(self, plan: RetryPlan, name: str, replan: Replan | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.base = self.plan = plan
        self._batch_name = name
        self._replan = replan
        self._problem: str | None = None
        self._pending = False

    def compose(self) -> ComposeResult:
        base = self.base
        with Vertical(classes="dialog"):
            yield Static(Text("Retry failed requests"), classes="dialog-title")
            yield Static(id="retry-question", classes="dialog-body")
            if base.left_out:
                yield Checkbox(
                    f"Also resend the {left_out_words(base)} (i)",
                    value=False,
                    id="retry-include",
                )
            if refused := base.stops_seen.get("refusal"):
                yield Checkbox(
                    f"Also resend the {quantity(refused, 'refusal')} (r)",
                    value=False,
                    id="retry-refusals",
                )
            if cuts := base.stops_seen.get("max_tokens"):
                field = base.budget_field  # the batch's endpoint's name for it
                yield Checkbox(
                    f"Also resend the {quantity(cuts, f'{field} cut')} (m)",
                    value=False,
                    id="retry-cuts",
                )
                # the new budget on a line of its own: beside a long label (OpenAI's field
                # names) it was squeezed to a few columns and the number could not be seen
                with Horizontal(id="retry-cuts-row"):
                    yield Static(f"with {field}", id="retry-budget-label")
                    yield Input(
                        placeholder="higher than theirs",
                        type="integer",
                        id="retry-max-tokens",
                        compact=True,
                    )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Retry", id="yes", variant="primary")
                yield Button("No", id="no")

    def on_mount(self) -> None:
        self._update()
        self.query_one("#no", Button).focus()

    def _checked(self, selector: str) -> bool:
        return any(box.value for box in self.query(selector).results(Checkbox))

    @property
    def include(self) -> bool:
        return self._checked("#retry-include")

    def choice(self) -> RetryChoice | None:
        """The options as chosen, or None while the new max_tokens is not a number."""
        max_tokens: int | None = None
        if self._checked("#retry-cuts"):
            text = self.query_one("#retry-max-tokens", Input).value.strip()
            if not text.isdigit():
                return None
            max_tokens = int(text)
        return RetryChoice(self.include, self._checked("#retry-refusals"), max_tokens)

    def count(self) -> int:
        """The number the dialog announces: what pressing Retry sends."""
        if self._pending or self._problem is not None:
            return 0
        return self.plan.resend

    def _update(self) -> None:
        plan = self.plan
        body = Text()
        if self._pending:
            body.append("Counting…")
        elif self._problem is not None:
            body.append(self._problem, style="red")
        elif self.count():
            body.append(f"Resend {resend_words(plan)} of ")
            body.append_text(safe_text(self._batch_name, "bold", one_line=True))
            body.append(" as a new batch?")
        else:  # core's one sentence, as the CLI says it
            body.append_text(safe_text(plan.nothing_to_retry(self._batch_name), one_line=True))
        if not self._pending and self._problem is None:
            left_out = left_out_words(plan)
            if left_out and not plan.include_invalid and self.count():
                body.append(f"\n\nLeft out: {left_out}.", style="yellow")
            for words in (unknown_words(plan), not_raised_words(plan)):
                if words:
                    body.append(f"\n\n{words[0].upper()}{words[1:]}.", style="yellow")
        self.query_one("#retry-question", Static).update(body)
        self.query_one("#yes", Button).disabled = not self.count()

    @on(Checkbox.Changed)
    @on(Input.Changed, "#retry-max-tokens")
    def _options_changed(self, event: Checkbox.Changed | Input.Changed) -> None:
        event.stop()
        if isinstance(event, Checkbox.Changed) and event.checkbox.id == "retry-cuts":
            field = self.query_one("#retry-max-tokens", Input)
            if event.value and not field.value:
                field.focus()
        choice = self.choice()
        if choice is None:
            self._problem = f"Type the new {self.base.budget_field} for the cuts (a whole number)."
            self._update()
            return
        if self._replan is None:
            return
        self._problem = None
        self._pending = True
        self._update()
        self.run_worker(self._plan_for(choice), exclusive=True, group="retry-plan")

    async def _plan_for(self, choice: RetryChoice) -> None:
        assert self._replan is not None
        try:
            plan = await self._replan(choice)
        except Exception as exc:
            text = str(exc) if isinstance(exc, BatchtopError) else f"{type(exc).__name__}: {exc}"
            self._problem = clean(text)
        else:
            if choice != self.choice():  # changed again meanwhile: that plan counts
                return
            self.plan = plan
            self._problem = None
        self._pending = False
        self._update()

    def action_toggle_box(self, selector: str) -> None:
        for box in self.query(selector).results(Checkbox):
            box.toggle()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        if yes and not self.count():
            return
        self.dismiss(self.choice() if yes else None)


async def retry_flow(
    screen: Screen[Any], service: BatchService, batch_ids: Sequence[str], name: str
) -> list[str]:
    """Ask, retry, report; returns the ids of the batches created. Run it in a worker."""

    def error(exc: Exception) -> None:
        text = str(exc) if isinstance(exc, BatchtopError) else f"{type(exc).__name__}: {exc}"
        screen.notify(escape(clean(text)), title="Retry failed", severity="error")

    async def replan(choice: RetryChoice) -> RetryPlan:
        return await service.retry_plan(
            batch_ids,
            include_invalid=choice.include_invalid,
            refusals=choice.refusals,
            max_tokens=choice.max_tokens,
        )

    try:
        # refusals asked for: the results are read even when nothing failed, so the dialog
        # can offer the refusals and the max_tokens cuts it finds (`stops_seen`)
        survey = await service.retry_plan(batch_ids, refusals=True)
        plan = replace(
            await replan(RetryChoice()),
            stops_seen=survey.stops_seen,
            budget_field=survey.budget_field,  # the field its cuts name (survey read them)
        )
    except Exception as exc:
        error(exc)
        return []
    if not plan.resend and not plan.left_out and not plan.stops_seen:
        reason = unknown_words(plan) or "no failed requests, refusals or max_tokens cuts"
        screen.notify(escape(f"Nothing to retry in {clean(name)}: {reason}."), title="Retry")
        return []
    choice = await screen.app.push_screen_wait(RetryScreen(plan, name, replan))
    if choice is None:
        return []
    try:  # what is sent is decided again, with the options chosen
        plan = await replan(choice)
    except Exception as exc:
        error(exc)
        return []
    created: list[str] = []
    sent = 0
    for batch_id in plan.batch_ids:
        try:
            outcome = await service.retry_failed(
                batch_id,
                include_invalid=choice.include_invalid,
                refusals=choice.refusals,
                max_tokens=choice.max_tokens,
            )
        except Exception as exc:
            error(exc)
            break
        created.extend(outcome.submitted.batch_ids)
        sent += outcome.sent
        for err in outcome.submitted.errors:
            screen.notify(escape(clean(err)), title="Retry", severity="error")
    if created:
        ids = ", ".join(short_id(i, service.provider) for i in created)
        text = f"Resent {quantity(sent, 'request')} as {ids}."
        left_out = left_out_words(plan)
        if left_out and not choice.include_invalid:
            text += f" Left out: {left_out}."
        screen.notify(escape(text), title="Retry submitted")
    return created
