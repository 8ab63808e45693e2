"""Import a file as a batch job: pick, analyse (validate, split, estimate), then submit.

Analysis runs in the core (a thread) and never sends anything; submit is only possible for a
report with no errors that still matches the form, and only after a confirm that shows the
cost. The screen dismisses with the `SubmitOutcome`, so the dashboard can show the new
batches at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from batchtop.core.errors import BatchtopError
from batchtop.core.models import (
    ImportFormat,
    ImportOptions,
    ImportReport,
    SubmitOutcome,
    SubmitProgress,
    provider_name,
)
from batchtop.tui.format import reading_seconds
from batchtop.tui.keys import IMPORT_KEYS, bindings
from batchtop.tui.safe_text import clean, safe_text
from batchtop.tui.screens.worker_errors import report_submit_failure, report_worker_error
from batchtop.tui.suggest import model_suggester
from batchtop.tui.widgets.key_footer import KeyFooter
from batchtop.tui.widgets.path_input import PathInput
from batchtop.tui.widgets.validation_report import (
    estimate_text,
    issues_text,
    preview_renderable,
    summary_renderable,
)
from batchtop.tui.words import quantity
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import (
    Button,
    DirectoryTree,
    Input,
    ProgressBar,
    Select,
    Static,
    TextArea,
)
from textual.worker import Worker

if TYPE_CHECKING:
    from batchtop.core.service import BatchService

FORMATS: list[tuple[str, str]] = [
    ("auto-detect", "auto"),
    ("JSONL — native batch requests", "jsonl"),
    ("JSON — list of records + template", "json"),
    ("records JSONL + template", "records-jsonl"),
    ("CSV + template", "csv"),
    ("text — one prompt per line", "txt"),
]


class AnalyseProgress(Message):
    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done = done
        self.total = total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, AnalyseProgress)


# OpenAI's batch endpoints (the import form offers them in an OpenAI session).
OPENAI_ENDPOINTS = ("/v1/chat/completions", "/v1/responses", "/v1/embeddings")


class ImportScreen(Screen[SubmitOutcome | None]):
    """Dismisses with the `SubmitOutcome` of the submitted job, or None."""

    BINDING_GROUP_TITLE = "Import"
    HELP_TITLE = "Import"
    BINDINGS: ClassVar[list[BindingType]] = bindings(IMPORT_KEYS)

    DEFAULT_CSS = """
    ImportScreen {
        & #import-title { height: 1; padding: 0 1; background: $primary-muted; text-style: bold; }
        & #import-body { height: 1fr; }
        & #import-form { width: 60; padding: 0 1; border-right: solid $primary 50%; }
        & #import-form Input { width: 100%; background: $boost; }
        & #import-form Select { width: 100%; }
        & .import-label { color: $text-muted; margin-top: 1; }
        & #import-template { height: 4; background: $boost; }
        & #import-tree { height: 12; display: none; }
        & #import-tree.-active { display: block; }
        & #import-field-error { color: $error; height: auto; }
        & #import-buttons { height: auto; margin-top: 1; }
        & #import-buttons Button { margin-right: 2; }
        & #import-progress { margin-top: 1; display: none; }
        & #import-progress.-active { display: block; }
        & #import-report { padding: 0 1; }
        & .import-heading { text-style: bold; margin-top: 1; color: $text-muted; }
        & #import-stale { color: $warning; height: auto; }
    }
    """

    busy: var[bool] = var(False, init=False)
    """An analysis or a submission runs: the progress bar shows, analyse and submit wait."""

    def __init__(self, service: BatchService) -> None:
        super().__init__()
        self.service = service
        self.report: ImportReport | None = None
        self.outcome: SubmitOutcome | None = None
        self._analysed_options: tuple[str, ImportOptions] | None = None

    # --- layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        settings = self.service.settings
        yield Static(
            f"Import a file as a batch job for {provider_name(self.service.provider)}",
            id="import-title",
            markup=False,
        )
        with Horizontal(id="import-body"):
            with VerticalScroll(id="import-form"):
                yield Static("File (tab completes · ctrl+o browse)", classes="import-label")
                yield PathInput(
                    placeholder="path/to/requests.jsonl", id="import-path", compact=True
                )
                yield Static("Format", classes="import-label")
                yield Select(
                    FORMATS, value="auto", allow_blank=False, id="import-format", compact=True
                )
                yield Static(
                    "Template — {field} placeholders (json, records, csv, txt)",
                    classes="import-label",
                )
                yield TextArea(
                    "", id="import-template", soft_wrap=True, show_line_numbers=False, compact=True
                )
                openai = self.service.provider == "openai"
                if openai:  # OpenAI batches target one endpoint each
                    yield Static("Endpoint (OpenAI)", classes="import-label")
                    yield Select(
                        [(e, e) for e in OPENAI_ENDPOINTS],
                        value=self.service.endpoint or OPENAI_ENDPOINTS[0],
                        allow_blank=False,
                        id="import-endpoint",
                        compact=True,
                    )
                yield Static("Model", classes="import-label")
                yield Input(
                    placeholder=self.service.default_model(),
                    id="import-model",
                    compact=True,
                    suggester=SuggestFromList([], case_sensitive=False),
                )
                yield Static("max_tokens", classes="import-label")
                yield Input(
                    placeholder=str(settings.default_max_tokens),
                    type="integer",
                    id="import-max-tokens",
                    compact=True,
                )
                yield Static("System prompt (optional)", classes="import-label")
                yield Input(placeholder="for every request", id="import-system", compact=True)
                yield Static("custom_id from field (optional)", classes="import-label")
                yield Input(
                    placeholder=f"e.g. id — otherwise {self.service.numbered_id()}, …",
                    id="import-id-field",
                    compact=True,
                )
                yield Static("Job name (optional)", classes="import-label")
                yield Input(placeholder="defaults to the file name", id="import-name", compact=True)
                if not openai:  # Anthropic's header: sent on this job's creates, recorded
                    yield Static("anthropic-beta (optional)", classes="import-label")
                    yield Input(
                        placeholder=", ".join(settings.betas) or "e.g. files-api-2025-04-14",
                        id="import-betas",
                        compact=True,
                    )
                yield Static("", id="import-field-error")
                with Horizontal(id="import-buttons"):
                    yield Button(
                        "Analyse (ctrl+r)", id="import-analyse", variant="primary", compact=True
                    )
                    yield Button("Submit (ctrl+s)", id="import-submit", disabled=True, compact=True)
                    yield Button(
                        "Submit valid",
                        id="import-submit-valid",
                        disabled=True,
                        compact=True,
                    )
                yield ProgressBar(total=None, show_eta=False, id="import-progress")
            with VerticalScroll(id="import-report"):
                yield Static(
                    Text(
                        "Choose a file and press ctrl+r: the file is read, every request is"
                        " validated and the cost estimated. Nothing is sent until you submit.",
                        style="dim",
                    ),
                    id="import-summary",
                )
                yield Static("", id="import-stale")
                yield Static("Validation", classes="import-heading")
                yield Static("", id="import-issues")
                yield Static("Preview (first rendered requests)", classes="import-heading")
                yield Static("", id="import-preview")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#import-path", PathInput).focus()
        self.load_models()

    @work(group="import-models", exclusive=True, exit_on_error=False)
    async def load_models(self) -> None:
        if suggester := await model_suggester(self.service):
            self.query_one("#import-model", Input).suggester = suggester

    # --- form ------------------------------------------------------------------------

    def action_toggle_browser(self) -> None:
        trees = self.query("#import-tree").results(DirectoryTree)
        tree = next(trees, None)
        if tree is None:  # built on first use: it reads the disk
            current = self.query_one("#import-path", PathInput).path
            root = Path.cwd()
            if current is not None and current.parent.is_dir():
                root = current.parent
            tree = DirectoryTree(root, id="import-tree")
            self.query_one("#import-form").mount(tree, after="#import-path")
        tree.toggle_class("-active")
        if tree.has_class("-active"):
            tree.focus()
        else:
            self.query_one("#import-path").focus()

    @on(DirectoryTree.FileSelected, "#import-tree")
    def _file_chosen(self, event: DirectoryTree.FileSelected) -> None:
        path_input = self.query_one("#import-path", PathInput)
        path_input.value = str(event.path)
        self.query_one("#import-tree", DirectoryTree).remove_class("-active")
        path_input.focus()

    def options(self) -> ImportOptions | None:
        """The form as `ImportOptions`, or None (with an inline message) when invalid."""
        error = self.query_one("#import-field-error", Static)
        error.update("")
        fmt = self.query_one("#import-format", Select).value
        template = self.query_one("#import-template", TextArea).text.strip()
        model = self.query_one("#import-model", Input).value.strip()
        raw_max = self.query_one("#import-max-tokens", Input).value.strip()
        max_tokens: int | None = None
        if raw_max:
            try:
                max_tokens = int(raw_max)
            except ValueError:
                max_tokens = 0
            if max_tokens < 1:
                error.update(Text("max_tokens must be a positive whole number.", style="red"))
                return None
        file_format: ImportFormat | None = None
        if isinstance(fmt, str) and fmt != "auto":
            file_format = fmt  # type: ignore[assignment]
        system = self.query_one("#import-system", Input).value.strip()
        id_field = self.query_one("#import-id-field", Input).value.strip()
        endpoint: str | None = None
        for chosen in self.query("#import-endpoint").results(Select):
            endpoint = str(chosen.value)
        return ImportOptions(
            endpoint=endpoint,
            format=file_format,
            template=template or None,
            model=model or None,
            max_tokens=max_tokens,
            system=system or None,
            id_field=id_field or None,
        )

    def _form_key(self) -> tuple[str, ImportOptions] | None:
        path = self.query_one("#import-path", PathInput).value.strip()
        options = self.options()
        return None if options is None else (path, options)

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    def _form_changed(self) -> None:
        self._update_submit()

    def _update_submit(self) -> None:
        report = self.report
        stale = False
        if report is not None and self._analysed_options is not None:
            path = self.query_one("#import-path", PathInput).value.strip()
            stale = path != self._analysed_options[0]
            if not stale:
                opts = self.options()
                stale = opts is not None and opts != self._analysed_options[1]
        self.query_one("#import-stale", Static).update(
            Text("The form changed since this analysis: press ctrl+r to analyse again.")
            if stale
            else ""
        )
        ok = report is not None and report.ok and not stale and not self.busy
        self.query_one("#import-submit", Button).disabled = not ok
        valid_only = self.query_one("#import-submit-valid", Button)
        partial = (
            report is not None
            and bool(report.errors)
            and report.can_submit_valid
            and not stale
            and not self.busy
        )
        valid_only.disabled = not partial
        valid_only.display = report is not None and bool(report.errors) and report.can_submit_valid
        if report is not None and report.can_submit_valid:
            valid_only.label = f"Submit {report.request_count:,} valid"  # ctrl+b, in the footer

    @property
    def can_submit(self) -> bool:
        return not self.query_one("#import-submit", Button).disabled

    # --- analyse ---------------------------------------------------------------------

    @on(Button.Pressed, "#import-analyse")
    def action_analyse(self) -> None:
        if self.busy:
            return
        key = self._form_key()
        if key is None:
            return
        path, options = key
        if not path:
            self.query_one("#import-field-error", Static).update(
                Text("Choose a file first.", style="red")
            )
            return
        self.run_analyse(Path(path).expanduser(), options, key)

    @work(group="import-analyse", exclusive=True, exit_on_error=False)
    async def run_analyse(
        self, path: Path, options: ImportOptions, key: tuple[str, ImportOptions]
    ) -> None:
        self._start_busy(None)
        try:
            report = await self.service.analyse(path, options, progress=self._on_progress)
        except BatchtopError as exc:
            self.busy = False
            self.query_one("#import-summary", Static).update(
                safe_text(f"Could not analyse the file: {exc}", "red")
            )
            return
        self.busy = False
        self.report = report
        self._analysed_options = key
        self.show_report(report)

    def action_count_tokens(self) -> None:
        report = self.report
        if self.busy:
            return
        if report is None or report.estimate is None or not report.request_count:
            self.notify("Analyse a file first: its requests are what is measured.")
            return
        self.run_count(report)

    @work(group="import-count", exclusive=True, exit_on_error=False)
    async def run_count(self, report: ImportReport) -> None:
        """count_tokens on a sample (progress on the bar; esc stops it, the estimate as was)."""
        self._start_busy(None)
        try:
            await self.service.measure_input_tokens(report, progress=self._on_progress)
        except BatchtopError as exc:
            self.notify(
                escape(clean(f"count_tokens failed, input tokens stay estimated: {exc}")),
                severity="warning",
            )
        finally:
            self.busy = False
        if report is self.report:
            self.show_report(report)

    def _on_progress(self, done: int, total: int) -> None:
        self.post_message(AnalyseProgress(done, total))  # from the analysis thread

    def on_analyse_progress(self, message: AnalyseProgress) -> None:
        self.query_one("#import-progress", ProgressBar).update(
            total=message.total or None, progress=message.done
        )

    def _start_busy(self, total: float | None) -> None:
        self.query_one("#import-progress", ProgressBar).update(total=total, progress=0)
        self.busy = True

    def watch_busy(self, busy: bool) -> None:
        self.query_one("#import-progress", ProgressBar).set_class(busy, "-active")
        self.query_one("#import-analyse", Button).disabled = busy
        self._update_submit()

    def show_report(self, report: ImportReport) -> None:
        self.query_one("#import-summary", Static).update(summary_renderable(report))
        self.query_one("#import-issues", Static).update(issues_text(report.issues))
        self.query_one("#import-preview", Static).update(preview_renderable(report))
        self._update_submit()

    # --- submit ----------------------------------------------------------------------

    @on(Button.Pressed, "#import-submit")
    def action_submit(self) -> None:
        if self.busy:
            return
        self._update_submit()
        report = self.report
        if report is None:
            self.notify("Analyse the file first (ctrl+r).", severity="warning")
            return
        if not self.can_submit:
            self.notify("Fix the errors (or analyse again) before submitting.", severity="warning")
            return
        self.run_submit(report)

    @on(Button.Pressed, "#import-submit-valid")
    def action_submit_valid(self) -> None:
        """Submit the valid requests of an import with errors, after saying what is left out."""
        if self.busy:
            return
        self._update_submit()
        report = self.report
        if report is None or self.query_one("#import-submit-valid", Button).disabled:
            self.notify(
                "Nothing to submit this way: analyse a file whose errors are in single requests.",
                severity="warning",
            )
            return
        self.run_submit(report, skip_invalid=True)

    @work(group="import-submit", exclusive=True, exit_on_error=False)
    async def run_submit(self, report: ImportReport, skip_invalid: bool = False) -> None:
        from batchtop.tui.screens.confirm import ConfirmScreen

        parts = len(report.parts)
        body = Text(
            f"Send {quantity(report.request_count, 'request')} from "
            f"{clean(Path(report.path).name, keep_newlines=False)} as "
            f"{quantity(parts, 'batch', 'batches')}?\n\n",
            end="",
        )
        if skip_invalid:
            body.append(report.valid_only_summary + "\n\n", style="yellow")
        body.append_text(estimate_text(report.estimate))
        if not await self.app.push_screen_wait(
            ConfirmScreen("Submit batch job", body, yes="Submit", danger=False)
        ):
            return
        name = self.query_one("#import-name", Input).value.strip() or None
        betas = [
            b.strip()
            for box in self.query("#import-betas").results(Input)
            for b in box.value.split(",")
            if b.strip()
        ]
        self._start_busy(float(max(parts, 1)))
        try:
            outcome = await self.service.submit(
                report,
                name=name,
                progress=self._on_submit,
                skip_invalid=skip_invalid,
                betas=betas,
            )
        except BatchtopError as exc:
            self.busy = False
            report_submit_failure(self, exc)
            return
        self.busy = False
        self.outcome = outcome
        ids = ", ".join(clean(b) for b in outcome.batch_ids)
        not_sent = {*outcome.failed_parts, *outcome.unresolved_parts}
        if not_sent:  # failed, or unresolved (its batch may still appear: not sent twice)
            said = clean("; ".join(outcome.errors))
            self.notify(
                escape(said),
                title=f"{quantity(len(not_sent), 'part')} not submitted",
                severity="error",
                timeout=max(15.0, reading_seconds(said)),
            )
        if outcome.batch_ids:
            self.notify(
                escape(ids),
                title=f"Submitted {quantity(len(outcome.batch_ids), 'batch', 'batches')}",
            )
        self.dismiss(outcome)

    def _on_submit(self, progress: SubmitProgress) -> None:
        bar = self.query_one("#import-progress", ProgressBar)
        done = progress.part if progress.batch_id else progress.part - 1
        bar.update(total=progress.parts, progress=done)

    def action_back(self) -> None:
        counting = [w for w in self.workers if w.group == "import-count" and w.is_running]
        if counting:  # esc stops the count and stays
            self.workers.cancel_group(self, "import-count")
            self.busy = False
            self.notify("Token count stopped: the input tokens stay estimated.")
            return
        tree = next(self.query("#import-tree").results(), None)
        if tree is not None and tree.has_class("-active"):
            self.action_toggle_browser()
            return
        self.workers.cancel_group(self, "import-analyse")
        self.dismiss(None)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if report_worker_error(self, event) and self.busy:
            self.busy = False
