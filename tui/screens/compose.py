"""Compose requests by hand: a form, a live JSON preview of the body, validation, cost.

The form builds batch requests (`{custom_id, params}`) for the service's provider: Message
Batches params, or (OpenAI) the body of the chosen endpoint — chat completions, responses or
embeddings — built by `BatchService.openai_body` as an import from text builds it. The
service's `compose_issues` checks them exactly as an import would and estimates the cost;
submit (behind a confirm) sends them as a one-part job. The screen dismisses with the
`SubmitOutcome`.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any, ClassVar

from batchtop.core.errors import BatchtopError
from batchtop.core.models import ImportIssue, SubmitOutcome, provider_name
from batchtop.tui.keys import COMPOSE_KEYS, bindings
from batchtop.tui.safe_text import clean
from batchtop.tui.screens.importer import OPENAI_ENDPOINTS
from batchtop.tui.screens.worker_errors import report_submit_failure, report_worker_error
from batchtop.tui.suggest import model_suggester
from batchtop.tui.widgets.key_footer import KeyFooter
from batchtop.tui.widgets.validation_report import estimate_text
from batchtop.tui.words import quantity
from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.reactive import var
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.timer import Timer
from textual.widgets import Button, Input, Select, Static, TextArea
from textual.worker import Worker

if TYPE_CHECKING:
    from batchtop.core.service import BatchService

PREVIEW_DEBOUNCE_S = 0.15


class RequestEditor(Vertical):
    """One request of the form: its custom_id and its user message."""

    DEFAULT_CSS = """
    RequestEditor {
        height: auto;
        margin-top: 1;
        border-left: thick $primary 40%;
        padding-left: 1;
        & > Horizontal { height: 1; }
        & Input { width: 1fr; background: $boost; }
        & TextArea { height: 4; background: $boost; }
        & .request-label { width: auto; color: $text-muted; padding-right: 1; }
        & Button { min-width: 5; width: 5; }
    }
    """

    def __init__(self, number: int, custom_id: str, message: str = "") -> None:
        super().__init__(classes="request-editor")
        self.number = number
        self._custom_id = custom_id
        self._message = message

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static(f"#{self.number} custom_id", classes="request-label")
            yield Input(self._custom_id, classes="request-id", compact=True)
            yield Button("✕", classes="request-remove", compact=True, tooltip="Remove")
        yield TextArea(
            self._message,
            classes="request-message",
            soft_wrap=True,
            show_line_numbers=False,
            compact=True,
            placeholder="user message…",
        )

    @property
    def custom_id(self) -> str:
        return self.query_one(".request-id", Input).value.strip()

    @property
    def message(self) -> str:
        return self.query_one(".request-message", TextArea).text


NARROW_BELOW = 110  # columns: the form's 72 and a readable preview beside it


class ComposeScreen(Screen[SubmitOutcome | None]):
    """Dismisses with the `SubmitOutcome` of the submitted requests, or None."""

    BINDING_GROUP_TITLE = "Compose"
    HELP_TITLE = "Compose"
    BINDINGS: ClassVar[list[BindingType]] = bindings(COMPOSE_KEYS)

    DEFAULT_CSS = """
    ComposeScreen {
        & #compose-title { height: 1; padding: 0 1; background: $primary-muted; text-style: bold; }
        & #compose-body { height: 1fr; }
        & #compose-form { width: 72; padding: 0 1; border-right: solid $primary 50%; }
        & #compose-form.narrow { width: 1fr; }
        & .compose-label { color: $text-muted; margin-top: 1; }
        & #compose-form > Input { width: 100%; background: $boost; }
        & #compose-system, & #compose-extra { height: 3; background: $boost; }
        & #compose-extra-error { color: $error; height: auto; }
        & #compose-requests { height: auto; }
        & #compose-buttons { height: auto; margin: 1 0; }
        & #compose-buttons Button { margin-right: 2; }
        & #compose-side { padding: 0 1; }
        & #compose-side.narrow { width: 30; }
        & .compose-heading { text-style: bold; color: $text-muted; margin-top: 1; }
    }
    """

    busy: var[bool] = var(False, init=False)
    """A submission runs: submit waits (its button is disabled)."""

    def __init__(self, service: BatchService, *, endpoint: str | None = None) -> None:
        """`service` is the provider's (an OpenAI service composes OpenAI requests);
        `endpoint`: the OpenAI endpoint first chosen (default the service's)."""
        super().__init__()
        self.service = service
        self.openai = service.provider == "openai"
        self.endpoint = endpoint or service.endpoint or OPENAI_ENDPOINTS[0]
        self.requests: list[dict[str, Any]] = []
        self.issues: list[ImportIssue] = []
        self.form_errors: list[str] = []
        self.outcome: SubmitOutcome | None = None
        self._timer: Timer | None = None
        self._next_number = 1

    # --- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        settings = self.service.settings
        yield Static(
            f"Compose a batch by hand for {provider_name(self.service.provider)}",
            id="compose-title",
            markup=False,
        )
        with Horizontal(id="compose-body"):
            with VerticalScroll(id="compose-form"):
                if self.openai:  # an OpenAI batch targets one endpoint
                    yield Static("Endpoint (OpenAI)", classes="compose-label")
                    yield Select(
                        [(e, e) for e in OPENAI_ENDPOINTS],
                        value=self.endpoint,
                        allow_blank=False,
                        id="compose-endpoint",
                        compact=True,
                    )
                yield Static("Model", classes="compose-label")
                yield Input(
                    placeholder=self.service.default_model(self.endpoint),
                    id="compose-model",
                    suggester=SuggestFromList([], case_sensitive=False),
                    compact=True,
                )
                yield Static(
                    "max output tokens (optional)" if self.openai else "max_tokens",
                    classes="compose-label",
                )
                yield Input(
                    placeholder="" if self.openai else str(settings.default_max_tokens),
                    id="compose-max-tokens",
                    type="integer",
                    compact=True,
                )
                yield Static("System prompt (optional)", classes="compose-label")
                yield TextArea(
                    "", id="compose-system", soft_wrap=True, show_line_numbers=False, compact=True
                )
                yield Static(
                    'Extra params as JSON (optional), e.g. {"temperature": 0.2}',
                    classes="compose-label",
                    markup=False,
                )
                yield TextArea(
                    "", id="compose-extra", soft_wrap=True, show_line_numbers=False, compact=True
                )
                yield Static("", id="compose-extra-error")
                yield Static(
                    "Requests — ctrl+n adds one, ctrl+t removes the focused one",
                    classes="compose-label",
                )
                with Vertical(id="compose-requests"):
                    yield self._new_editor()
                yield Static("Job name (optional)", classes="compose-label")
                yield Input(placeholder="composed", id="compose-name", compact=True)
                if not self.openai:  # Anthropic's header
                    yield Static("anthropic-beta (optional)", classes="compose-label")
                    yield Input(
                        placeholder=", ".join(self.service.settings.betas)
                        or "e.g. files-api-2025-04-14",
                        id="compose-betas",
                        compact=True,
                    )
                with Horizontal(id="compose-buttons"):
                    yield Button("Add request (ctrl+n)", id="compose-add", compact=True)
                    yield Button(
                        "Submit (ctrl+s)", id="compose-submit", variant="primary", compact=True
                    )
            with VerticalScroll(id="compose-side"):
                yield Static("Validation", classes="compose-heading")
                yield Static("", id="compose-issues")
                yield Static("Cost", classes="compose-heading")
                yield Static("", id="compose-cost")
                yield Static(self._preview_heading(), classes="compose-heading -preview")
                yield Static("", id="compose-preview")
        yield KeyFooter()

    def _preview_heading(self) -> str:
        if self.openai:
            return f"Input file lines (POST /v1/files, then /v1/batches for {self.endpoint})"
        return "Request body (POST /v1/messages/batches)"

    def _new_editor(self, message: str = "") -> RequestEditor:
        used = {e.custom_id for e in self.query(RequestEditor)}
        while f"request-{self._next_number}" in used:
            self._next_number += 1
        number = self._next_number
        self._next_number += 1
        return RequestEditor(number, f"request-{number}", message)

    def on_mount(self) -> None:
        self.query_one(".request-message", TextArea).focus()
        self.refresh_preview()
        self.load_models()

    def on_resize(self) -> None:
        """Below NARROW_BELOW columns the form takes what the preview's 30 leave (at 80,
        the form's fixed 72 left the preview 4 columns: 'Vali / dati / on')."""
        narrow = self.size.width < NARROW_BELOW
        for part in ("#compose-form", "#compose-side"):
            self.query_one(part).set_class(narrow, "narrow")

    @work(group="compose-models", exclusive=True, exit_on_error=False)
    async def load_models(self) -> None:
        if suggester := await model_suggester(self.service):
            self.query_one("#compose-model", Input).suggester = suggester

    # --- requests --------------------------------------------------------------------

    def action_add_request(self) -> None:
        editor = self._new_editor()
        self.query_one("#compose-requests").mount(editor)
        self.call_after_refresh(lambda: editor.query_one(".request-message", TextArea).focus())
        self._schedule()

    @on(Button.Pressed, "#compose-add")
    def _add_pressed(self) -> None:
        self.action_add_request()

    def action_remove_request(self) -> None:
        focused = self.focused
        editor = next(
            (
                a
                for a in (focused.ancestors_with_self if focused else [])
                if isinstance(a, RequestEditor)
            ),
            None,
        )
        if editor is None:
            self.notify("Focus a request to remove it.", severity="warning")
            return
        self._remove(editor)

    @on(Button.Pressed, ".request-remove")
    def _remove_pressed(self, event: Button.Pressed) -> None:
        editor = next(a for a in event.button.ancestors if isinstance(a, RequestEditor))
        self._remove(editor)

    def _remove(self, editor: RequestEditor) -> None:
        if len(self.query(RequestEditor)) <= 1:
            self.notify("A batch needs at least one request.", severity="warning")
            return
        editor.remove()
        self.call_after_refresh(self.refresh_preview)

    # --- building and checking -------------------------------------------------------

    def build(self) -> tuple[list[dict[str, Any]], list[str]]:
        """(requests, form errors) from the current form."""
        settings = self.service.settings
        errors: list[str] = []
        typed_model = self.query_one("#compose-model", Input).value.strip()
        model = typed_model or self.service.default_model(self.endpoint)
        raw_max = self.query_one("#compose-max-tokens", Input).value.strip()
        max_tokens: Any = None if self.openai else settings.default_max_tokens
        if raw_max:
            try:
                max_tokens = int(raw_max)
            except ValueError:
                errors.append("max_tokens must be a whole number.")
        system = self.query_one("#compose-system", TextArea).text.strip()
        extra: dict[str, Any] = {}
        raw_extra = self.query_one("#compose-extra", TextArea).text.strip()
        if raw_extra:
            try:
                value = json.loads(raw_extra)
            except ValueError as exc:
                errors.append(f"Extra params are not valid JSON: {exc}.")
            else:
                if isinstance(value, dict):
                    extra = value
                else:
                    errors.append("Extra params must be a JSON object ({...}).")
        requests: list[dict[str, Any]] = []
        for editor in self.query(RequestEditor):
            if self.openai:
                body = self.service.openai_body(
                    editor.message,
                    model=model,
                    max_tokens=max_tokens if isinstance(max_tokens, int) else None,
                    system=system,
                    endpoint=self.endpoint,
                )
                body.update(extra)
                requests.append({"custom_id": editor.custom_id, "params": body})
                continue
            params: dict[str, Any] = {"model": model, "max_tokens": max_tokens}
            if system:
                params["system"] = system
            params["messages"] = [{"role": "user", "content": editor.message}]
            params.update(extra)
            requests.append({"custom_id": editor.custom_id, "params": params})
        return requests, errors

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _changed(self) -> None:
        self._schedule()

    @on(Select.Changed, "#compose-endpoint")
    def _endpoint_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            self.endpoint = event.value
            model = self.query_one("#compose-model", Input)
            model.placeholder = self.service.default_model(self.endpoint)
            self.query_one(".compose-heading.-preview", Static).update(self._preview_heading())
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(PREVIEW_DEBOUNCE_S, self.refresh_preview)

    def refresh_preview(self) -> None:
        requests, errors = self.build()
        self.requests = requests
        self.form_errors = errors
        self.issues = self.service.compose_issues(
            requests, endpoint=self.endpoint if self.openai else None
        )
        self.query_one("#compose-extra-error", Static).update(
            Text("\n".join(errors), style="red") if errors else ""
        )
        if self.openai:  # the lines of the input file the batch is created from
            body = "\n".join(
                json.dumps(
                    {
                        "custom_id": r["custom_id"],
                        "method": "POST",
                        "url": self.endpoint,
                        "body": r["params"],
                    },
                    indent=2,
                    ensure_ascii=False,
                )
                for r in requests
            )
        else:
            body = json.dumps({"requests": requests}, indent=2, ensure_ascii=False)
        self.query_one("#compose-preview", Static).update(
            Syntax(clean(body), "json", word_wrap=True, theme="ansi_dark")
        )
        self.query_one("#compose-issues", Static).update(self._issues_renderable())
        try:
            estimate = self.service.estimate(requests, endpoint=self.endpoint)
        except (BatchtopError, ValueError, TypeError):
            estimate = None
        self.query_one("#compose-cost", Static).update(estimate_text(estimate))
        self.query_one("#compose-submit", Button).disabled = not self.can_submit

    def _issues_renderable(self) -> RenderableType:
        if not self.form_errors and not any(e.message.strip() for e in self.query(RequestEditor)):
            # nothing typed yet: no error for an empty form (it cannot be submitted anyway)
            return Text("Problems are listed here as you type.", style="dim")
        lines: list[Text] = []
        for message in self.form_errors:
            lines.append(Text(clean(message), style="red"))
        for issue in self.issues:
            style = "red" if issue.severity == "error" else "yellow"
            line = Text(f"{issue.severity:<8}", style=f"bold {style}")
            line.append(f"request {issue.line}")
            if issue.field:
                line.append(f" ({clean(issue.field, keep_newlines=False)})", style="dim")
            line.append("  ")
            line.append(clean(issue.message, keep_newlines=False), style=style)
            lines.append(line)
        if not lines:
            return Text(
                f"{quantity(len(self.requests), 'request')}, no problems found.", style="green"
            )
        return Group(*lines)

    def watch_busy(self) -> None:
        self.query_one("#compose-submit", Button).disabled = not self.can_submit

    @property
    def can_submit(self) -> bool:
        has_errors = self.form_errors or any(i.severity == "error" for i in self.issues)
        return bool(self.requests) and not has_errors and not self.busy

    # --- submit ----------------------------------------------------------------------

    @on(Button.Pressed, "#compose-submit")
    def action_submit(self) -> None:
        if self.busy:
            return
        self.refresh_preview()
        if not self.can_submit:
            self.notify("Fix the problems listed under Validation first.", severity="warning")
            return
        self.run_submit(list(self.requests))

    @work(group="compose-submit", exclusive=True, exit_on_error=False)
    async def run_submit(self, requests: list[dict[str, Any]]) -> None:
        from batchtop.tui.screens.confirm import ConfirmScreen

        body = Text(f"Send {quantity(len(requests), 'request')} as a new batch?\n\n", end="")
        with contextlib.suppress(BatchtopError, ValueError, TypeError):
            estimate = self.service.estimate(requests, endpoint=self.endpoint)
            body.append_text(estimate_text(estimate))
        if not await self.app.push_screen_wait(
            ConfirmScreen("Submit batch", body, yes="Submit", danger=False)
        ):
            return
        name = self.query_one("#compose-name", Input).value.strip() or None
        betas: list[str] = []
        if not self.openai:
            typed = self.query_one("#compose-betas", Input).value
            betas = [b.strip() for b in typed.split(",") if b.strip()]
        self.busy = True
        try:
            outcome = await self.service.submit_requests(
                requests,
                name=name,
                betas=betas,
                endpoint=self.endpoint if self.openai else None,
            )
        except BatchtopError as exc:
            self.busy = False
            report_submit_failure(self, exc)
            return
        self.busy = False
        self.outcome = outcome
        if outcome.batch_ids:
            self.notify(escape(", ".join(clean(b) for b in outcome.batch_ids)), title="Submitted")
        for err in outcome.errors:
            self.notify(escape(clean(err)), title="Submit", severity="error")
        self.dismiss(outcome)

    def action_back(self) -> None:
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if report_worker_error(self, event) and self.busy:
            self.busy = False
